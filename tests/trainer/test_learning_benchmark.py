"""benchmarks/learning.py: the --quick mode end to end (schema, files, resume) and one-line errors on bad input."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def bench():
    spec = importlib.util.spec_from_file_location("learning_bench", REPO / "benchmarks" / "learning.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


@pytest.mark.slow
def test_quick_mode_writes_a_result_that_follows_the_schema(tmp_path: Path, capsys) -> None:
    from azr.eval.learning import SCHEMA, check_result

    out = tmp_path / "q"
    assert bench().main(["--quick", "--noise", "--out", str(out)]) == 0
    result = json.loads((out / "learning" / "result.json").read_text())
    assert result["schema"] == SCHEMA and check_result(result) == []
    assert result["eval_steps"] == [0, 2, 4]
    names = {"heldout-deduction", "heldout-abduction", "heldout-induction", "cruxeval-o", "cruxeval-i"}
    assert set(result["evals"]["4"]) == names and all(e["n"] == 4 for e in result["evals"]["4"].values())
    assert result["noise"]["seeds"] == [1, 2, 3] and set(result["noise"]["scores"]) == names
    assert {c["to_step"] for c in result["changes"]} == {2, 4} and len(result["summary"]) == 5
    assert "adv/degenerate_groups" in result["curves"] or "deduction/solve/solve_rate" in result["curves"]
    assert result["timings"]["per_step_s"] > 0 and result["config"]["model"]["lora"] is True
    assert (out / "learning" / "learning.png").stat().st_size > 10_000
    assert json.loads((out / "eval" / "step_000000.json").read_text())["step"] == 0  # what `azr report` reads
    # rerunning resumes: nothing is trained or evaluated again
    stages = (out / "learning" / "timings.jsonl").read_text()
    assert bench().main(["--quick", "--noise", "--out", str(out)]) == 0
    assert (out / "learning" / "timings.jsonl").read_text() == stages
    assert "within the noise floor" in capsys.readouterr().out


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--benchmarks", "heldout,nosuch"], "unknown benchmark 'nosuch'"),
        (["--heldout", "500"], "larger than 7b_coder_seed_io.jsonl provides"),
        (["--data-dir", "EMPTY"], "not found"),
        (["--crux", "0"], "--crux must be > 0"),
        (["selfplay.batch_size=0"], "selfplay.batch_size"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, capsys, extra: list[str], message: str) -> None:
    (tmp_path / "empty").mkdir()
    extra = [str(tmp_path / "empty") if e == "EMPTY" else e for e in extra]
    assert bench().main(["--quick", "--out", str(tmp_path / "r"), *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
