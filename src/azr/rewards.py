"""Rewards: small pure functions of results already computed by `selfplay.step` (paper Eq. 4-6).

Nothing here generates, executes or touches a buffer. Learnability takes the Monte-Carlo solve rate that the
step measured with n solver tries; the role rewards take validity / format / correctness flags.

Shaping (paper Eq. 6): a response whose `<think>…</think><answer>…</answer>` format is broken gets
`format_penalty` (-1); a well-formed but wrong solver answer gets `wrong_penalty` (-0.5); otherwise the role
reward (learnability for proposers, correctness for solvers). An invalid proposal is "not correctly formatted"
in the paper's sense (§3.1) and gets `format_penalty`, as in the official code.

[DIFF] decided: for a valid, well-formatted proposal that every try solved (or none did), the paper's Eq. 4
gives 0; the official code gives -0.5 (issue #37). Default `selfplay.learnability=paper` (0);
`official` reproduces the -0.5.
"""

from __future__ import annotations

from collections.abc import Mapping

from azr.config import SelfPlayConfig

OFFICIAL_EXTREME = -0.5
"""What the official code gives a valid, well-formatted proposal whose solve rate is 0 or 1."""


def learnability(solve_rate: float | None, variant: str = "paper") -> float:
    """r_propose = 1 - r for 0 < r < 1, else 0 (paper Eq. 4); the `official` variant gives -0.5 at the extremes.

    `solve_rate` None means no solver try could be scored (treated like 0, as the official code does)."""
    if variant not in ("paper", "official"):
        raise ValueError(f"unknown learnability variant {variant!r}")
    r = 0.0 if solve_rate is None else float(solve_rate)
    if 0.0 < r < 1.0:
        return 1.0 - r
    return 0.0 if variant == "paper" else OFFICIAL_EXTREME


def combine(base: float, intrinsic: Mapping[str, float] | None = None, method: str = "sum") -> float:
    """The combination point for optional intrinsic terms (complexity, diversity, ...; paper D.4, all off by
    default). Terms are added only to a positive role reward, as the official code does, so they can never turn
    a penalty into a reward. `sum`: r + sum(terms); `multiply`: r * prod(terms)."""
    if not intrinsic or base <= 0.0:
        return base
    if method == "sum":
        return base + sum(intrinsic.values())
    if method == "multiply":
        out = base
        for v in intrinsic.values():
            out *= v
        return out
    raise ValueError(f"unknown combine method {method!r}")


def proposer_reward(
    valid: bool,
    format_ok: bool,
    learnability: float,
    cfg: SelfPlayConfig,
    intrinsic: Mapping[str, float] | None = None,
) -> float:
    """-1 for an invalid proposal or a broken think/answer format; otherwise the learnability (plus intrinsic
    terms). With the `official` learnability variant, `learnability` is already -0.5 at the extremes."""
    if not valid or not format_ok:
        return cfg.format_penalty
    return combine(learnability, intrinsic)


def solved(format_ok: bool, correct: bool) -> bool:
    """Whether a solver response counts as solving its task: a correct answer in a broken think/answer format is
    a miss (it gets `format_penalty` as a trained sample), in the Monte-Carlo solve rate and in `solve_rate`."""
    return format_ok and correct


def solver_reward(format_ok: bool, correct: bool, fraction: float | None, cfg: SelfPlayConfig) -> float:
    """-1 for a broken format, +1 for a correct answer, -0.5 for a wrong one.

    With `selfplay.solver_reward=fraction` an induction answer (the only kind with a `fraction`) that passes
    some but not all hidden pairs gets that fraction instead of -0.5; one that passes none still gets -0.5."""
    if not format_ok:
        return cfg.format_penalty
    if correct:
        return 1.0
    if cfg.solver_reward == "fraction" and fraction is not None and fraction > 0.0:
        return float(fraction)
    return cfg.wrong_penalty
