"""A run killed before its first checkpoint starts again from scratch (with `--out` and with `--resume`) and then
equals a clean run with the same seed; a second trainer cannot take a live run's directory."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from test_train import QUIET, buffers, cfg, rows

from azr import checkpoint as ck
from azr.io import FileError
from azr.rundir import claim_run_dir
from azr.trainer import train


def _die_at(monkeypatch: pytest.MonkeyPatch, step: int) -> None:
    """Kill the run in step `step` after its buffer additions, before its samples and metrics row are written."""
    import azr.trainer as trainer

    real = trainer.write_samples

    def dying(run_dir, s, samples):  # noqa: ANN001, ANN202
        if s == step:
            raise KeyboardInterrupt("killed")
        return real(run_dir, s, samples)

    monkeypatch.setattr(trainer, "write_samples", dying)


def _samples(run_dir: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted((run_dir / "samples").glob("*.jsonl"))}


def _weights(run_dir: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(ck.latest_checkpoint(run_dir) / "model" / "model.safetensors")


CASES = [
    # backend, the step the first run dies in, how it is started again, extra overrides
    ("scripted", 1, "out", ()),
    ("scripted", 1, "resume", ()),
    ("scripted", 2, "out", ()),
    ("scripted", 2, "resume", ()),
    ("scripted", 1, "resume", ("selfplay.seed_size=6", "selfplay.batch_size=2")),  # dies after seeding
    ("hf", 1, "resume", ("selfplay.batch_size=1", "rollout.max_new_tokens=12")),
    pytest.param("hf", 2, "out", ("selfplay.batch_size=1", "rollout.max_new_tokens=12"), marks=pytest.mark.slow),
]


@pytest.mark.parametrize(("backend", "dies_in", "again", "extra"), CASES)
def test_a_run_killed_before_its_first_checkpoint_restarts_as_a_clean_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, backend: str, dies_in: int, again: str, extra: tuple[str, ...]
) -> None:
    c = cfg(f"rollout.backend={backend}", "trainer.steps=2", "trainer.save_every=10", *extra)
    run, clean = tmp_path / "run", tmp_path / "clean"
    with monkeypatch.context() as m:
        _die_at(m, dies_in)
        with pytest.raises(KeyboardInterrupt):
            train(c, run, console=QUIET)
    assert not ck.has_checkpoints(run) and (run / "buffers").is_dir()  # the dead run left buffer entries
    assert len(rows(run)) == dies_in - 1
    train(c, run, resume=again == "resume", console=QUIET)
    train(c, clean, console=QUIET)
    assert rows(run) == rows(clean) and len(rows(run)) == 2
    assert buffers(run) == buffers(clean)
    assert _samples(run) == _samples(clean)
    if backend == "hf":
        wa, wb = _weights(run), _weights(clean)
        assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_out_still_refuses_a_run_with_a_checkpoint(tmp_path: Path) -> None:
    from azr.trainer import TrainError

    c = cfg("rollout.backend=scripted", "trainer.steps=1")
    train(c, tmp_path / "r", console=QUIET)
    before = rows(tmp_path / "r")
    with pytest.raises(TrainError, match="--resume"):
        train(c, tmp_path / "r", console=QUIET)
    assert rows(tmp_path / "r") == before


def test_a_live_run_directory_cannot_be_taken_by_a_second_trainer(tmp_path: Path) -> None:
    c = cfg("rollout.backend=scripted", "trainer.steps=1")
    with claim_run_dir(tmp_path / "r"):
        with pytest.raises(FileError, match="in use"):
            train(c, tmp_path / "r", console=QUIET)
    train(c, tmp_path / "r", console=QUIET)  # released with its holder
    assert len(rows(tmp_path / "r")) == 1


def test_stale_temp_files_of_a_killed_write_are_removed(tmp_path: Path) -> None:
    c = cfg("rollout.backend=scripted", "trainer.steps=1")
    run = tmp_path / "r"
    train(c, run, console=QUIET)
    # a SIGKILL while `latest` or config.yaml was being replaced leaves these
    stale = [run / "checkpoints" / ".latest.k1ll3d.tmp", run / ".config.yaml.k1ll3d.tmp"]
    for p in stale:
        p.write_text("step_0000")
    train(cfg("rollout.backend=scripted", "trainer.steps=2"), run, resume=True, console=QUIET)
    assert not any(p.exists() for p in stale)
    (run / "checkpoints" / ".latest.again.tmp").write_text("x")
    ck.save_checkpoint(run, 3, c)
    assert not (run / "checkpoints" / ".latest.again.tmp").exists()
