"""What the policy update consumes: scored rollouts, and the learner that turns them into one update."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from azr.rollout.base import Completion
from azr.tasks.types import Role, TaskType


@dataclass(frozen=True)
class Sample:
    """One trainable response: the completion (with sampling log-probs) and its scalar reward."""

    task_type: TaskType
    role: Role
    completion: Completion
    reward: float
    prompt_group: str
    """Id of the prompt this completion answers (per-prompt estimators such as GRPO group by it)."""


class Learner(Protocol):
    def update(self, samples: Sequence[Sample], advantages: Sequence[float]) -> dict[str, float]:
        """One optimizer step over all samples (micro-batched, gradients accumulated). Returns update metrics
        (`loss`, `grad_norm`, `entropy`, `clip_frac`, `kl`, ...)."""
        ...

    @property
    def model(self) -> Any:
        """The trained model, for `RolloutBackend.sync_weights` and checkpoints."""
        ...
