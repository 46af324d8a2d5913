"""Checkpoints: round trip of weights/optimizer/RNG, atomic write under failure, pruning, log truncation."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import torch

from azr import checkpoint as ck
from azr.config import load_config
from azr.learner.base import Sample
from azr.learner.hf import HFLearner
from azr.models import tiny_random
from azr.rollout.base import Completion
from azr.tasks.types import Role, TaskType


def learner_and_cfg(*overrides: str):
    cfg = load_config(None, ["model.spec=tiny-random", "optim.lr=1e-2", *overrides])
    model, tok = tiny_random(0)
    return HFLearner(model, cfg, tok.pad_token_id), cfg


def one_update(learner: HFLearner) -> None:
    c = Completion("p", "t", (5, 6, 7), (8, 9, 10), (-1.0, -2.0, -1.5))
    learner.update([Sample(TaskType.DEDUCTION, Role.SOLVE, c, 1.0, "g")], [1.0])


def test_round_trip_restores_weights_optimizer_and_rng(tmp_path: Path) -> None:
    learner, cfg = learner_and_cfg()
    one_update(learner)
    random.seed(3)
    path = ck.save_checkpoint(tmp_path, 1, cfg, model=learner.model, learner=learner, rng=ck.capture_rng({"x": 1}))
    expect_py, expect_t = random.random(), torch.rand(2)
    assert (tmp_path / "checkpoints" / "latest").read_text().strip() == "step_000001"
    assert (path / "model" / "model.safetensors").is_file() and (path / "config.yaml").is_file()

    fresh, _ = learner_and_cfg()
    loaded = ck.load_checkpoint(ck.latest_checkpoint(tmp_path))
    assert loaded.step == 1 and loaded.cfg == cfg and loaded.rng["x"] == 1
    ck.load_model_weights(fresh.model, loaded.model_dir)
    fresh.load_state_dict(loaded.learner_state())
    for a, b in zip(fresh.model.parameters(), learner.model.parameters()):
        assert torch.equal(a, b)
    ck.restore_rng(loaded.rng)
    assert random.random() == expect_py and torch.equal(torch.rand(2), expect_t)
    # the next update is identical from the restored state (AdamW moments came back too)
    one_update(fresh)
    one_update(learner)
    for a, b in zip(fresh.model.parameters(), learner.model.parameters()):
        assert torch.equal(a, b)


def test_lora_checkpoint_saves_only_the_adapter(tmp_path: Path) -> None:
    learner, cfg = learner_and_cfg("model.lora=true", "model.lora_r=2")
    one_update(learner)
    path = ck.save_checkpoint(tmp_path, 1, cfg, model=learner.model, learner=learner)
    assert (path / "model" / "adapter_model.safetensors").is_file()
    assert not (path / "model" / "model.safetensors").exists()
    fresh, _ = learner_and_cfg("model.lora=true", "model.lora_r=2")
    ck.load_model_weights(fresh.model, path / "model")
    for a, b in zip(fresh.model.parameters(), learner.model.parameters()):
        assert torch.equal(a, b)


def test_failure_during_write_leaves_previous_checkpoint_loadable(tmp_path: Path, monkeypatch) -> None:
    learner, cfg = learner_and_cfg()
    first = ck.save_checkpoint(tmp_path, 1, cfg, model=learner.model, learner=learner)
    one_update(learner)

    def crash(*a, **k):  # the process dies after the weights are written, while the optimizer state is saved
        raise KeyboardInterrupt("killed")

    monkeypatch.setattr(ck.torch, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        ck.save_checkpoint(tmp_path, 2, cfg, model=learner.model, learner=learner)
    monkeypatch.undo()
    assert ck.latest_checkpoint(tmp_path) == first
    assert not (tmp_path / "checkpoints" / "step_000002").exists()
    loaded = ck.load_checkpoint(first)
    assert loaded.step == 1 and loaded.learner_state() is not None


def test_hard_kill_leftovers_are_ignored_and_cleaned(tmp_path: Path) -> None:
    learner, cfg = learner_and_cfg()
    first = ck.save_checkpoint(tmp_path, 1, cfg, model=learner.model, learner=learner)
    root = tmp_path / "checkpoints"
    # a SIGKILL mid-write leaves a temp dir (another pid), a half-renamed step dir without state, a torn `latest`
    (root / ".tmp-step_000002-999999").mkdir()
    (root / "step_000003").mkdir()
    (root / "latest").write_text("step_0000")
    assert ck.latest_checkpoint(tmp_path) == first
    ck.save_checkpoint(tmp_path, 4, cfg, model=learner.model, learner=learner)
    assert not (root / ".tmp-step_000002-999999").exists()
    assert ck.latest_checkpoint(tmp_path).name == "step_000004"


def test_keeps_the_newest_checkpoints(tmp_path: Path) -> None:
    _, cfg = learner_and_cfg()
    for s in (1, 2, 3):
        ck.save_checkpoint(tmp_path, s, cfg, keep=2)
    assert sorted(p.name for p in (tmp_path / "checkpoints").glob("step_*")) == ["step_000002", "step_000003"]


def test_truncate_logs_drops_an_interrupted_step(tmp_path: Path) -> None:
    _, cfg = learner_and_cfg()
    (tmp_path / "metrics.jsonl").write_text(json.dumps({"step": 1}) + "\n")
    (tmp_path / "samples").mkdir()
    (tmp_path / "samples" / "step_000001.jsonl").write_text("{}\n")
    path = ck.save_checkpoint(tmp_path, 1, cfg)
    with open(tmp_path / "metrics.jsonl", "a") as f:
        f.write(json.dumps({"step": 2}) + "\n" + '{"step": 3, "tor')
    (tmp_path / "samples" / "step_000002.jsonl").write_text("{}\n")
    state = ck.load_checkpoint(path).state
    ck.truncate_logs(tmp_path, state["log_sizes"], 1)
    assert (tmp_path / "metrics.jsonl").read_text() == json.dumps({"step": 1}) + "\n"
    assert [p.name for p in (tmp_path / "samples").iterdir()] == ["step_000001.jsonl"]
