"""Does self-play make the model better? Train, evaluate before / during / after, and judge against the noise floor.

    python benchmarks/learning.py --out runs/learning             # cpu-learn: 40 steps, evals at 0, 10, ..., 40
    python benchmarks/learning.py --out runs/learning --noise     # + the untrained model under 3 sampling seeds
    python benchmarks/learning.py --out runs/learning             # rerun: continues where it stopped
    python benchmarks/learning.py --quick --out /tmp/q            # tiny-random, seconds (CI)

Stages, each resumable (rerunning the same command continues; per-item eval records and checkpoints are reused):
1. evaluate the untrained model at step 0, greedily: held-out seed tasks (`azr.eval.heldout`, `--heldout` per
   task type, the training solver prompts) and CRUXEval-O/I (`--crux` items each, the eval harness's prompts);
2. with `--noise`, the same evaluation of the untrained model at the training temperature under 3 sampling seeds;
3. train (`azr.trainer.train`, the held-out tasks excluded from every buffer) to the next multiple of
   `--eval-every`, then evaluate that checkpoint; repeat to `--steps`;
4. write `OUT/learning/result.json` (schema `azr.eval.learning.SCHEMA`), `OUT/learning/learning.png`, and
   `OUT/eval/step_N.json` (so `azr report OUT` shows the held-out curves). The last lines say, per benchmark,
   whether the change from step 0 exceeds the noise floor.

Bad input (a missing data file, a held-out size larger than the seed file provides, an unknown benchmark) ends
with one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

QUICK = (
    "model.lora=true",
    "trainer.steps=4",
    "rollout.max_new_tokens=16",
    "selfplay.batch_size=1",
    "rollout.threads=1",
)
NOISE_SEEDS = (1, 2, 3)


class BenchError(Exception):
    """Bad input or state; printed as one line, exit status 2."""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="run directory (reused to resume)")
    p.add_argument("--config", default=None, help="preset or YAML (default: cpu-learn; debug with --quick)")
    p.add_argument("--steps", type=int, default=None, help="self-play steps (default: the config's trainer.steps)")
    p.add_argument("--eval-every", type=int, default=None, help="evaluate every N steps and at the end (default 10)")
    p.add_argument("--heldout", type=int, default=None, help="held-out tasks per task type (default 64)")
    p.add_argument("--crux", type=int, default=None, help="CRUXEval-O and -I items each, the first N (default 200)")
    p.add_argument("--benchmarks", default="heldout,cruxeval-o,cruxeval-i",
                   help="`heldout` and/or eval benchmarks (azr eval names)")  # fmt: skip
    p.add_argument("--eval-tokens", type=int, default=0, help="max new tokens per eval answer (0: rollout's)")
    p.add_argument("--noise", action="store_true", help="also evaluate the untrained model under 3 sampling seeds")
    p.add_argument(
        "--data-dir", default=None, help="benchmark and seed files (default $AZR_DATA_DIR or ../shared/data)"
    )
    p.add_argument("--quick", action="store_true", help="tiny-random model, 4 steps, 4 items each (a smoke test)")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides")
    args = p.parse_args(argv)
    defaults = {"eval_every": 10, "heldout": 64, "crux": 200}
    if args.quick:
        args.config = args.config or "debug"
        args.overrides = [*QUICK, *args.overrides]
        defaults = {"eval_every": 2, "heldout": 4, "crux": 4}
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    for name in ("eval_every", "heldout", "crux"):
        if getattr(args, name) <= 0:
            raise BenchError(f"--{name.replace('_', '-')} must be > 0")
    return args


def build_config(args: argparse.Namespace) -> Any:
    from azr.config import ConfigError, load_config, resolve_preset

    over = list(args.overrides)
    if args.steps is not None:
        over.append(f"trainer.steps={args.steps}")
    over += [f"trainer.heldout_size={args.heldout}", "trainer.eval_every=0"]
    if args.data_dir:
        over.append(f"trainer.data_dir={args.data_dir}")
    try:
        return load_config(resolve_preset(args.config or "cpu-learn"), over)
    except (ConfigError, OSError) as e:
        raise BenchError(str(e).splitlines()[0]) from None


def benchmarks(spec: str) -> tuple[bool, list[str]]:
    """(held-out wanted?, eval harness benchmark names)."""
    from azr.eval.benchmarks import expand_benchmarks

    names = [s.strip() for s in spec.split(",") if s.strip()]
    rest = [n for n in names if n != "heldout"]
    try:
        return "heldout" in names, expand_benchmarks(rest) if rest else []
    except ValueError as e:
        raise BenchError(f"--benchmarks: {e}; or `heldout`") from None


# ---------------------------------------------------------------------------------------------------------------
# one evaluation of one model state


def load_policy(cfg: Any, checkpoint: Path | None) -> tuple[Any, Any]:
    """The base model, or the base model with a checkpoint's weights / LoRA adapter (unmerged: the exact policy the
    training rollouts sample from)."""
    from azr.checkpoint import load_model_weights
    from azr.learner.hf import apply_lora
    from azr.models import load

    model, tok = load(cfg.model.spec, dtype=cfg.model.dtype, cache_dir=cfg.model.cache_dir or None)
    if checkpoint is not None:
        if cfg.model.lora:
            model = apply_lora(model, cfg.model)
        load_model_weights(model, checkpoint / "model")
    return model.eval(), tok


def evaluate_state(
    cfg: Any, model: Any, tok: Any, out: Path, args: argparse.Namespace, temperature: float, seed: int, tag: str
) -> tuple[dict[str, list[float]], dict[str, float]]:
    """Per-item correctness per benchmark, and seconds per benchmark group; records under `out` (resumable)."""
    from azr.eval.benchmarks import default_data_dir
    from azr.eval.heldout import HeldOutError, evaluate_heldout, load_heldout
    from azr.eval.runner import EvalSettings, evaluate
    from azr.executor import Executor
    from azr.rollout import make_backend
    from azr.tasks import prompts

    want_heldout, names = benchmarks(args.benchmarks)
    tokens = args.eval_tokens or cfg.rollout.max_new_tokens
    batch = cfg.rollout.micro_batch_size
    backend = make_backend(dataclasses.replace(cfg, rollout=dataclasses.replace(cfg.rollout, backend="hf")), model, tok)
    render = lambda m: prompts.render(m, tok, cfg.model.template)  # noqa: E731
    data_dir = default_data_dir(cfg.trainer.data_dir or None)
    values: dict[str, list[float]] = {}
    seconds: dict[str, float] = {}
    with Executor(cfg.executor) as ex:
        if want_heldout:
            t0 = time.perf_counter()
            try:
                held = load_heldout(cfg, ex, data_dir)
            except HeldOutError as e:
                raise BenchError(str(e)) from None
            recs = evaluate_heldout(held, backend, render, ex, cfg, max_new_tokens=tokens, temperature=temperature,
                                    seed=seed, batch_size=batch, records_dir=out, progress=_line(tag))  # fmt: skip
            values.update({n: [float(r["correct"]) for r in rs] for n, rs in recs.items()})
            seconds["heldout"] = time.perf_counter() - t0
        if names:
            t0 = time.perf_counter()
            settings = EvalSettings(
                benchmarks=tuple(names), limit=args.crux, temperature=temperature, seed=seed, max_new_tokens=tokens,
                template="azr", batch_size=batch, code_policy=True,  # the skeleton follows cfg.rollout.prefill_answer
                top_p=cfg.rollout.top_p if temperature > 0 else 1.0,
            )  # fmt: skip
            try:
                res = evaluate(backend, render, ex, settings, cfg=cfg, data_dir=data_dir, out_dir=out / "bench",
                               model_spec=f"{cfg.model.spec}@{tag}", show_progress=True)  # fmt: skip
            except (FileNotFoundError, ValueError) as e:
                raise BenchError(str(e).splitlines()[0]) from None
            for n, b in res["benchmarks"].items():
                values[n] = [float(r["verdicts"][0]["correct"]) for r in b["records"]]
            seconds["benchmarks"] = time.perf_counter() - t0
    return values, seconds


def _line(tag: str) -> Any:
    last = {"t": 0.0}

    def report(name: str, done: int, total: int) -> None:
        if done == total or time.monotonic() - last["t"] > 30:
            last["t"] = time.monotonic()
            print(f"{tag} {name}: {done}/{total}", file=sys.stderr, flush=True)

    return report


# ---------------------------------------------------------------------------------------------------------------
# the stages


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.cfg = build_config(args)
        benchmarks(args.benchmarks)  # fail on an unknown name before anything runs
        if self.cfg.rollout.threads > 0:
            import torch

            torch.set_num_threads(self.cfg.rollout.threads)
        self.out = Path(args.out)
        self.dir = self.out / "learning"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.timings_file = self.dir / "timings.jsonl"
        self._check_plan()

    def _check_plan(self) -> None:
        """A resumed benchmark must evaluate the same things; only `--steps` (and `--noise`) may change."""
        plan = {"config": self.cfg.to_dict(), "eval_every": self.args.eval_every, "heldout": self.args.heldout,
                "crux": self.args.crux, "benchmarks": self.args.benchmarks, "eval_tokens": self.args.eval_tokens}  # fmt: skip
        plan["config"]["trainer"].pop("steps")
        plan = json.loads(json.dumps(plan))  # as saved: lists, not tuples
        path = self.dir / "plan.json"
        if path.is_file():
            old = json.loads(path.read_text())
            diff = sorted(k for k in plan if old.get(k) != plan[k])
            if diff:
                raise BenchError(
                    f"{self.out} holds a learning benchmark with different {', '.join(diff)}; use another --out"
                )
        else:
            path.write_text(json.dumps(plan, indent=1, sort_keys=True) + "\n")

    def timed(self, stage: str, seconds: float, **extra: Any) -> None:
        with open(self.timings_file, "a") as f:
            f.write(json.dumps({"stage": stage, "seconds": seconds, "time": time.time(), **extra}) + "\n")

    def eval_dir(self, step: int, seed: int | None = None) -> Path:
        return self.dir / ("eval" if seed is None else f"noise/seed_{seed}") / f"step_{step:06d}"

    def evaluate(self, step: int, checkpoint: Path | None, seeds: tuple[int | None, ...]) -> None:
        """Evaluate one model state greedily (seed None) and/or sampled (seeds), skipping finished ones."""
        todo = [s for s in seeds if not (self.eval_dir(step, s) / "values.json").is_file()]
        if not todo:
            return
        model, tok = load_policy(self.cfg, checkpoint)
        for seed in todo:
            d = self.eval_dir(step, seed)
            d.mkdir(parents=True, exist_ok=True)
            temp, tag = (
                (0.0, f"eval@{step}") if seed is None else (self.cfg.rollout.temperature, f"noise@{step}/seed{seed}")
            )
            t0, c0 = time.perf_counter(), time.process_time()
            values, seconds = evaluate_state(self.cfg, model, tok, d, self.args, temp, seed or 0, tag)
            (d / "values.json").write_text(json.dumps(values) + "\n")
            items = sum(len(v) for v in values.values())
            self.timed(tag, time.perf_counter() - t0, cpu_s=time.process_time() - c0, parts=seconds, items=items)
            if seed is None:
                self.publish(step, values)
        del model
        gc.collect()

    def publish(self, step: int, values: dict[str, list[float]]) -> None:
        """`OUT/eval/step_N.json`, what `azr report OUT` reads. Rewritten for every point when the result is built:
        the trainer clears `eval/` of a run directory without a checkpoint (a fresh start), which is what the
        directory is between the step-0 evaluation and the first checkpoint."""
        from azr.eval import stats
        from azr.io import atomic_write_json

        scores: dict[str, Any] = {"step": step}
        for name, v in values.items():
            lo, hi = stats.bootstrap_ci(v)
            scores |= {f"eval/{name}/score": stats.mean_percent(v), f"eval/{name}/ci_low": lo,
                       f"eval/{name}/ci_high": hi}  # fmt: skip
        atomic_write_json(self.out / "eval" / f"step_{step:06d}.json", scores)

    def train_to(self, step: int) -> Path:
        from rich.console import Console

        from azr import checkpoint as ck
        from azr.trainer import TrainError, train

        latest = ck.latest_checkpoint(self.out)
        done = ck.load_checkpoint(latest).step if latest is not None else 0
        if done < step:
            cfg = dataclasses.replace(self.cfg, trainer=dataclasses.replace(self.cfg.trainer, steps=step))
            t0, c0 = time.perf_counter(), time.process_time()
            try:
                train(cfg, self.out, resume=latest is not None, console=Console(stderr=True))
            except TrainError as e:
                raise BenchError(str(e)) from None
            self.timed(
                f"train@{done}->{step}", time.perf_counter() - t0, cpu_s=time.process_time() - c0, steps=step - done
            )
            gc.collect()
        path = self.out / "checkpoints" / ck.step_name(step)
        if not path.is_dir():
            raise BenchError(
                f"no checkpoint of step {step} in {self.out} (keep trainer.save_every a divisor of --eval-every)"
            )
        return path

    def run(self) -> dict[str, Any]:
        total = self.cfg.trainer.steps
        every = self.args.eval_every
        points = sorted({*range(every, total + 1, every), total} - {0})
        t0 = time.perf_counter()
        self.evaluate(0, None, (None, *(NOISE_SEEDS if self.args.noise else ())))
        for step in points:
            if not (self.eval_dir(step) / "values.json").is_file():
                self.evaluate(step, self.train_to(step), (None,))
        return self.result(time.perf_counter() - t0)

    def result(self, session_s: float) -> dict[str, Any]:
        from azr.eval.learning import check_result, plot, summarize
        from azr.io import read_jsonl

        evals = {}
        for d in sorted((self.dir / "eval").glob("step_*")):
            if (d / "values.json").is_file():
                evals[int(d.name.split("_")[1])] = json.loads((d / "values.json").read_text())
        for step, values in evals.items():
            self.publish(step, values)
        noise: dict[int, dict[str, float]] = {}
        for s in NOISE_SEEDS:
            f = self.eval_dir(0, s) / "values.json"
            if f.is_file():
                noise[s] = {b: 100.0 * sum(v) / len(v) for b, v in json.loads(f.read_text()).items() if v}
        rows = list(read_jsonl(self.out / "metrics.jsonl")) if (self.out / "metrics.jsonl").is_file() else []
        result = summarize(evals, noise, rows, {
            "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
            "model": self.cfg.model.spec,
            "config": self.cfg.to_dict(),
            "machine": machine(),
            "timings": timings(list(read_jsonl(self.timings_file)), rows, session_s),
        })  # fmt: skip
        problems = check_result(result)
        if problems:
            raise RuntimeError(f"result does not follow its schema: {problems[0]}")
        (self.dir / "result.json").write_text(json.dumps(result, indent=1) + "\n")
        plot(result, self.dir / "learning.png")
        return result


def machine() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "load_avg": list(os.getloadavg()) if hasattr(os, "getloadavg") else []}


def timings(stages: list[dict[str, Any]], rows: list[dict[str, Any]], session_s: float) -> dict[str, Any]:
    """Seconds per stage (over all sessions), per training step (mean of the logged step times) and per eval."""
    step_s = [r["timing/total"] for r in rows if isinstance(r.get("timing/total"), (int, float))]
    step_cpu = [r["timing/cpu"] for r in rows if isinstance(r.get("timing/cpu"), (int, float))]
    evals = [s for s in stages if s["stage"].startswith("eval@")]
    eval_cpu = [s["cpu_s"] for s in evals if "cpu_s" in s]
    return {
        "stages": stages,
        "this_session_s": session_s,
        "train_s": sum(s["seconds"] for s in stages if s["stage"].startswith("train@")),
        "eval_s": sum(s["seconds"] for s in evals),
        "noise_s": sum(s["seconds"] for s in stages if s["stage"].startswith("noise@")),
        "per_step_s": sum(step_s) / len(step_s) if step_s else None,
        "per_eval_s": sum(s["seconds"] for s in evals) / len(evals) if evals else None,
        # process CPU seconds (all threads): on a shared machine these say more than wall time
        "per_step_cpu_s": sum(step_cpu) / len(step_cpu) if step_cpu else None,
        "per_eval_cpu_s": sum(eval_cpu) / len(eval_cpu) if eval_cpu else None,
    }


def main(argv: list[str] | None = None) -> int:
    try:
        args = parse_args(argv)
        result = Bench(args).run()
    except BenchError as e:
        print(f"learning: error: {e}", file=sys.stderr)
        return 2
    t = result["timings"]
    print(
        f"result: {Path(args.out) / 'learning' / 'result.json'}  plot: {Path(args.out) / 'learning' / 'learning.png'}"
    )
    print(f"timings: train {t['train_s']:.0f}s  evals {t['eval_s']:.0f}s  noise {t['noise_s']:.0f}s  "
          f"per step {t['per_step_s'] or 0:.1f}s  per eval {t['per_eval_s'] or 0:.1f}s")  # fmt: skip
    for line in result["summary"]:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
