"""One self-play step of the CPU demo (or a variant) through the real trainer, with its phase breakdown.

    python benchmarks/step.py                                   # cpu-demo, one step
    python benchmarks/step.py --config debug                    # tiny random model
    python benchmarks/step.py selfplay.batch_size=2 rollout.max_new_tokens=64
    python benchmarks/step.py --compare                         # today's default vs the pre-LoRA cpu-demo

Model loading and start-up are excluded (reported separately). The last line is exactly
`step: total=<s>s generate=<s>s executor=<s>s update=<s>s other=<s>s overhead=<(executor+other)/total>`.

`--compare` runs the same step twice, side by side in one invocation, each in its own process (so memory is
freed and peak RSS is measured per variant): `before` = the cpu-demo as it was before issue #10 (`BEFORE`: full
fine-tuning in bf16 with fp32 master weights, the unfused log-prob path), `after` = the preset as it is. Both
start from the same buffers (seeded once by the `after` preset, or a run's `--buffers DIR`), loaded as seed files,
with the same seed, so they see the same references and tasks. `--repeats N` alternates the variants N times. Its last line is
exactly `step: before=<s> after=<s> ratio=<after/before>` (mean step wall seconds).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BEFORE = (
    "model.lora=false",
    "optim.lr=5e-6",
    "optim.logprob_chunk=0",
    "optim.micro_batch_size=2",
    "selfplay.prompt_rules=full",
)
"""The cpu-demo's values before issue #10 for every key the issue changed (B, n, K, N, max_new_tokens stay)."""
PHASES = ("generate", "executor", "update", "other")


def one_step(config: str, overrides: list[str], run_dir: Path | None) -> dict:
    """Train one step into `run_dir` (fresh or holding only `buffers/`); returns the step's metrics and wall time."""
    from rich.console import Console

    from azr.config import load_config, resolve_preset
    from azr.trainer import train

    cfg = load_config(resolve_preset(config), [*overrides, "trainer.steps=1", "trainer.eval_every=0"])
    with tempfile.TemporaryDirectory(prefix="azr-bench-") as tmp:
        t0 = time.perf_counter()
        result = train(cfg, run_dir or Path(tmp) / "run", console=Console(stderr=True))
        wall = time.perf_counter() - t0
    return {"metrics": result.last, "wall": wall, "spec": cfg.model.spec, "dtype": cfg.model.dtype,
            "lora": cfg.model.lora}  # fmt: skip


def print_step(config: str, overrides: list[str], r: dict) -> None:
    m = r["metrics"]
    total = m["timing/total"]
    ph = {p: m.get(f"timing/{p}", 0.0) for p in PHASES}
    seqs = sum(v for k, v in m.items() if k.endswith("/count"))
    print(f"config: {config} {' '.join(overrides)}")
    print(
        f"model: {r['spec']} dtype={r['dtype']} lora={r['lora']}  sequences={seqs:.0f}  "
        f"update tokens={m.get('update/tokens', 0):.0f}  wall incl. start-up={r['wall']:.1f}s"
    )
    print(
        f"generated tokens={m.get('rollout/tokens', 0):.0f} ({m.get('rollout/tokens_per_s', 0):.1f} tok/s)  "
        f"step cpu={m.get('timing/cpu', 0):.0f}s (process CPU time, all threads; wall time on a shared machine "
        "includes waiting for other processes)"
    )
    overhead = (ph["executor"] + ph["other"]) / total if total else 0.0
    print(
        f"step: total={total:.1f}s generate={ph['generate']:.1f}s executor={ph['executor']:.1f}s "
        f"update={ph['update']:.1f}s other={ph['other']:.1f}s overhead={overhead:.3f}"
    )


# ---------------------------------------------------------------------------------------------------------------
# --compare


def seed_buffers(config: str, overrides: list[str], into: Path) -> Path:
    """The buffers both variants start from: the `after` preset's own seeding (trainer.steps=0)."""
    from rich.console import Console

    from azr.config import load_config, resolve_preset
    from azr.trainer import train

    cfg = load_config(resolve_preset(config), [*overrides, "trainer.steps=0"])
    train(cfg, into, console=Console(stderr=True))
    return into / "buffers"


