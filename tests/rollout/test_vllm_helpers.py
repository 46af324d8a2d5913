"""The vLLM backend's engine-free parts (they run in the main venv, without vLLM): the token a stop string ended
at, and the weights handed to the engine (LoRA merged). Seeds and the stop rule are `rollout.base`'s, tested with
the scripted backend and by the contract suite."""

from __future__ import annotations

import copy
import dataclasses

import pytest
import torch

from azr.config import Config
from azr.models import tiny_random
from azr.rollout.vllm import VLLMBackend, first_stop_token
from azr.rollout.weights import engine_weights


def test_first_stop_token_finds_the_token_that_completed_the_stop_string():
    pieces = ["x", " </ans", "wer>", " </think>", " <", "/answer", ">", " tail"]

    def decode(tokens):
        return "".join(pieces[t] for t in tokens)

    ids = list(range(len(pieces)))
    assert first_stop_token(ids, decode, ("</answer>",), "") == 3
    assert first_stop_token(ids, decode, ("</answer>",), "</think>") == 7  # the stop before the marker does not count
    assert first_stop_token(ids[:7], decode, ("</answer>",), "</think>") == 7
    assert first_stop_token(ids[:6], decode, ("</answer>",), "</think>") is None
    assert first_stop_token(ids, decode, (), "") is None


def test_engine_weights_of_a_plain_model_are_its_state_dict():
    model, _ = tiny_random(seed=0)
    got = dict(engine_weights(model))
    want = model.state_dict()
    assert got.keys() == want.keys()
    assert all(got[k].data_ptr() == want[k].data_ptr() for k in want)  # shared, not copied


def test_engine_weights_of_a_lora_model_are_the_merged_weights_and_change_nothing():
    from peft import LoraConfig, get_peft_model

    base, _ = tiny_random(seed=0)
    lora = get_peft_model(copy.deepcopy(base), LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "down_proj"]))
    with torch.no_grad():
        for name, p in lora.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.3)
    before = {k: v.clone() for k, v in lora.state_dict().items()}
    got = dict(engine_weights(lora))
    assert got.keys() == base.state_dict().keys()  # checkpoint names, no adapter tensors
    merged = copy.deepcopy(lora).merge_and_unload().state_dict()
    for k, v in merged.items():
        torch.testing.assert_close(got[k], v, rtol=0, atol=1e-6)
    assert not torch.equal(got["model.layers.0.self_attn.q_proj.weight"], base.state_dict()[
        "model.layers.0.self_attn.q_proj.weight"])  # fmt: skip
    for k, v in lora.state_dict().items():
        assert torch.equal(v, before[k])  # the training weights are untouched
    lora.merge_adapter()  # already merged in place: handed over as it is, not merged twice
    for k, v in dict(engine_weights(lora)).items():
        torch.testing.assert_close(v, merged[k], rtol=0, atol=1e-6)


def test_tiny_random_is_refused_before_vllm_is_touched():
    cfg = Config()
    cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, spec="tiny-random"))
    with pytest.raises(ValueError, match="tiny-random lives in memory only"):
        VLLMBackend(cfg)
