"""Built-in `oracle` and `junk` models: rollout backends that need no weights and prove the harness.

The oracle answers every item with its gold solution in the format the prompt asks for, so any score below
100 % is a harness (or data) bug; junk answers with well-formed nonsense, so any score above 0 % is a
verifier that accepts wrong answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from azr.eval.benchmarks import BENCHMARKS, Item
from azr.rollout.base import Completion, SamplingParams

JUNK_ANSWER = "I do not know."


def gold_response(item: Item, template: str) -> str:
    """The full response (prefill included) that states the item's gold answer."""
    kind = BENCHMARKS[item.benchmark].kind
    if kind == "cruxeval-o":
        body = f"```output\n{item.gold}\n```"
    elif kind == "cruxeval-i":
        body = f"```input\n{item.gold}\n```"
    elif kind == "code":
        body = f"```python\n{item.gold}\n```"
    else:
        body = f"\\boxed{{{item.gold}}}"
    if template == "plain":
        return body
    # the skeleton a `rollout.prefill_answer` prompt ends with is a prefix of this text, so it fits either prefill
    return f"<think>\n</think>\n<answer>\n{body}\n</answer>"


def junk_response(item: Item, template: str) -> str:
    return JUNK_ANSWER if template == "plain" else f"<think>\n</think>\n<answer>\n{JUNK_ANSWER}\n</answer>"


def _continuation(prompt: str, response: str) -> str:
    """The part of `response` a model would generate after `prompt`: the longest prefix of the response that the
    prompt already ends with (its prefill) is dropped."""
    for j in range(min(len(prompt), len(response)), 0, -1):
        if prompt.endswith(response[:j]):
            return response[j:]
    return response


class ScriptedEvalBackend:
    """A `RolloutBackend` that answers each known prompt with a fixed response (every sample the same)."""

    def __init__(self, answers: dict[str, str]):
        self.answers = answers

    def generate(self, prompts: Sequence[str], params: SamplingParams, n: int = 1) -> list[list[Completion]]:
        out = []
        for p in prompts:
            text = _continuation(p, self.answers.get(p, JUNK_ANSWER))
            out.append([Completion(prompt=p, text=text, prompt_ids=(), token_ids=(), logprobs=()) for _ in range(n)])
        return out

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def sync_weights(self, model: Any) -> None:
        return None


def fake_backend(kind: str, items: list[Item], prompts: list[str], template: str) -> ScriptedEvalBackend:
    """`oracle` or `junk` backend for these items, whose rendered prompts are `prompts`."""
    make = gold_response if kind == "oracle" else junk_response
    return ScriptedEvalBackend({p: make(it, template) for it, p in zip(items, prompts)})
