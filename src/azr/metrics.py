"""Per task x role statistics and phase timers for one self-play step (keys: docs/ARCHITECTURE.md "Run directory").

`RoleStats` collects one record per response (proposal or solver answer) and summarises it into flat
`<type>/<role>/<name>` keys. `advantage_metrics` makes a dead learning signal visible: per task x role the mean
|advantage|, its standard deviation and the fraction of exactly-zero advantages, plus `adv/degenerate_groups`, the
fraction of non-empty task x role groups whose rewards are all equal (so their TRR++ advantages are all 0).
`PhaseTimer` accumulates wall time per named phase (`generate`, `executor`, `update`, `other`, `total`). Writers (jsonl, TensorBoard, W&B) live with the trainer; this module only computes
numbers and returns them.
"""

from __future__ import annotations

import ast
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from azr.algo.advantages import all_equal
from azr.executor.values import parse_quietly
from azr.learner.base import Sample
from azr.tasks.types import Role, TaskType


def ast_nodes(program: str) -> int | None:
    """Program size as an AST node count (a cheap complexity measure); None if it does not parse."""
    try:
        return sum(1 for _ in ast.walk(parse_quietly(program, "exec")))
    except Exception:
        return None


@dataclass
class _Group:
    count: int = 0
    format_errors: int = 0
    valid: int = 0
    correct: int = 0
    rewards: list[float] = field(default_factory=list)
    solve_rates: list[float] = field(default_factory=list)
    learnability: list[float] = field(default_factory=list)
    response_lens: list[int] = field(default_factory=list)
    program_chars: list[int] = field(default_factory=list)
    program_nodes: list[int] = field(default_factory=list)
    rejections: Counter = field(default_factory=Counter)


def _mean(xs: list) -> float:
    return float(sum(xs) / len(xs)) if xs else 0.0


class RoleStats:
    """Accumulates per (task type, role) records during a step."""

    def __init__(self) -> None:
        self._groups: dict[tuple[TaskType, Role], _Group] = defaultdict(_Group)

    def proposal(
        self,
        task_type: TaskType,
        *,
        format_ok: bool,
        reason: str | None,
        reward: float,
        response_len: int,
        program: str = "",
        solve_rate: float | None = None,
        learnability: float | None = None,
    ) -> None:
        g = self._groups[(task_type, Role.PROPOSE)]
        g.count += 1
        g.format_errors += not format_ok
        g.rewards.append(reward)
        g.response_lens.append(response_len)
        if reason is None:
            g.valid += 1
            if program:
                g.program_chars.append(len(program))
                n = ast_nodes(program)
                if n is not None:
                    g.program_nodes.append(n)
        else:
            g.rejections[reason] += 1
        if solve_rate is not None:
            g.solve_rates.append(solve_rate)
        if learnability is not None:
            g.learnability.append(learnability)

    def answer(
        self,
        task_type: TaskType,
        *,
        format_ok: bool,
        correct: bool,
        reward: float,
        response_len: int,
        program: str = "",
    ) -> None:
        g = self._groups[(task_type, Role.SOLVE)]
        g.count += 1
        g.format_errors += not format_ok
        g.correct += correct
        g.rewards.append(reward)
        g.response_lens.append(response_len)
        if program:  # induction answers are programs
            g.program_chars.append(len(program))
            n = ast_nodes(program)
            if n is not None:
                g.program_nodes.append(n)

    def summary(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for (t, role), g in sorted(self._groups.items(), key=lambda kv: (kv[0][0].value, kv[0][1].value)):
            p = f"{t.value}/{role.value}/"
            n = max(g.count, 1)
            out[p + "count"] = float(g.count)
            out[p + "format_error_rate"] = g.format_errors / n
            out[p + "reward_mean"] = _mean(g.rewards)
            out[p + "response_len_mean"] = _mean(g.response_lens)
            out[p + "program_chars_mean"] = _mean(g.program_chars)
            out[p + "program_ast_nodes_mean"] = _mean(g.program_nodes)
            if role is Role.PROPOSE:
                out[p + "valid_rate"] = g.valid / n
                out[p + "solve_rate"] = _mean(g.solve_rates)
                out[p + "learnability_mean"] = _mean(g.learnability)
                for reason, c in sorted(g.rejections.items()):
                    out[p + f"rejections/{reason}"] = float(c)
            else:
                out[p + "solve_rate"] = g.correct / n
        return out


def advantage_metrics(samples: Sequence[Sample], advantages: Sequence[float]) -> dict[str, float]:
    """`<type>/<role>/adv_abs_mean`, `.../adv_std` (population) and `.../adv_zero_frac` for every task x role group
    with trained samples, and `adv/degenerate_groups` over those groups."""
    groups: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    for s, a in zip(samples, advantages):
        groups[(s.task_type.value, s.role.value)].append((s.reward, float(a)))
    out: dict[str, float] = {}
    degenerate = 0
    for (t, role), pairs in sorted(groups.items()):
        adv = [a for _, a in pairs]
        mean = sum(adv) / len(adv)
        p = f"{t}/{role}/"
        out[p + "adv_abs_mean"] = sum(abs(a) for a in adv) / len(adv)
        out[p + "adv_std"] = (sum((a - mean) ** 2 for a in adv) / len(adv)) ** 0.5
        out[p + "adv_zero_frac"] = sum(a == 0.0 for a in adv) / len(adv)
        degenerate += all_equal([r for r, _ in pairs])
    out["adv/degenerate_groups"] = degenerate / len(groups) if groups else 0.0
    return out


class PhaseTimer:
    """Wall time per phase. Phases do not nest: `executor` time inside a `generate` block would be counted
    twice, so callers time leaf phases only; `other` = total - the named phases."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self._start = time.perf_counter()

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - t0

    def summary(self) -> dict[str, float]:
        total = time.perf_counter() - self._start
        out = {f"timing/{k}": v for k, v in self.seconds.items()}
        for k in ("generate", "executor", "update"):
            out.setdefault(f"timing/{k}", 0.0)
        out["timing/other"] = max(0.0, total - sum(self.seconds.values()))
        out["timing/total"] = total
        return out
