"""The three dtype policies of `model.dtype`, in one place.

`fp32`           fp32 weights, fp32 compute.
`bf16`           bf16 weights and compute (half the memory; AdamW at lr 1e-6 may round updates away).
`autocast-bf16`  fp32 master weights, bf16 matmuls under `torch.autocast` (training and generation alike).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

DTYPES: tuple[str, ...] = ("fp32", "bf16", "autocast-bf16")


def weights_dtype(dtype: str) -> torch.dtype:
    """The dtype the parameters are stored in for a `model.dtype` value."""
    if dtype not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; expected one of {', '.join(DTYPES)}")
    return torch.bfloat16 if dtype == "bf16" else torch.float32


@contextlib.contextmanager
def autocast(dtype: str, device_type: str = "cpu") -> Iterator[None]:
    """Wrap forward passes: bf16 autocast for `autocast-bf16`, nothing otherwise."""
    weights_dtype(dtype)  # validates the name
    if dtype == "autocast-bf16":
        with torch.autocast(device_type=device_type, dtype=torch.bfloat16):
            yield
    else:
        yield
