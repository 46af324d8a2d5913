"""What one self-play step reports: per task type x role statistics and the responses saved for inspection.

Reads the values `selfplay.step` computed (rollouts, validations, solve rates, verdicts, rewards); computes nothing
the algorithm uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from azr import rewards
from azr.config import SelfPlayConfig
from azr.metrics import RoleStats
from azr.tasks import parse
from azr.tasks.types import TaskType
from azr.validate import Validation
from azr.verify import Verdict

if TYPE_CHECKING:
    from azr.selfplay import Rollout


def role_metrics(
    sp: SelfPlayConfig,
    proposals: Sequence[Rollout],
    validations: Sequence[Validation | None],
    solve_rates: Sequence[float | None],
    propose_rewards: Sequence[float | None],
    solvers: Sequence[Rollout],
    verdicts: Sequence[Verdict | None],
    solve_rewards: Sequence[float | None],
) -> dict[str, float]:
    """Per task type x role statistics (`<type>/<role>/<name>`) of the scored responses."""
    stats = RoleStats()
    for r, v, rate, reward in zip(proposals, validations, solve_rates, propose_rewards):
        if r.completion is None or v is None or reward is None:
            continue
        program = v.task.program if v.task and r.task_type is not TaskType.INDUCTION else ""
        learn = rewards.learnability(rate, sp.learnability) if v.valid else None
        fmt, n_tokens = parse.format_ok(r.text), len(r.completion.token_ids)
        stats.proposal(r.task_type, format_ok=fmt, reason=v.reason, reward=reward, response_len=n_tokens,
                       program=program, solve_rate=rate, learnability=learn)  # fmt: skip
    for r, verdict, reward in zip(solvers, verdicts, solve_rewards):
        if r.completion is None or verdict is None or reward is None:
            continue
        fmt = parse.format_ok(r.text)
        answer = parse.parse_answer(r.task_type, r.text)
        program = answer.text if r.task_type is TaskType.INDUCTION and isinstance(answer, parse.Answer) else ""
        stats.answer(r.task_type, format_ok=fmt, correct=rewards.solved(fmt, verdict.correct), reward=reward,
                     response_len=len(r.completion.token_ids), program=program)  # fmt: skip
    return stats.summary()


def generated_tokens(rollouts: Sequence[Rollout]) -> int:
    return sum(len(r.completion.token_ids) for r in rollouts if r.completion is not None)


def drop_counts(rollouts: Sequence[Rollout]) -> dict[str, float]:
    out: dict[str, float] = {}
    for r in rollouts:
        if r.completion is None:
            key = f"{r.task_type.value}/{r.role.value}/dropped_prompts"
            out[key] = out.get(key, 0.0) + 1.0
    return out


Record = tuple["Rollout", "Validation | None", "Verdict | None", "float | None"]


def inspection_samples(records: Sequence[Record], per_group: int) -> list[dict[str, Any]]:
    """The first `per_group` responses of each task type x role, as plain dicts."""
    seen: dict[tuple[str, str], int] = {}
    out = []
    for r, validation, verdict, reward in records:
        key = (r.task_type.value, r.role.value)
        if r.completion is None or seen.get(key, 0) >= per_group:
            continue
        seen[key] = seen.get(key, 0) + 1
        rec: dict[str, Any] = {"type": key[0], "role": key[1], "response": r.text, "reward": reward or 0.0}
        if validation is not None:
            rec |= {"valid": validation.valid, "reason": validation.reason, "detail": validation.detail}
            if validation.task is not None:
                rec["task"] = validation.task.to_json()
        if verdict is not None:
            rec |= {
                "correct": verdict.correct,
                "fraction": verdict.fraction,
                "reason": verdict.reason,
                "task": r.task.to_json() if r.task else None,
            }
        out.append(rec)
    return out
