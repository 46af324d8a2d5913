"""Checkpoints are complete Hugging Face model directories: the Auto classes load them as trained, the tokenizer
and chat template round-trip, and a LoRA adapter names its base by the portable spec."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from test_checkpoint import one_update
from test_train import QUIET, cfg

from azr import checkpoint as ck
from azr.config import load_config
from azr.learner.hf import HFLearner
from azr.models import load, tiny_random

PROGRAM = "def f(a, b):\n    return [x * 2 for x in range(a)] + list('héllo') + [b]  # ünïcode\n"
MESSAGES = [{"role": "user", "content": "Deduce the output of f(3, 'x')."}]


def _logits(model) -> torch.Tensor:  # noqa: ANN001
    with torch.no_grad():
        return model(torch.tensor([[5, 6, 7, 8, 9]])).logits


def _tokenizer_round_trips(model_dir: Path, original) -> None:  # noqa: ANN001
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    assert len(tok) == len(original) > 1  # not the empty size-1 tokenizer a bare weights dir gives
    ids = tok(PROGRAM)["input_ids"]
    assert ids == original(PROGRAM)["input_ids"]
    assert tok.decode(ids) == PROGRAM
    assert tok.chat_template == original.chat_template
    rendered = tok.apply_chat_template(MESSAGES, tokenize=False, add_generation_prompt=True)
    assert rendered == original.apply_chat_template(MESSAGES, tokenize=False, add_generation_prompt=True)
    assert tok.eos_token == original.eos_token and tok.pad_token == original.pad_token


def _trained(spec: str, *overrides: str) -> tuple[HFLearner, object, object]:
    c = load_config(None, [f"model.spec={spec}", "optim.lr=1e-2", *overrides])
    model, tok = load(spec)
    learner = HFLearner(model, c, tok.pad_token_id)
    one_update(learner)
    return learner, tok, c


def test_full_weights_load_with_auto_model(tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM

    learner, tok, c = _trained("tiny-random")
    path = ck.save_checkpoint(tmp_path, 1, c, model=learner.model, learner=learner, tokenizer=tok)
    model = AutoModelForCausalLM.from_pretrained(path / "model")
    assert not torch.equal(_logits(model), _logits(tiny_random(0)[0]))  # the trained weights, not the initial ones
    assert torch.allclose(_logits(model), _logits(learner.model), atol=1e-5)
    _tokenizer_round_trips(path / "model", tok)


def test_lora_adapter_loads_with_auto_peft_model_on_a_base_saved_to_disk(tmp_path: Path) -> None:
    from peft import AutoPeftModelForCausalLM

    base = tmp_path / "base"
    model, tok = tiny_random(0)
    model.save_pretrained(base)
    tok.save_pretrained(base)
    learner, tok, c = _trained(str(base), "model.lora=true", "model.lora_r=2")
    path = ck.save_checkpoint(tmp_path / "run", 1, c, model=learner.model, learner=learner, tokenizer=tok)
    adapter = json.loads((path / "model" / "adapter_config.json").read_text())
    assert adapter["base_model_name_or_path"] == str(base.resolve())
    peft_model = AutoPeftModelForCausalLM.from_pretrained(path / "model")
    assert torch.allclose(_logits(peft_model), _logits(learner.model), atol=1e-5)
    assert not torch.allclose(_logits(peft_model), _logits(model), atol=1e-5)  # the adapter is not a no-op
    _tokenizer_round_trips(path / "model", tok)
    merged, tok2 = load(str(path / "model"))  # azr's own loader: base by spec, adapter merged
    assert torch.allclose(_logits(merged), _logits(learner.model), atol=1e-5)
    assert len(tok2) == len(tok)


def test_lora_adapter_records_the_spec_not_a_cache_path(tmp_path: Path) -> None:
    # a packaged base loads from ~/.cache/azr/packaged/...; the checkpoint must name it by its spec instead
    learner, tok, _ = _trained("tiny-random", "model.lora=true", "model.lora_r=2")
    packaged = load_config(None, ["model.spec=packaged:qwen2.5-coder-0.5b-instruct", "model.lora=true"])
    path = ck.save_checkpoint(tmp_path, 1, packaged, model=learner.model, tokenizer=tok)
    adapter = json.loads((path / "model" / "adapter_config.json").read_text())
    assert adapter["base_model_name_or_path"] == "packaged:qwen2.5-coder-0.5b-instruct"
    # a spec PEFT cannot resolve itself (tiny-random, packaged:NAME) loads through azr.models.load
    c = load_config(None, ["model.spec=tiny-random", "model.lora=true"])
    path = ck.save_checkpoint(tmp_path / "tiny", 1, c, model=learner.model, tokenizer=tok)
    merged, _ = load(str(path / "model"))
    assert torch.allclose(_logits(merged), _logits(learner.model), atol=1e-5)


def test_the_trainer_saves_the_tokenizer_with_every_checkpoint(tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM

    from azr.models import ModelError
    from azr.trainer import train

    run = tmp_path / "r"
    train(cfg("trainer.steps=1", "selfplay.batch_size=1", "rollout.max_new_tokens=8"), run, console=QUIET)
    step = ck.latest_checkpoint(run)
    _tokenizer_round_trips(step / "model", tiny_random(0)[1])
    # a run directory and a checkpoint directory are model specs too: both stand for the newest model/
    trained = _logits(AutoModelForCausalLM.from_pretrained(step / "model"))
    for spec in (run, step):
        assert torch.equal(_logits(load(str(spec))[0]), trained)
    (run / "empty" / "checkpoints").mkdir(parents=True)
    with pytest.raises(ModelError, match="no complete checkpoint"):
        load(str(run / "empty"))
