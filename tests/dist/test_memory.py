"""The per-GPU memory model: parameter counts from the shapes equal real models', sharding divides what FSDP
shards, the paper's GPU counts fit, and docs/distributed.md holds the table the function prints."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from azr.dist.memory import GIB, PAPER_GPUS, QWEN25, estimate, shape_from_config, table

DOCS = Path(__file__).resolve().parents[2] / "docs" / "distributed.md"


@pytest.mark.parametrize("name", list(QWEN25))
def test_parameter_count_is_the_real_models(name) -> None:
    from transformers import Qwen2ForCausalLM

    shape = QWEN25[name]
    with torch.device("meta"):
        model = Qwen2ForCausalLM(shape.hf_config())
    assert shape.params() == sum(p.numel() for p in model.parameters())
    assert shape_from_config(name, model.config) == shape


def test_lora_count_is_pefts() -> None:
    from peft import LoraConfig, get_peft_model

    from azr.models import tiny_random

    model, _ = tiny_random(0)
    shape = shape_from_config("tiny", model.config)
    peft = get_peft_model(
        model,
        LoraConfig(r=4, target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]),
    )
    assert shape.lora_params(4) == sum(p.numel() for p in peft.parameters() if p.requires_grad)


def test_fsdp_divides_the_sharded_state_and_nothing_else() -> None:
    one, four = estimate(QWEN25["7B"], 1), estimate(QWEN25["7B"], 4)
    for term in ("masters", "grads", "optimizer"):
        assert getattr(four, term) == pytest.approx(getattr(one, term) / 4)
    for term in ("gathered", "activations", "rollout_weights", "kv_tokens"):
        assert getattr(four, term) == getattr(one, term)
    assert one.masters == pytest.approx(4 * QWEN25["7B"].params()) and one.optimizer == 2 * one.masters
    lora = estimate(QWEN25["7B"], 1, lora=True)
    assert lora.optimizer == pytest.approx(8 * QWEN25["7B"].lora_params(16)) and lora.masters < one.masters / 1.9


def test_the_papers_hardware_fits_and_one_gpu_does_not_for_full_7b_and_14b() -> None:
    gpu = 80 * GIB
    for name, n in PAPER_GPUS.items():
        assert estimate(QWEN25[name], n).fits(gpu), name
    assert not estimate(QWEN25["7B"], 1).fits(gpu) and not estimate(QWEN25["14B"], 1).fits(gpu)
    assert estimate(QWEN25["14B"], 1, lora=True).fits(gpu)  # LoRA: 14B on one 80 GB GPU
    # the KV cache gets what the utilisation leaves after the weights; more utilisation, more tokens
    assert estimate(QWEN25["14B"], 8, gpu_memory_utilization=0.6).kv_tokens > 4 * estimate(QWEN25["14B"], 8).kv_tokens


def test_docs_hold_the_generated_table() -> None:
    assert table() in DOCS.read_text()
