"""Rollout backends behind one Protocol (`azr.rollout.base`), chosen once from `rollout.backend`.

The registry maps a name to an import path and is resolved lazily, so `import azr` never imports vLLM (or
torch for the scripted backend) on a machine that does not use it.
"""

from __future__ import annotations

import importlib
from typing import Any

from azr.rollout.base import Completion, RolloutBackend, SamplingParams

__all__ = ["BACKENDS", "Completion", "RolloutBackend", "SamplingParams", "make_backend"]

BACKENDS: dict[str, str] = {
    "hf": "azr.rollout.hf:HFBackend",
    "vllm": "azr.rollout.vllm:VLLMBackend",
    "scripted": "azr.rollout.scripted:ScriptedBackend",
}


def make_backend(cfg: Any, model: Any = None, tokenizer: Any = None, **kwargs: Any) -> RolloutBackend:
    """Build the backend named by `cfg.rollout.backend` (`cfg` is the full `azr.config.Config`).

    `hf` generates with `model`/`tokenizer` (the learner's own objects, so `sync_weights` is free); `vllm`
    loads its own engine copy of `cfg.model.spec` and takes the weights from the learner's model on every
    `sync_weights`; `scripted` needs no model. Extra keyword arguments go to the backend's constructor.
    """
    name = cfg.rollout.backend
    if name not in BACKENDS:
        raise ValueError(f"unknown rollout backend {name!r}; expected one of {', '.join(BACKENDS)}")
    module, _, attr = BACKENDS[name].partition(":")
    cls = getattr(importlib.import_module(module), attr)
    if name == "scripted":
        kwargs.setdefault("seed", cfg.trainer.seed)
        return cls(**kwargs)
    if name == "hf":
        return cls(
            model,
            tokenizer,
            micro_batch_size=cfg.rollout.micro_batch_size,
            dtype=cfg.model.dtype,
            seed=cfg.trainer.seed,
            **kwargs,
        )
    return cls(cfg, model, tokenizer, **kwargs)
