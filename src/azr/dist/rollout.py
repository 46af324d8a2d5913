"""`ShardedRollout`: data-parallel generation behind the `RolloutBackend` protocol.

Each rank generates a contiguous shard of the call's prompts with its own backend (HF on a full copy of the
weights, or a colocated vLLM engine), passing the *global* per-prompt seeds (`SamplingParams.seeds`) so that
prompt i's samples are the ones one process would draw for it; the completions are then all-gathered in prompt
order, so every rank returns the whole call's result and the rest of the step runs identically everywhere.

Weights: the learner is sharded (FSDP2), the rollout engine needs whole tensors. `sync_weights` all-gathers the
parameters that train (all of them for full fine-tuning, only the adapter for LoRA: frozen tensors never change)
and either copies them in place into an unsharded copy (`mirror`: the HF backend's own module, or for an engine
with LoRA the CPU-side adapter model it merges from), or hands a full state dict to the backend's own
`sync_weights` (vLLM, full fine-tuning).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import torch

from azr.dist import comm
from azr.rollout.base import Completion, SamplingParams, prompt_seeds


class FullWeights:
    """A module-like view of gathered full tensors, for backends whose `sync_weights` reads `state_dict()`."""

    def __init__(self, tensors: dict[str, torch.Tensor]) -> None:
        self._tensors = tensors

    def state_dict(self) -> dict[str, torch.Tensor]:
        return dict(self._tensors)

    def named_parameters(self) -> Any:
        return iter(self._tensors.items())


def trainable_names(model: torch.nn.Module) -> list[str]:
    """Parameter names that the optimizer changes (state-dict keys of the trainable parameters)."""
    return [name for name, p in model.named_parameters() if p.requires_grad]


def gather_full(model: torch.nn.Module, names: Sequence[str] | None = None) -> dict[str, torch.Tensor]:
    """Whole tensors of `model`'s parameters (all, or `names`), all-gathered from their FSDP shards, in
    `named_parameters` order. A collective: every rank calls it with the same names."""
    wanted = None if names is None else set(names)
    out: dict[str, torch.Tensor] = {}
    with comm.guard("weight sync"), torch.no_grad():
        for name, p in model.named_parameters():
            if wanted is not None and name not in wanted:
                continue
            full = p.full_tensor() if hasattr(p, "full_tensor") else p
            out[name] = full.detach()
    return out


class ShardedRollout:
    """`RolloutBackend` over a per-rank backend; every rank returns the full, identical result."""

    def __init__(self, backend: Any, mirror: torch.nn.Module | None = None, seed: int = 0) -> None:
        """`mirror`: the unsharded module refreshed in place by `sync_weights` and then handed to the backend's
        `sync_weights` (HF: the module it generates with); None: the backend takes a full state dict."""
        self.backend = backend
        self.mirror = mirror
        self._progress: Callable[[int, int], None] | None = None
        self._call_total = 0
        # Unseeded calls still need one seed set shared by every rank; drawn from this identical RNG.
        self._rng = random.Random(seed)
        self.sync_seconds = 0.0
        """Total seconds spent in `sync_weights` (gather + copy), for the docs' weight-sync cost."""

    # ---- RolloutBackend ------------------------------------------------------------------------------

    @property
    def progress(self) -> Callable[[int, int], None] | None:
        return self._progress

    @progress.setter
    def progress(self, fn: Callable[[int, int], None] | None) -> None:
        self._progress = fn
        if hasattr(self.backend, "progress"):
            self.backend.progress = None if fn is None else self._scaled(fn)

    def _scaled(self, fn: Callable[[int, int], None]) -> Callable[[int, int], None]:
        # The local backend reports its shard; shown as the same fraction of the whole call.
        def report(done: int, total: int) -> None:
            full = self._call_total
            fn(min(full, round(done * full / total)) if total else full, full)

        return report

    def generate(self, prompts: Sequence[str], params: SamplingParams, n: int = 1) -> list[list[Completion]]:
        seeds = self._seeds(params, len(prompts))
        start, stop = comm.shard_bounds(len(prompts), *_rank_size())
        self._call_total = len(prompts) * n
        local: list[list[Completion]] = []
        if stop > start:
            local = self.backend.generate(
                list(prompts[start:stop]), replace(params, seed=None, seeds=tuple(seeds[start:stop])), n
            )
        return comm.gather_shards(local, "generate")

    def _seeds(self, params: SamplingParams, count: int) -> list[int]:
        """The global seed_i of every prompt (`azr.rollout.base.prompt_seeds`). An unseeded call draws its base
        from this wrapper's RNG, identical on every rank (a rank's own backend generator could drift: a rank
        with an empty shard does not call it)."""
        unseeded = params.seeds is None and params.seed is None
        return list(prompt_seeds(params, count, self._rng.randrange(2**62) if unseeded else 0))

    def count_tokens(self, text: str) -> int:
        return self.backend.count_tokens(text)

    def sync_weights(self, model: Any) -> None:
        t0 = time.perf_counter()
        if self.mirror is not None:
            names = trainable_names(model)
            full = gather_full(model, names)
            own = dict(self.mirror.named_parameters())
            with torch.no_grad():
                for name, tensor in full.items():
                    own[name].copy_(tensor.to(own[name].device, own[name].dtype))
            # HF: the backend's own module (a no-op); an engine: reads the mirror (vLLM merges a LoRA adapter)
            self.backend.sync_weights(self.mirror)
        else:
            self.backend.sync_weights(FullWeights(gather_full(model)))
        self.sync_seconds += time.perf_counter() - t0

    def get_rng_state(self) -> dict[str, Any]:
        inner = self.backend.get_rng_state() if hasattr(self.backend, "get_rng_state") else {}
        return {"backend": inner, "sharded": self._rng.getstate()}

    def set_rng_state(self, state: dict[str, Any]) -> None:
        """This wrapper's state, or a bare backend's (a one-process run continued on N ranks: its unseeded-call RNG
        was the backend's own, so this wrapper's stays as seeded)."""
        inner = state.get("backend") if "sharded" in state else state
        if hasattr(self.backend, "set_rng_state") and inner:
            self.backend.set_rng_state(inner)
        if "sharded" in state:
            version, internal, gauss = state["sharded"]
            self._rng.setstate((version, tuple(internal), gauss))  # torch.load may hand back lists

    def sleep(self) -> None:
        if hasattr(self.backend, "sleep"):
            self.backend.sleep()

    def wake_up(self) -> None:
        if hasattr(self.backend, "wake_up"):
            self.backend.wake_up()

    def __getattr__(self, name: str) -> Any:  # backend-specific extras (e.g. `tokenizer`) pass through
        if name == "backend":
            raise AttributeError(name)
        return getattr(self.backend, name)


def _rank_size() -> tuple[int, int]:
    from azr.dist import world

    w = world()
    return w.rank, w.size
