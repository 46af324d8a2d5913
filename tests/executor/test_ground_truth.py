"""Ground truth (issue #2 req. 13): CRUXEval programs reproduce their recorded outputs; AZR seeds run cleanly.

Data is found through `$AZR_DATA_DIR`, else `../shared/data` beside the repository root. The full sets are
`slow`; a fixed 100-program CRUXEval slice runs in the default suite.
"""

from __future__ import annotations

import collections
import json

import pytest
from executor_helpers import data_dir

from azr.config import ExecutorConfig
from azr.executor import ExecRequest, Executor, Status
from azr.executor.values import outputs_equal, parse_value

CRUX = data_dir() / "cruxeval" / "cruxeval.jsonl"
SEEDS = sorted((data_dir() / "azr_seeds").glob("*.jsonl"))
needs_data = pytest.mark.skipif(not CRUX.exists(), reason=f"no benchmark data at {data_dir()}")


def _crux(limit: int | None = None) -> list[dict]:
    rows = [json.loads(line) for line in CRUX.read_text().splitlines() if line.strip()]
    return rows[:limit] if limit else rows


def _check_crux(results, rows) -> list[tuple]:
    return [
        (row["id"], r.status.value, r.error or r.output, row["output"])
        for row, [r] in zip(rows, results)
        if not (r.ok and outputs_equal(r.output, row["output"]))
    ]


@needs_data
def test_cruxeval_first_100(ex):
    rows = _crux(100)
    assert _check_crux(ex.run([ExecRequest(r["code"], (r["input"],)) for r in rows]), rows) == []


@pytest.mark.slow
@needs_data
def test_cruxeval_all_800_deterministic(ex):
    """All 800 programs, through the determinism check, equal their recorded output (no exceptions)."""
    rows = _crux()
    assert len(rows) == 800
    failures = _check_crux(ex.run_checked([ExecRequest(r["code"], (r["input"],)) for r in rows]), rows)
    assert failures == []


@pytest.mark.slow
@needs_data
@pytest.mark.parametrize("path", SEEDS, ids=lambda p: p.name)
def test_azr_seeds_run_cleanly(ex, path):
    """Every seed runs (determinism-checked) without an executor failure; programs the policy refuses name a
    forbidden module; every deterministic output whose recorded gold is a plain literal (and not corrupted by the
    official 400-char truncation) matches. Some official seeds are invalid under our rules (gold '' from the
    official determinism bug, Counter/defaultdict outputs, set-order dependence): counted and printed, not
    failed."""
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    reqs = [ExecRequest(r["snippet"], tuple(r["inputs"]) if "inputs" in r else (r["input"],)) for r in rows]
    stats: collections.Counter = collections.Counter()
    mismatches = []
    for row, req, results in zip(rows, reqs, ex.run_checked(reqs)):
        golds = row["outputs"] if "outputs" in row else [row["output"]]
        for r, gold, inp in zip(results, golds, req.inputs):
            stats[r.status.value] += 1
            assert r.status not in (Status.SANDBOX_ERROR, Status.CRASHED, Status.TIMEOUT, Status.MEMORY), (
                row["snippet"],
                r,
            )
            if r.status is Status.ERROR and r.error.startswith("NonDeterministic:"):
                stats["nondeterministic"] += 1
            if r.status is Status.POLICY_REJECTED:
                assert r.error.startswith("forbidden import:"), r
            if r.ok and len(gold) < 400:
                try:
                    parse_value(gold)
                except ValueError:
                    continue
                if not outputs_equal(r.output, gold):
                    mismatches.append((row["snippet"], inp, r.output, gold))
    # Two runs agree by chance for some set-order dependent programs (e.g. 3 strings: 1 in 6). A mismatch is
    # tolerated only if fresh zygotes (new hash seeds) show the program's output depends on the seed.
    unexplained = [m for m in mismatches if not _seed_dependent(m[0], m[1])]
    print(path.name, dict(stats), "mismatches", len(mismatches), "unexplained", len(unexplained))
    assert stats["ok"] >= 0.9 * sum(stats.values())
    assert unexplained == []


def _seed_dependent(code: str, inp: str) -> bool:
    outs = set()
    for _ in range(6):
        with Executor(ExecutorConfig(timeout=5.0)) as e:
            outs.add(e.run([ExecRequest(code, (inp,))])[0][0].output)
    return len(outs) > 1
