"""Damaged checkpoints and run files: resume falls back to the newest intact checkpoint and says so in one line;
with none intact, and for logs that are not UTF-8, every command ends in one error line, exit 2, nothing changed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_checkpoint import learner_and_cfg, one_update
from test_train import QUIET, rows, scripted

from azr import checkpoint as ck
from azr.trainer import train


def _truncate(p: Path) -> None:
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])


def _garble(p: Path) -> None:  # same size, so only reading the file can tell
    p.write_bytes(bytes((b * 7 + 13) % 256 for b in p.read_bytes()))


DAMAGE = {
    "truncated weights": ("model/model.safetensors", _truncate),
    "garbled weights": ("model/model.safetensors", _garble),
    "truncated optimizer": ("optimizer.pt", _truncate),
    "garbled optimizer": ("optimizer.pt", _garble),
    "truncated rng": ("rng.pt", _truncate),
    "garbled rng": ("rng.pt", _garble),
    "missing rng": ("rng.pt", lambda p: p.unlink()),
    "garbage state.json": ("state.json", lambda p: p.write_bytes(b"\xff\x00{ not json")),
    "state.json of the wrong shape": ("state.json", lambda p: p.write_text("[1, 2]")),
    "garbage config": ("config.yaml", lambda p: p.write_bytes(b"model: [unclosed\n\xff")),
    "config with an invalid value": ("config.yaml", lambda p: p.write_text("optim:\n  lr: .nan\n")),
}


@pytest.fixture(scope="module")
def two_checkpoints(tmp_path_factory: pytest.TempPathFactory) -> Path:
    learner, cfg = learner_and_cfg()
    run = tmp_path_factory.mktemp("run")
    for step in (1, 2):
        one_update(learner)
        ck.save_checkpoint(run, step, cfg, model=learner.model, learner=learner)
    return run


def _copy(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst)
    return dst


@pytest.mark.parametrize("kind", sorted(DAMAGE))
def test_resume_falls_back_past_a_damaged_checkpoint(two_checkpoints: Path, tmp_path: Path, kind: str) -> None:
    run = _copy(two_checkpoints, tmp_path / "run")
    rel, damage = DAMAGE[kind]
    damage(run / "checkpoints" / "step_000002" / rel)
    loaded, notes = ck.resume_point(run)
    assert loaded is not None and loaded.step == 1 and loaded.learner_state() is not None
    assert len(notes) == 1 and "\n" not in notes[0]
    assert rel.split("/")[-1] in notes[0], notes[0]
    assert "resuming from step_000001" in notes[0]
    # the damaged checkpoint is kept for inspection, out of the way of the next saves and of `latest`
    assert (run / "checkpoints" / "damaged-step_000002" / "state.json").exists()
    assert ck.latest_checkpoint(run).name == "step_000001"


def test_no_intact_checkpoint_is_one_error_line(two_checkpoints: Path, tmp_path: Path) -> None:
    run = _copy(two_checkpoints, tmp_path / "run")
    _truncate(run / "checkpoints" / "step_000002" / "optimizer.pt")
    (run / "checkpoints" / "step_000001" / "state.json").write_text("{")
    with pytest.raises(ck.CheckpointError) as e:
        ck.resume_point(run)
    msg = str(e.value)
    assert "\n" not in msg and "no intact checkpoint" in msg and "optimizer.pt" in msg
    assert (run / "checkpoints" / "step_000002").is_dir()  # nothing is moved when there is nothing to resume


def test_checkpoints_written_before_file_sizes_were_recorded_still_load(two_checkpoints: Path, tmp_path: Path) -> None:
    run = _copy(two_checkpoints, tmp_path / "run")
    state = run / "checkpoints" / "step_000002" / "state.json"
    meta = json.loads(state.read_text())
    del meta["files"]
    state.write_text(json.dumps(meta))
    assert ck.load_checkpoint(state.parent).step == 2
    _truncate(state.parent / "optimizer.pt")  # without sizes, reading the file still finds the damage
    with pytest.raises(ck.CheckpointError, match="optimizer.pt"):
        ck.load_checkpoint(state.parent)


def test_the_trainer_resumes_from_the_intact_checkpoint_and_says_so(tmp_path: Path) -> None:
    from io import StringIO

    from rich.console import Console

    run = tmp_path / "r"
    train(scripted("trainer.steps=2"), run, console=QUIET)
    _truncate(run / "checkpoints" / "step_000002" / "rng.pt")
    out = StringIO()
    train(scripted("trainer.steps=3"), run, resume=True, console=Console(file=out, width=400))
    assert "rng.pt" in out.getvalue() and "resuming from step_000001" in out.getvalue()
    train(scripted("trainer.steps=3"), tmp_path / "straight", console=QUIET)
    assert rows(run) == rows(tmp_path / "straight")  # step 2 was redone exactly


def _one_line(capsys: pytest.CaptureFixture[str], *words: str) -> None:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert all(w in err[0] for w in words), err[0]


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_command_line_errors_on_damaged_run_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from azr.cli import main

    run = tmp_path / "r"
    assert main(["train", "--config", "debug", "--out", str(run), "rollout.backend=scripted", "trainer.steps=1"]) == 0
    capsys.readouterr()
    # every checkpoint damaged: resume says so in one line
    (run / "checkpoints" / "step_000001" / "config.yaml").write_text("{{{")
    before = _snapshot(run)
    assert main(["train", "--resume", str(run), "trainer.steps=2"]) == 2
    _one_line(capsys, "no intact checkpoint", "config.yaml")
    assert _snapshot(run) == before


@pytest.mark.parametrize("log", ["metrics.jsonl", "buffers/deduction.jsonl"])
def test_logs_that_are_not_utf8(tmp_path: Path, capsys: pytest.CaptureFixture[str], log: str) -> None:
    from azr.cli import main

    run = tmp_path / "r"
    assert main(["train", "--config", "debug", "--out", str(run), "rollout.backend=scripted", "trainer.steps=1"]) == 0
    capsys.readouterr()
    path = run / log
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join([lines[0][:5] + b"\xff\xfe" + lines[0][5:], *lines[1:]]))
    before = _snapshot(run)
    assert main(["report", str(run)]) == 2
    _one_line(capsys, log.split("/")[-1], "line 1", "UTF-8")
    if log.startswith("buffers"):  # metrics are not read on resume, the buffers are replayed
        assert main(["train", "--resume", str(run), "trainer.steps=2"]) == 2
        _one_line(capsys, "deduction.jsonl", "UTF-8")
    assert _snapshot(run) == before


def test_report_lists_a_config_that_is_not_utf8_as_unreadable(tmp_path: Path) -> None:
    from azr.cli import main

    run = tmp_path / "r"
    assert main(["train", "--config", "debug", "--out", str(run), "rollout.backend=scripted", "trainer.steps=1"]) == 0
    (run / "config.yaml").write_bytes(b"model: \xff\xfe\n")
    (run / "checkpoints" / "latest").write_bytes(b"\xff")
    assert main(["report", str(run)]) == 0
    assert "unreadable" in (run / "report" / "index.html").read_text()
