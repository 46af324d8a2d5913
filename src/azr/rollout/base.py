"""Rollout backends turn rendered prompts into sampled completions.

A backend is chosen once from config (`rollout.backend`) and never branched on inside the loop. It returns
token ids and the per-token log-probabilities of the *sampling* policy, which the PPO ratio needs.

Seeding contract (every backend): sample j of prompt i is drawn from an RNG seeded by `sample_seed(seed_i, j)`
only, where `seed_i` comes from `prompt_seeds`. So a prompt's samples do not depend on which other prompts share
the call, on micro-batching or on call order, and a call split into shards that pass the matching `seeds` gives
exactly the samples of the unsplit call.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

_MASK64 = (1 << 64) - 1


@dataclass(frozen=True)
class SamplingParams:
    max_new_tokens: int = 512
    temperature: float = 1.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ("</answer>",)
    """Generation stops after any of these strings; the stop string is kept in the text."""
    stop_after: str = ""
    """Stop strings only count once this marker appears in the generated text ("" = always). selfplay passes
    "</think>" unless the prompt already ends past the reasoning (rollout.prefill_answer), so an `</answer>`
    written inside <think> does not end the response."""
    seed: int | None = None
    """Seed for this call; None continues the backend's own generator."""
    seeds: tuple[int, ...] | None = None
    """One seed per prompt (overrides `seed`). Sample j of prompt i is drawn from an RNG seeded by (seed_i, j)
    only, so a prompt's samples do not depend on which other prompts share the call, the micro-batching, or the
    call's order: data-parallel sharding passes the global per-prompt seeds for its shard."""
    suppress_eos: bool = False
    """Never sample an end-of-sequence token: a sequence ends only at a stop string or at `max_new_tokens`
    (like vLLM's `min_tokens`, but until the stop string). Recorded log-probs stay those of the unmasked
    distribution, which is what the learner recomputes."""


@dataclass(frozen=True)
class Completion:
    prompt: str
    text: str
    """Generated text only (the prompt not included), including a stop string if one ended it."""
    prompt_ids: tuple[int, ...]
    token_ids: tuple[int, ...]
    logprobs: tuple[float, ...]
    """log pi_old(token) of each generated token under the sampling distribution (after temperature)."""
    finish_reason: str = "stop"
    """`stop` (stop string or EOS) or `length` (hit max_new_tokens)."""


class RolloutBackend(Protocol):
    progress: Callable[[int, int], None] | None
    """Set by the caller; called with (sequences finished so far, sequences requested) during `generate`, first
    with 0 when the call starts. Must not change what is generated (no re-chunking, no re-seeding)."""

    def generate(self, prompts: Sequence[str], params: SamplingParams, n: int = 1) -> list[list[Completion]]:
        """For each prompt, `n` completions; the outer list follows `prompts`."""
        ...

    def count_tokens(self, text: str) -> int:
        """Prompt length in tokens (prompts over the limit are dropped, never truncated)."""
        ...

    def sync_weights(self, model: Any) -> None:
        """Make later generations use the weights of the trained model (no-op when they share it)."""
        ...

    def get_rng_state(self) -> dict[str, Any]:
        """Everything unseeded sampling depends on; picklable (`torch.save`), restores sampling exactly."""
        ...

    def set_rng_state(self, state: dict[str, Any]) -> None:
        """Restore a state from `get_rng_state`."""
        ...

    def sleep(self) -> None:
        """Free generation memory (e.g. the vLLM KV cache) before the policy update; no-op elsewhere."""
        ...

    def wake_up(self) -> None:
        """Undo `sleep()`; called after the update, before `sync_weights`."""
        ...


# ---------------------------------------------------------------------------------------------------------------
# helpers every backend shares, so the seeding and stop rules cannot drift between them


def mix(*parts: int) -> int:
    """A fixed 63-bit mix of integers (splitmix64 steps): nearby inputs give unrelated seeds."""
    h = 0x9E3779B97F4A7C15
    for p in parts:
        h = (h ^ (int(p) & _MASK64)) & _MASK64
        h = (h + 0x9E3779B97F4A7C15) & _MASK64
        h = ((h ^ (h >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
        h = ((h ^ (h >> 27)) * 0x94D049BB133111EB) & _MASK64
        h ^= h >> 31
    return h >> 1


def prompt_seeds(params: SamplingParams, n_prompts: int, fallback: int) -> tuple[int, ...]:
    """seed_i of each prompt: `params.seeds`, else a mix of (`params.seed`, i), else a mix of (`fallback`, i)
    where `fallback` is drawn from the backend's own generator (the `seed` None case)."""
    if params.seeds is not None:
        if len(params.seeds) != n_prompts:
            raise ValueError(f"SamplingParams.seeds has {len(params.seeds)} seeds for {n_prompts} prompts")
        return tuple(int(s) for s in params.seeds)
    base = params.seed if params.seed is not None else fallback
    return tuple(mix(base, i) for i in range(n_prompts))


def sample_seed(prompt_seed: int, j: int) -> int:
    """Seed of sample j of a prompt whose seed is `prompt_seed`."""
    return mix(prompt_seed, j, 0x5EED)


def stop_end(text: str, stop: Sequence[str], stop_after: str = "") -> int | None:
    """End (exclusive) of the first stop string in `text` that starts after the first `stop_after` marker, or
    None. With `stop_after` empty every stop string counts."""
    start = 0
    if stop_after:
        k = text.find(stop_after)
        if k < 0:
            return None
        start = k + len(stop_after)
    ends = [k + len(s) for s in stop if s and (k := text.find(s, start)) >= 0]
    return min(ends) if ends else None
