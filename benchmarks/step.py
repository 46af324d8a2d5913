"""One self-play step of the CPU demo (or a variant) through the real trainer, with its phase breakdown.

    python benchmarks/step.py                                   # cpu-demo, one step
    python benchmarks/step.py --config debug                    # tiny random model
    python benchmarks/step.py selfplay.batch_size=2 rollout.max_new_tokens=64

Model loading and start-up are excluded (reported separately). The last line is exactly
`step: total=<s>s generate=<s>s executor=<s>s update=<s>s other=<s>s overhead=<(executor+other)/total>`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="cpu-demo", help="preset name or YAML file (default: cpu-demo)")
    parser.add_argument("--out", help="run directory to keep (default: a temporary one)")
    parser.add_argument("overrides", nargs="*", metavar="key=value")
    args = parser.parse_args(argv)

    from rich.console import Console

    from azr.config import load_config, resolve_preset
    from azr.trainer import train

    overrides = [*args.overrides, "trainer.steps=1", "trainer.eval_every=0"]
    cfg = load_config(resolve_preset(args.config), overrides)
    with tempfile.TemporaryDirectory(prefix="azr-bench-") as tmp:
        run_dir = Path(args.out) if args.out else Path(tmp) / "run"
        t0 = time.perf_counter()
        result = train(cfg, run_dir, console=Console(stderr=True))
        wall = time.perf_counter() - t0
    m = result.last
    total = m["timing/total"]
    ph = {p: m.get(f"timing/{p}", 0.0) for p in ("generate", "executor", "update", "other")}
    seqs = sum(v for k, v in m.items() if k.endswith("/count"))
    print(f"config: {args.config} {' '.join(args.overrides)}")
    print(
        f"model: {cfg.model.spec} dtype={cfg.model.dtype} lora={cfg.model.lora}  sequences={seqs:.0f}  "
        f"update tokens={m.get('update/tokens', 0):.0f}  wall incl. start-up={wall:.1f}s"
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
