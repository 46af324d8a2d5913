"""`azr export RUN_DIR OUT_DIR` on single-process checkpoints (DCP checkpoints: tests/dist/test_train_dist.py):
a full model loads with `from_pretrained` and a LoRA adapter with PEFT, both with the trained weights."""

from __future__ import annotations

from pathlib import Path

import torch

from azr import checkpoint as ckpt
from azr.cli import main as cli_main
from azr.config import load_config
from azr.learner.base import Sample
from azr.learner.hf import HFLearner
from azr.models import tiny_random
from azr.rollout.base import Completion
from azr.tasks.types import Role, TaskType


def trained_run(run_dir: Path, *overrides: str) -> HFLearner:
    cfg = load_config(None, ["model.spec=tiny-random", "optim.lr=1e-2", *overrides])
    model, tok = tiny_random(0)
    learner = HFLearner(model, cfg, tok.pad_token_id)
    c = Completion("p", "t", (5, 6, 7), (8, 9, 10), (-1.0, -2.0, -1.5))
    learner.update([Sample(TaskType.DEDUCTION, Role.SOLVE, c, 1.0, "g")], [1.0])
    ckpt.save_checkpoint(run_dir, 1, cfg, model=learner.model, learner=learner)
    return learner


def test_export_full_model_loads_with_from_pretrained(tmp_path, capsys) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    learner = trained_run(tmp_path / "run")
    out = tmp_path / "hf"
    assert cli_main(["export", str(tmp_path / "run"), str(out)]) == 0
    assert capsys.readouterr().out.strip().endswith(f"(step 1) -> {out}")
    model = AutoModelForCausalLM.from_pretrained(out)
    trained = learner.model.state_dict()
    assert all(torch.equal(t, trained[k]) for k, t in model.state_dict().items())
    assert not torch.equal(model.model.embed_tokens.weight, tiny_random(0)[0].model.embed_tokens.weight)
    tok = AutoTokenizer.from_pretrained(out)
    assert tok("<think>")["input_ids"] == tiny_random(0)[1]("<think>")["input_ids"]


def test_export_lora_is_a_peft_adapter_on_the_spec(tmp_path) -> None:
    import json

    from peft import PeftModel

    learner = trained_run(tmp_path / "run", "model.lora=true", "model.lora_r=2")
    out = tmp_path / "adapter"
    assert cli_main(["export", str(tmp_path / "run"), str(out)]) == 0
    assert json.loads((out / "adapter_config.json").read_text())["base_model_name_or_path"] == "tiny-random"
    loaded = PeftModel.from_pretrained(tiny_random(0)[0], out)
    trained = {k: v for k, v in learner.model.state_dict().items() if "lora_" in k}
    mine = loaded.state_dict()
    assert trained and all(torch.equal(mine[k], v) for k, v in trained.items())


def test_export_errors_are_one_line(tmp_path, capsys) -> None:
    assert cli_main(["export", str(tmp_path / "nope"), str(tmp_path / "out")]) == 2
    assert (
        capsys.readouterr().err.strip()
        == f"azr export: error: {tmp_path / 'nope'} is not a run directory with checkpoints"
    )
    trained_run(tmp_path / "run")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    assert cli_main(["export", str(tmp_path / "run"), str(tmp_path / "full")]) == 2
    assert "exists and is not an empty directory" in capsys.readouterr().err
