"""Executor throughput on the CRUXEval programs (issue #2, requirement 14).

Measures, in one run, executions per second (one execution = run the program on one input and get the repr
of the result) for:
  (a) inprocess - plain `exec` in this process (the unsafe upper limit),
  (b) pool      - a reused process-pool worker like the official AZR executor (one persistent worker,
                  `executor_max_workers: 1`, one call at a time, program exec'd in fresh globals, result pickled),
  (c) azr1      - azr's Executor, one input per program (one fork per execution),
  (d) azr8      - azr's Executor, 8 inputs per program (one fork per 8 executions, fresh globals each),
with every isolation layer azr can activate here (printed first). The last line is exactly
`executor: inprocess=<a>/s pool=<b>/s azr1=<c>/s azr8=<d>/s ratio_vs_inprocess=<d/a> ratio_vs_pool=<d/b>`.

Usage: python benchmarks/executor.py [--limit N] [--rounds R] [--data PATH]
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import os
import statistics
import sys
import time
from pathlib import Path

from azr.config import ExecutorConfig
from azr.executor import ExecRequest, Executor, client, policy


def data_path() -> Path:
    env = os.environ.get("AZR_DATA_DIR")
    base = Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared" / "data"
    return base / "cruxeval" / "cruxeval.jsonl"


def _run_inprocess(code: str, inp: str) -> str:
    g: dict = {"__name__": "__main__"}
    exec(compile(code, "<program>", "exec"), g)  # noqa: S102 - the unsafe baseline, trusted benchmark data
    return repr(eval(compile(f"f({inp}\n)", "<input>", "eval"), g))  # noqa: S307


def _pool_task(code: str, inp: str) -> str:
    try:
        return _run_inprocess(code, inp)
    except Exception as e:  # noqa: BLE001 - reported like the official executor's status line
        return f"error: {type(e).__name__}"


def bench_inprocess(rows: list[dict]) -> float:
    t = time.perf_counter()
    for r in rows:
        try:
            _run_inprocess(r["code"], r["input"])
        except Exception:  # noqa: BLE001, S110 - a failing program still counts as an execution
            pass
    return len(rows) / (time.perf_counter() - t)


def bench_pool(rows: list[dict], pool: cf.ProcessPoolExecutor) -> float:
    t = time.perf_counter()
    for r in rows:
        pool.submit(_pool_task, r["code"], r["input"]).result(timeout=10)
    return len(rows) / (time.perf_counter() - t)


def bench_azr(rows: list[dict], ex: Executor, per_program: int) -> float:
    # Distinct input texts (leading spaces, same value) and cold caches, so the trainer-side policy/parse caches
    # do not flatter azr: every round pays the full AST policy check of every program and input.
    reqs = [ExecRequest(r["code"], tuple(" " * k + r["input"] for k in range(per_program))) for r in rows]
    policy.analyze.cache_clear()
    policy._check_call.cache_clear()
    client._valid_short_output.cache_clear()
    t = time.perf_counter()
    res = ex.run(reqs)
    dt = time.perf_counter() - t
    bad = sum(1 for rr in res for x in rr if x.status.value in ("sandbox_error", "timeout"))
    if bad:
        print(f"  warning: {bad} sandbox_error/timeout results", file=sys.stderr)
    return len(rows) * per_program / dt


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=800, help="programs used (default: all 800)")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the median is reported")
    ap.add_argument("--data", type=Path, default=None)
    args = ap.parse_args()
    path = args.data or data_path()
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()][: args.limit]
    cfg = ExecutorConfig()
    rates: dict[str, list[float]] = {"inprocess": [], "pool": [], "azr1": [], "azr8": []}
    with Executor(cfg) as ex, cf.ProcessPoolExecutor(max_workers=1) as pool:
        info = ex.info()
        print(f"isolation: mode={info['mode']} workers={info['workers']}")
        for layer in info["layers"]:
            print(f"  - {layer}")
        pool.submit(_pool_task, "def f(): return 1", "").result()  # warm the worker
        ex.run([ExecRequest("def f(): return 1", ("",))])
        for rnd in range(args.rounds):
            rates["inprocess"].append(bench_inprocess(rows))
            rates["pool"].append(bench_pool(rows, pool))
            rates["azr1"].append(bench_azr(rows, ex, 1))
            rates["azr8"].append(bench_azr(rows, ex, 8))
            print(f"round {rnd + 1}: " + " ".join(f"{k}={v[-1]:.0f}/s" for k, v in rates.items()), flush=True)
    a, b, c, d = (statistics.median(rates[k]) for k in ("inprocess", "pool", "azr1", "azr8"))
    print(
        f"executor: inprocess={a:.0f}/s pool={b:.0f}/s azr1={c:.0f}/s azr8={d:.0f}/s "
        f"ratio_vs_inprocess={d / a:.3f} ratio_vs_pool={d / b:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
