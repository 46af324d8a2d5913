"""`azr eval --model RUN_DIR|CHECKPOINT`: full-weight and LoRA checkpoints of `azr train` load as trained."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from azr import checkpoint as ck
from azr.commands.eval import _find_checkpoint, _load_model
from azr.config import load_config
from azr.learner.base import Sample
from azr.learner.hf import HFLearner
from azr.models import tiny_random
from azr.rollout.base import Completion
from azr.tasks.types import Role, TaskType


def _trained(tmp_path: Path, *overrides: str) -> tuple[HFLearner, Path]:
    cfg = load_config(None, ["model.spec=tiny-random", "model.template=plain", "optim.lr=1e-1", *overrides])
    model, tok = tiny_random(0)
    learner = HFLearner(model, cfg, tok.pad_token_id)
    c = Completion("p", "t", (5, 6, 7), (8, 9, 10), (-1.0, -2.0, -1.5))
    learner.update([Sample(TaskType.DEDUCTION, Role.SOLVE, c, 1.0, "g")], [1.0])
    ck.save_checkpoint(tmp_path, 3, cfg, model=learner.model, learner=learner)
    return learner, tmp_path


def _logits(model) -> torch.Tensor:
    with torch.no_grad():
        return model(torch.tensor([[5, 6, 7, 8]])).logits


def test_full_checkpoint_from_run_dir(tmp_path: Path) -> None:
    learner, run_dir = _trained(tmp_path)
    assert _find_checkpoint(run_dir) == run_dir / "checkpoints" / "step_000003"
    model, tok, cfg, info = _load_model(str(run_dir), "fp32")
    assert info["checkpoint_step"] == 3 and info["base_model"] == "tiny-random" and cfg.model.template == "plain"
    assert not torch.equal(_logits(model), _logits(tiny_random(0)[0]))  # the update changed the model ...
    assert torch.allclose(_logits(model), _logits(learner.model), atol=1e-5)  # ... and the trained one came back


def test_lora_checkpoint_is_merged(tmp_path: Path) -> None:
    learner, run_dir = _trained(tmp_path, "model.lora=true", "model.lora_r=2")
    model, _, _, info = _load_model(str(run_dir / "checkpoints" / "step_000003"), "fp32")
    assert not hasattr(model, "peft_config")
    assert torch.allclose(_logits(model), _logits(learner.model), atol=1e-4)


def test_cli_on_a_run_dir(tmp_path: Path, data_dir: Path) -> None:
    from azr.cli import main

    _, run_dir = _trained(tmp_path / "run")
    out = tmp_path / "ev"
    rc = main(["eval", "--model", str(run_dir), "--benchmarks", "cruxeval-o", "--limit", "2", "--max-new-tokens", "4",
               "--out", str(out), "--data-dir", str(data_dir), "--quiet"])  # fmt: skip
    assert rc == 0
    res = json.loads((out / "results.json").read_text())
    assert res["checkpoint_step"] == 3 and res["render"] == "plain"
    assert res["benchmarks"]["cruxeval-o"]["n"] == 2
    assert main(["eval", "--model", str(tmp_path / "run" / "checkpoints"), "--limit", "1"]) == 2  # no model there
