"""Rollout backends turn rendered prompts into sampled completions.

A backend is chosen once from config (`rollout.backend`) and never branched on inside the loop. It returns
token ids and the per-token log-probabilities of the *sampling* policy, which the PPO ratio needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class SamplingParams:
    max_new_tokens: int = 512
    temperature: float = 1.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ("</answer>",)
    """Generation stops after any of these strings; the stop string is kept in the text."""
    seed: int | None = None
    """Seed for this call; None continues the backend's own generator."""
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
    def generate(self, prompts: Sequence[str], params: SamplingParams, n: int = 1) -> list[list[Completion]]:
        """For each prompt, `n` completions; the outer list follows `prompts`."""
        ...

    def count_tokens(self, text: str) -> int:
        """Prompt length in tokens (prompts over the limit are dropped, never truncated)."""
        ...

    def sync_weights(self, model: Any) -> None:
        """Make later generations use the weights of the trained model (no-op when they share it)."""
        ...
