"""The HF learner under FSDP2 (`torch.distributed.fsdp.fully_shard`), and the per-rank rollout around it.

Sharding: every decoder layer (the model's `_no_split_modules`) is its own FSDP unit, then the root (embeddings,
final norm, LM head). Trainable parameters are stored as fp32 shards for every `model.dtype` (a LoRA run's
frozen base stays in the dtype it was loaded in):

| model.dtype     | one process (azr.learner.hf)                 | FSDP2 (here)                                        |
|-----------------|----------------------------------------------|-----------------------------------------------------|
| `fp32`          | fp32 weights and compute                     | fp32 shards, fp32 compute                           |
| `bf16`          | bf16 weights + hand-made fp32 masters        | fp32 shards = masters; `MixedPrecisionPolicy` casts |
|                 |                                              | to bf16 for compute, reduces grads in fp32          |
| `autocast-bf16` | fp32 weights, bf16 matmuls under autocast    | the same, sharded                                   |

So the hand-made masters are not used under FSDP: `MixedPrecisionPolicy(param_dtype=bf16, reduce_dtype=fp32)`
gives the same semantics (bf16 forward/backward on weights rounded from fp32 masters; AdamW on fp32), with the
gradient accumulated in fp32 across micro-batches rather than in bf16.

Equal to one process: every rank holds every sample of the step (the rollout and executor wrappers gathered
them), so the token-mean loss is normalised by the *global* token count on every rank; each rank backpropagates a
shard of the samples and FSDP reduce-scatters the gradient with a plain SUM (divide factor 1, not the default
average), giving the full-batch gradient. Samples are sorted by length and dealt round-robin, so ranks get
similar token counts; a rank with fewer micro-batches runs weight-0 passes, because every forward and backward
is a collective under FSDP and the ranks must make the same number of them. LoRA: PEFT injects the adapter
before sharding; frozen base weights are sharded too (half the memory each) and only the adapter trains.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator, Sequence
from typing import Any

import torch

from azr.config import Config
from azr.dist import comm, world
from azr.learner.base import Sample
from azr.learner.hf import HFLearner, apply_lora, is_peft, sequence_length


def device() -> torch.device:
    """This rank's device: its local GPU under CUDA, else the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def mixed_precision(dtype: str) -> Any:
    """The FSDP2 policy for `model.dtype` (None: parameters compute in their stored fp32)."""
    from torch.distributed.fsdp import MixedPrecisionPolicy

    if dtype == "bf16":
        return MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32)
    return None


def block_classes(model: torch.nn.Module) -> set[str]:
    """Class names of the transformer blocks (HF's `_no_split_modules`), each of which becomes an FSDP unit."""
    base = model.get_base_model() if is_peft(model) else model
    names = set(getattr(base, "_no_split_modules", None) or ())
    if not names:
        raise ValueError(f"{type(base).__name__} does not declare its transformer blocks (_no_split_modules)")
    return names


def shard_model(model: torch.nn.Module, dtype: str) -> torch.nn.Module:
    """`fully_shard` each block, then the root, over all ranks; gradients are SUM-reduced (see module doc)."""
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import FSDPModule, fully_shard

    mesh = init_device_mesh(device().type, (world().size,))
    kwargs: dict[str, Any] = {"mesh": mesh}
    policy = mixed_precision(dtype)
    if policy is not None:
        kwargs["mp_policy"] = policy
    blocks = block_classes(model)
    with comm.guard("fully_shard"):
        for module in list(model.modules()):
            if type(module).__name__ in blocks:
                fully_shard(module, **kwargs)
        fully_shard(model, **kwargs)
    for module in model.modules():
        if isinstance(module, FSDPModule):
            # The loss is already divided by the global token count: sum the ranks' gradients, do not average.
            # Plain SUM also keeps gloo working (it has no AVG / PREMUL_SUM).
            module.set_gradient_divide_factor(1.0)
            module.set_force_sum_reduction_for_comms(True)
    return model


