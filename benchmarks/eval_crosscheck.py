"""Agreement of azr's judges with the reference evaluators, on candidate sets recorded by
tests/fixtures/crosscheck/record_evalplus.py and record_cruxeval.py (plain or gzipped JSON; `--all` recordings for
the numbers in docs/eval.md).

    python benchmarks/eval_crosscheck.py --evalplus /tmp/xc-evalplus-all.json --cruxeval /tmp/xc-cruxeval-all.json

Prints, per benchmark, how many candidate verdicts agree and the disagreements grouped by task (code) or by the
kind of prediction (CRUXEval, under the official and the strict rule); the last line is
`crosscheck: humaneval+=<pct> mbpp+=<pct> cruxeval-o=<pct> cruxeval-i=<pct>` (all candidates for the code
benchmarks; the official rule without the deliberate differences for CRUXEval).
"""

from __future__ import annotations

import argparse
import collections
import gzip
import json
import os
import sys
import time
from pathlib import Path

from azr.config import ExecutorConfig
from azr.eval.benchmarks import default_data_dir, load_items
from azr.eval.scoring import CodeJudge, score_cruxeval
from azr.executor import Executor

DELIBERATE = ("restated_call_spaced", "bare_tuple")
"""Prediction kinds azr judges differently on purpose (docs/eval.md, tests/eval/test_eval_crosscheck.py)."""
KNOWN = {("input", "sample_135")}  # KNOWN_UNSOLVABLE: the empty argument list


def _load(path: str) -> dict:
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt") as f:
        return json.load(f)


def _pct(a: int, n: int) -> str:
    return f"{100.0 * a / n:.1f}" if n else "n/a"


def code_agreement(fx: dict, data_dir: Path, executor: Executor) -> dict[str, str]:
    out = {}
    judge = CodeJudge(executor, Path(os.environ.get("AZR_CACHE", "/tmp")) / "crosscheck-gt.json")
    for bench in ("humaneval+", "mbpp+"):
        items = {it.id: it for it in load_items(bench, data_dir)[0]}
        cands = [c for c in fx["candidates"] if c["task_id"] in items and c["task_id"] in fx["tasks"][bench]]
        t0 = time.time()
        verdicts = judge.check_code([items[c["task_id"]] for c in cands], [c["code"] for c in cands])
        agree = sum(v.correct == c["pass"] for c, v in zip(cands, verdicts))
        print(f"{bench}: {agree}/{len(cands)} candidate verdicts agree ({_pct(agree, len(cands))} %), "
              f"{len(fx['tasks'][bench])} tasks, {time.time() - t0:.0f}s")  # fmt: skip
        by_task: dict[str, list[str]] = collections.defaultdict(list)
        for c, v in zip(cands, verdicts):
            if v.correct != c["pass"]:
                by_task[c["task_id"]].append(
                    f"{c['name']} (evalplus {c['base']}/{c['plus']}, azr {v.reason or 'pass'})"
                )
        for tid, diffs in sorted(by_task.items()):
            print(f"  {tid}: {len(diffs)} differ: {'; '.join(diffs[:4])}{' ...' if len(diffs) > 4 else ''}")
        out[bench] = _pct(agree, len(cands))
    return out


def cruxeval_agreement(fx: dict, data_dir: Path, executor: Executor) -> dict[str, str]:
    out = {}
    for mode, bench in (("output", "cruxeval-o"), ("input", "cruxeval-i")):
        items = {it.id: it for it in load_items(bench, data_dir)[0]}
        preds = [p for p in fx["predictions"] if p["mode"] == mode]
        tag = "output" if mode == "output" else "input"
        responses = [f"<think>\n</think>\n<answer>\n```{tag}\n{p['prediction']}\n```\n</answer>" for p in preds]
        for equality in ("official", "strict"):
            got = score_cruxeval([items[p["id"]] for p in preds], responses, executor, "azr", equality)
            agree = sum(v.correct == p["official"] for p, v in zip(preds, got))
            kept = [(p, v) for p, v in zip(preds, got) if p["kind"] not in DELIBERATE and (mode, p["id"]) not in KNOWN]
            kept_agree = sum(v.correct == p["official"] for p, v in kept)
            kinds = collections.Counter(p["kind"] for p, v in zip(preds, got) if v.correct != p["official"])
            print(
                f"{bench} ({equality} rule): {agree}/{len(preds)} agree with the official verdict "
                f"({_pct(agree, len(preds))} %), {kept_agree}/{len(kept)} ({_pct(kept_agree, len(kept))} %) without "
                f"the deliberate differences; differ by kind: {dict(kinds.most_common())}"
            )
            if equality == "official":
                out[bench] = _pct(kept_agree, len(kept))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--evalplus", help="recorded EvalPlus verdicts (record_evalplus.py output)")
    ap.add_argument("--cruxeval", help="recorded official CRUXEval verdicts (record_cruxeval.py output)")
    ap.add_argument("--data-dir", default=None)
    args = ap.parse_args()
    data_dir = default_data_dir(args.data_dir)
    if data_dir is None:
        print("eval_crosscheck: no data dir (pass --data-dir or set AZR_DATA_DIR)", file=sys.stderr)
        return 2
    cfg = ExecutorConfig(max_output_chars=20_000_000)
    scores: dict[str, str] = {}
    if args.evalplus:
        with Executor(cfg, static_policy=False) as ex:
            scores.update(code_agreement(_load(args.evalplus), data_dir, ex))
    if args.cruxeval:
        with Executor(cfg) as ex:
            scores.update(cruxeval_agreement(_load(args.cruxeval), data_dir, ex))
    print("crosscheck: " + " ".join(f"{k}={v}" for k, v in scores.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