def export_seeds(buffers: Path, out: Path) -> list[Path]:
    """A run's buffers as AZR seed files (deduction/abduction, induction), so each variant loads the same tasks
    through `selfplay.seed_files` instead of seeding again."""
    from azr.buffer import TaskBuffers
    from azr.config import SelfPlayConfig
    from azr.tasks.types import TaskType

    tasks = TaskBuffers(buffers.parent, SelfPlayConfig())
    io = {t.program + t.input: t for tt in (TaskType.DEDUCTION, TaskType.ABDUCTION) for t in tasks.tasks(tt)}
    files = [out / "seed_io.jsonl", out / "code_f_seed_io.jsonl"]
    out.mkdir(parents=True, exist_ok=True)
    with open(files[0], "w") as f:
        for t in io.values():
            f.write(json.dumps({"snippet": t.program, "input": t.input, "output": t.output, "imports": []}) + "\n")
    with open(files[1], "w") as f:
        for t in tasks.tasks(TaskType.INDUCTION):
            rec = {"snippet": t.program, "inputs": list(t.inputs), "outputs": list(t.outputs), "message": t.message}
            f.write(json.dumps({**rec, "imports": []}) + "\n")
    return files


def run_variant(name: str, config: str, overrides: list[str], work: Path) -> dict:
    """One step of a variant in a child process; adds its peak RSS (bytes, from `wait4`) and checkpoint size."""
    run_dir = work / f"{name}-{time.monotonic_ns()}"
    out = work / f"{run_dir.name}.json"
    cmd = [sys.executable, __file__, "--config", config, "--child", str(out), "--out", str(run_dir), *overrides]
    proc = subprocess.Popen(cmd)
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"step: the {name} variant failed (exit {os.waitstatus_to_exitcode(status)})")
    r = json.loads(out.read_text())
    r["max_rss"] = usage.ru_maxrss * 1024
    r["checkpoint_bytes"] = sum(f.stat().st_size for f in (run_dir / "checkpoints").rglob("*") if f.is_file())
    shutil.rmtree(run_dir, ignore_errors=True)
    return r


def compare(config: str, overrides: list[str], buffers: str | None, repeats: int) -> int:
    with tempfile.TemporaryDirectory(prefix="azr-compare-") as tmp:
        work = Path(tmp)
        src = Path(buffers) if buffers else seed_buffers(config, overrides, work / "seed")
        if not any(src.glob("*.jsonl")):
            raise SystemExit(f"step: {src} holds no buffers/*.jsonl")
        io, ind = export_seeds(src, work / "seeds")
        same = [*overrides, "selfplay.seed_size=0", f"selfplay.seed_files=[{io},{ind}]"]
        variants = {"before": [*same, *BEFORE], "after": same}
        results: dict[str, list[dict]] = {k: [] for k in variants}
        for _ in range(repeats):
            for name, over in variants.items():
                results[name].append(run_variant(name, config, over, work))
    mean = {k: sum(r["metrics"]["timing/total"] for r in v) / len(v) for k, v in results.items()}
    for name, runs in results.items():
        for r in runs:
            m = r["metrics"]
            phases = "  ".join(f"{p}={m.get(f'timing/{p}', 0.0):.1f}s" for p in PHASES)
            print(
                f"{name:6s} total={m['timing/total']:.1f}s {phases}  cpu={m.get('timing/cpu', 0):.0f}s  "
                f"peak RSS={r['max_rss'] / 2**30:.2f} GiB  checkpoint={r['checkpoint_bytes'] / 1e6:.0f} MB  "
                f"generated={m.get('rollout/tokens', 0):.0f} tok  update tokens={m.get('update/tokens', 0):.0f}"
            )
    print(f"before = {config} + {' '.join(BEFORE)};  after = {config}  {' '.join(overrides)}")
    print(f"step: before={mean['before']:.1f} after={mean['after']:.1f} ratio={mean['after'] / mean['before']:.3f}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="cpu-demo", help="preset name or YAML file (default: cpu-demo)")
    parser.add_argument("--out", help="run directory to keep (default: a temporary one)")
    parser.add_argument("--compare", action="store_true", help="before (pre-#10 cpu-demo) vs after, side by side")
    parser.add_argument("--buffers", help="with --compare: a run's buffers/ dir to start both variants from")
    parser.add_argument("--repeats", type=int, default=1, help="with --compare: alternate the variants N times")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # internal: run one step, write its metrics as JSON here
    parser.add_argument("overrides", nargs="*", metavar="key=value")
    args = parser.parse_args(argv)
    if args.compare:
        return compare(args.config, list(args.overrides), args.buffers, max(1, args.repeats))
    r = one_step(args.config, list(args.overrides), Path(args.out) if args.out else None)
    if args.child:
        Path(args.child).write_text(json.dumps(r, default=float))
        return 0
    print_step(args.config, list(args.overrides), r)
    return 0


if __name__ == "__main__":
    sys.exit(main())