class FSDPLearner(HFLearner):
    """`HFLearner` whose model is sharded over the ranks; `update` takes the whole step's samples on every rank
    and trains on this rank's shard of them."""

    def __init__(self, model: torch.nn.Module, cfg: Config, pad_token_id: int) -> None:
        if cfg.model.lora and not is_peft(model):
            model = apply_lora(model, cfg.model)
        with torch.no_grad():
            for p in model.parameters():
                if p.requires_grad:  # fp32 shards are the master weights (bf16 compute comes from the policy);
                    p.data = p.data.float()  # a LoRA run's frozen base stays in its loaded dtype
        super().__init__(model, cfg, pad_token_id, shard=lambda m: shard_model(m, cfg.model.dtype))

    def update(self, samples: Sequence[Sample], advantages: Sequence[float]) -> dict[str, float]:
        with comm.guard("update"):
            return super().update(samples, advantages)

    def _plan(self, items: list[tuple[Sample, float]]) -> Iterator[tuple[list[tuple[Sample, float]], float]]:
        w = world()
        order = sorted(items, key=sequence_length)
        shards = [order[r :: w.size] for r in range(w.size)]
        mb = self.cfg.optim.micro_batch_size
        passes = max(math.ceil(len(s) / mb) for s in shards)
        local = shards[w.rank]
        done = 0
        for i in range(0, len(local), mb):
            yield local[i : i + mb], 1.0
            done += 1
        for _ in range(passes - done):
            yield order[:1], 0.0  # lockstep pass: same collectives, no contribution

    def _reduce(self, totals: dict[str, float]) -> dict[str, float]:
        return comm.sum_values(totals, "update metrics")


def build(cfg: Config, model: torch.nn.Module, tokenizer: Any) -> tuple[FSDPLearner, Any]:
    """(learner, rollout) for one rank: the FSDP learner, and a `ShardedRollout` over this rank's backend.

    The HF backend generates with `mirror`, an unsharded copy of the (LoRA-injected) model in the configured
    dtype, refreshed by `sync_weights` after every update; generation cannot run on the FSDP module itself,
    because every forward there is a collective and ranks finish their shards after different numbers of
    decoding steps. vLLM loads its own engine and takes the gathered weights through its own `sync_weights`
    (for LoRA from a CPU mirror, whose adapter it merges). The vLLM path has not run here (no GPU).
    """
    from azr.dist.rollout import ShardedRollout
    from azr.rollout import make_backend

    if cfg.model.lora and not is_peft(model):
        model = apply_lora(model, cfg.model)  # before the mirror copy, so both carry the same adapter
    mirror = None
    if cfg.rollout.backend == "hf":  # generates with it, on this rank's device
        mirror = copy.deepcopy(model).to(device())
    elif cfg.model.lora:  # an engine with its own weights takes LoRA merged: the unsharded adapter model, on the
        mirror = copy.deepcopy(model)  # CPU, is the merge source its `sync_weights` reads (full FT: no copy)
    if mirror is not None:
        mirror.eval()
        for p in mirror.parameters():
            p.requires_grad_(False)
    learner = FSDPLearner(
        model, cfg, tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    )
    engine: dict[str, Any] = {}
    if cfg.rollout.backend == "vllm":
        # One engine per rank inside the torchrun job, data parallel over the ranks at tensor parallel 1: vLLM's
        # torchrun mode (external_launcher: no workers of its own) with the prompts sharded outside the engine,
        # as vLLM's torchrun data-parallel example and TRL's colocated mode do.
        engine = {"distributed_executor_backend": "external_launcher", "data_parallel_size": world().size}
    backend = make_backend(cfg, mirror if cfg.rollout.backend == "hf" else None, tokenizer, **engine)
    rollout = ShardedRollout(backend, mirror=mirror, seed=cfg.trainer.seed)
    if cfg.rollout.backend != "hf":
        rollout.sync_weights(learner.model)
    return learner, rollout
