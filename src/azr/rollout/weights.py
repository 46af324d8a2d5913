"""The weights an inference engine needs from the learner's model, in checkpoint (Hugging Face) names.

An engine such as vLLM holds its own copy of the model and cannot run a PEFT adapter that lives in the learner's
modules, so a LoRA model is handed over merged: each adapted weight becomes `W + scale * B @ A`, computed one
tensor at a time from the adapter's own `get_delta_weight` (the training weights are never modified, unlike
`merge_adapter()` + `unmerge_adapter()`, whose round trip drifts the base weights by rounding). Pushing merged
weights was cheaper than refreshing a vLLM LoRA adapter every step on the tiny model (docs/rollout.md).

Torch only; no engine import, so the main test suite checks it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch


def engine_weights(model: Any) -> Iterator[tuple[str, torch.Tensor]]:
    """(name, tensor) for every weight of `model` as a plain checkpoint of its base architecture would hold it.

    A plain transformers model yields its state dict (tensors shared, not copied). A PEFT LoRA model yields the
    base model's state dict with each adapted weight merged with its active adapters (float32 merge, cast back to
    the weight's dtype) and without the adapter tensors. Tensors are detached; nothing is modified.
    """
    if not hasattr(model, "peft_config"):
        for name, tensor in model.state_dict().items():
            yield name, tensor.detach()
        return
    base = model.get_base_model()
    deltas = _lora_modules(base)
    for key, tensor in base.state_dict().items():
        if ".lora_" in key:
            continue  # adapter tensors: folded into the base weight below
        name = key.replace(".base_layer.", ".")
        module = deltas.get(name.removesuffix(".weight")) if name.endswith(".weight") else None
        if module is None or module.merged:  # merged: the base weight already holds the adapter
            yield name, tensor.detach()
            continue
        with torch.no_grad():
            merged = tensor.detach().float()
            for adapter in module.active_adapters:
                if adapter in module.lora_A:
                    merged = merged + module.get_delta_weight(adapter).float()
        yield name, merged.to(tensor.dtype)


def _lora_modules(base: torch.nn.Module) -> dict[str, Any]:
    """Module name -> PEFT LoRA layer, for the layers whose weight an adapter changes."""
    from peft.tuners.lora import LoraLayer

    out = {}
    for name, module in base.named_modules():
        if isinstance(module, LoraLayer):
            if any(module.use_dora.get(a, False) for a in module.active_adapters):
                raise ValueError(f"{name}: DoRA adapters cannot be merged into engine weights (use plain LoRA)")
            out[name] = module
    return out
