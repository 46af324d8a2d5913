"""benchmarks/step.py --compare on the tiny model: two variants from the same buffers, the exact last line."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_compare_mode_runs_both_variants_on_the_same_tasks(capsys) -> None:
    spec = importlib.util.spec_from_file_location("step_bench", REPO / "benchmarks" / "step.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)  # type: ignore[union-attr]
    assert bench.main(["--compare", "--config", "debug", "model.lora=true", "rollout.threads=1"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert re.fullmatch(r"step: before=\d+\.\d after=\d+\.\d ratio=\d+\.\d{3}", lines[-1]), lines[-1]
    before, after = (next(x for x in lines if x.startswith(name)) for name in ("before", "after"))
    gen = [re.search(r"generated=(\d+) tok", x).group(1) for x in (before, after)]
    assert gen[0] == gen[1]  # same seed, same buffers, same (untrained) policy: the same rollouts
    assert "checkpoint=" in after and "peak RSS=" in after
