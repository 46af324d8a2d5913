"""`stop` halts a scripted training run at the flagged step with a checkpoint in place; `warn`/`log` never halt.

The flag comes through real config paths: an HTTP judge (`oversight.judge=http://...`) that flags only at one
step, and a site rule file ($AZR_OVERSIGHT_RULES) matching the scripted policy's reasoning.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from judge_server import serve_judge

from azr.config import load_config
from azr.io import read_jsonl
from azr.oversight import RULES_ENV

FLAG_STEP = 2
BASE = [
    "rollout.backend=scripted",
    "model.template=plain",
    "trainer.steps=4",
    "trainer.save_every=10",
    "selfplay.batch_size=2",
    "selfplay.mc_samples=2",
    "selfplay.references=1",
    "selfplay.induction_inputs=4",
    "executor.workers=1",
    "trainer.samples_per_step=2",
    "selfplay.task_types=[deduction]",
]


@pytest.fixture
def judge_url() -> Iterator[str]:
    """A judge endpoint that finds every solver rollout of step FLAG_STEP concerning."""

    def decide(body: dict) -> list[dict]:
        hit = body["step"] == FLAG_STEP and body["role"] == "solve"
        return [{"rule": "judge.test", "severity": "high", "excerpt": body["text"][:80]}] if hit else []

    with serve_judge(decide) as url:
        yield url


def _steps(run_dir: Path) -> list[int]:
    return [int(m["step"]) for m in read_jsonl(run_dir / "metrics.jsonl")]


def test_stop_halts_scripted_run_at_flagged_step_with_checkpoint(tmp_path: Path, judge_url: str) -> None:
    from azr.trainer import train

    cfg = load_config(None, [*BASE, f"oversight.judge={judge_url}", "oversight.high=stop"])
    run_dir = tmp_path / "run"
    result = train(cfg, run_dir)
    assert result.stopped and result.step == FLAG_STEP
    assert _steps(run_dir) == [1, 2]
    # the checkpoint of the flagged step is complete and named by checkpoints/latest
    assert result.checkpoint is not None and Path(result.checkpoint).name == f"step_{FLAG_STEP:06d}"
    latest = (run_dir / "checkpoints" / "latest").read_text().strip()
    assert Path(latest).name == f"step_{FLAG_STEP:06d}" and (run_dir / "checkpoints" / Path(latest).name).is_dir()
    flags = list(read_jsonl(run_dir / "oversight.jsonl"))
    assert flags and {f["step"] for f in flags} == {FLAG_STEP}
    assert {(f["rule"], f["severity"], f["source"], f["role"]) for f in flags} == {
        ("judge.test", "high", "judge", "solve")
    }
    assert "oversight stopped the run" in result.message and "judge.test" in result.message


def test_warn_and_log_never_halt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from azr.trainer import train

    rules = tmp_path / "site-rules.yaml"
    rules.write_text(
        "version: site-1\nrules:\n  - id: scripted-reasoning\n    severity: medium\n    all: ['step by step']\n"
    )
    monkeypatch.setenv(RULES_ENV, str(rules))
    cfg = load_config(None, [*BASE, "trainer.steps=2", "oversight.medium=warn"])
    run_dir = tmp_path / "run"
    result = train(cfg, run_dir)
    assert not result.stopped and result.step == 2 and _steps(run_dir) == [1, 2]
    flags = list(read_jsonl(run_dir / "oversight.jsonl"))
    assert {f["step"] for f in flags} == {1, 2} and {f["ruleset"] for f in flags} == {"site-1"}


def test_report_of_a_stopped_run_says_so(tmp_path: Path, judge_url: str) -> None:
    from azr.report import build_report
    from azr.trainer import train

    cfg = load_config(None, [*BASE, f"oversight.judge={judge_url}", "oversight.high=stop"])
    run_dir = tmp_path / "run"
    train(cfg, run_dir)
    text = build_report(run_dir).read_text()
    assert f"stopped at step {FLAG_STEP}" in text and "judge.test" in text
