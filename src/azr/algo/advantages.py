"""Advantage estimators: scalar rewards of one step's samples -> one advantage per sample.

A small registry of pure functions (verl `core_algos` style) so ablations pick an estimator by name and the
training step never branches on it. Every estimator has the same signature: float rewards `(N,)`, integer group
ids `(N,)` for the task-type x role groups and for the prompt groups, response lengths `(N,)`, the statistics
mode and an epsilon. The advantage is per sequence; the loss broadcasts it over the response tokens (gamma = 1,
reward on the last token, as the official code does).

Statistics (`stats`):
- `sample` (paper Eq. 8): mean and variance over the responses of a group, each response weighted once.
- `token` (official code, verl `masked_whiten`): every response *token* is a sample of its response's reward,
  so a response of L tokens weighs L times; the variance is Bessel-corrected over the group's token count.
  Long responses pull the baseline towards their reward.

Whitening is `A = (r - mu) / sqrt(var + eps)` (verl's form). Degenerate groups get zero advantage: a group of
one sample (no baseline) and a group whose rewards are all equal (nothing to prefer), so no division by a
near-zero deviation ever amplifies rounding noise.

This module imports only torch. It does not know about tasks, models or the loss.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence

import torch

Estimator = Callable[..., torch.Tensor]
ESTIMATORS: dict[str, Estimator] = {}

# Relative tolerance under which a group's rewards count as all equal (pure rounding noise).
_ZERO_VAR = 1e-12


def register(name: str) -> Callable[[Estimator], Estimator]:
    def deco(fn: Estimator) -> Estimator:
        ESTIMATORS[name] = fn
        return fn

    return deco


def group_ids(keys: Sequence[Hashable]) -> torch.Tensor:
    """Map arbitrary hashable group keys to dense ids 0..G-1 in order of first appearance. (N,) long."""
    index: dict[Hashable, int] = {}
    return torch.tensor([index.setdefault(k, len(index)) for k in keys], dtype=torch.long)


def _weights(lengths: torch.Tensor, stats: str) -> torch.Tensor:
    if stats == "sample":
        return torch.ones_like(lengths, dtype=torch.float64)
    if stats == "token":
        # A response with no tokens contributes nothing to the statistics (it has no token to train either).
        return lengths.to(torch.float64).clamp(min=0)
    raise ValueError(f"stats must be 'sample' or 'token' (got {stats!r})")


def whiten_by_group(rewards: torch.Tensor, groups: torch.Tensor, weights: torch.Tensor, eps: float) -> torch.Tensor:
    """Vectorised weighted whitening within groups. rewards, weights: (N,) float; groups: (N,) long ids.

    mu_g = sum w r / sum w;  var_g = sum w (r - mu_g)^2 / (sum w - 1)  (Bessel on the weight total, which is the
    sample count for `sample` stats and the token count for `token` stats); A = (r - mu_g) / sqrt(var_g + eps).
    """
    r = rewards.to(torch.float64)
    n_groups = int(groups.max().item()) + 1 if groups.numel() else 0
    wsum = torch.zeros(n_groups, dtype=torch.float64).index_add_(0, groups, weights)
    count = torch.zeros(n_groups, dtype=torch.float64).index_add_(0, groups, torch.ones_like(r))
    mu = torch.zeros(n_groups, dtype=torch.float64).index_add_(0, groups, weights * r) / wsum.clamp(min=1e-300)
    dev = r - mu[groups]
    ss = torch.zeros(n_groups, dtype=torch.float64).index_add_(0, groups, weights * dev * dev)
    var = ss / (wsum - 1).clamp(min=1e-300)
    scale = torch.zeros(n_groups, dtype=torch.float64).scatter_reduce_(0, groups, r.abs(), "amax", include_self=False)
    degenerate = (count < 2) | (wsum <= 1) | (var <= _ZERO_VAR * (1.0 + scale * scale))
    adv = dev / torch.sqrt(var[groups] + eps)
    return torch.where(degenerate[groups], torch.zeros_like(adv), adv).to(torch.float32)


def all_equal(rewards: Sequence[float]) -> bool:
    """The degenerate-group rule of the whitening: fewer than two rewards, or a variance that is pure rounding
    noise. Such a group's whitened advantages are all 0 (nothing to prefer within it)."""
    r = [float(x) for x in rewards]
    if len(r) < 2:
        return True
    mu = sum(r) / len(r)
    var = sum((x - mu) ** 2 for x in r) / (len(r) - 1)
    scale = max(abs(x) for x in r)
    return var <= _ZERO_VAR * (1.0 + scale * scale)


def whiten_by_group_loop(
    rewards: torch.Tensor, groups: torch.Tensor, weights: torch.Tensor, eps: float
) -> torch.Tensor:
    """Reference implementation of `whiten_by_group`, one plain Python loop per group (for equivalence tests)."""
    out = [0.0] * len(rewards)
    r = [float(x) for x in rewards]
    w = [float(x) for x in weights]
    for g in sorted(set(int(x) for x in groups)):
        idx = [i for i in range(len(r)) if int(groups[i]) == g]
        wsum = sum(w[i] for i in idx)
        if len(idx) < 2 or wsum <= 1:
            continue
        mu = sum(w[i] * r[i] for i in idx) / wsum
        var = sum(w[i] * (r[i] - mu) ** 2 for i in idx) / (wsum - 1)
        scale = max(abs(r[i]) for i in idx)
        if var <= _ZERO_VAR * (1.0 + scale * scale):
            continue
        for i in idx:
            out[i] = (r[i] - mu) / (var + eps) ** 0.5
    return torch.tensor(out, dtype=torch.float32)


# ----------------------------------------------------------------------------------------------------------------
# estimators (all share one signature; unused arguments are accepted so the registry stays uniform)


@register("trr++")
def task_relative_reinforce_pp(
    rewards: torch.Tensor,
    task_groups: torch.Tensor,
    prompt_groups: torch.Tensor,
    lengths: torch.Tensor,
    stats: str = "sample",
    eps: float = 1e-6,
) -> torch.Tensor:
    """Task-Relative REINFORCE++ (paper Eq. 8): whiten within each task-type x role group (six baselines)."""
    return whiten_by_group(rewards, task_groups, _weights(lengths, stats), eps)


@register("reinforce++")
def reinforce_pp(
    rewards: torch.Tensor,
    task_groups: torch.Tensor,
    prompt_groups: torch.Tensor,
    lengths: torch.Tensor,
    stats: str = "sample",
    eps: float = 1e-6,
) -> torch.Tensor:
    """REINFORCE++: one global baseline, whitened over the whole batch."""
    return whiten_by_group(rewards, torch.zeros_like(task_groups), _weights(lengths, stats), eps)


@register("grpo")
def grpo(
    rewards: torch.Tensor,
    task_groups: torch.Tensor,
    prompt_groups: torch.Tensor,
    lengths: torch.Tensor,
    stats: str = "sample",
    eps: float = 1e-6,
) -> torch.Tensor:
    """GRPO: whiten within each prompt group (several completions of one prompt). Singleton prompts get 0, so
    GRPO needs n > 1 completions per prompt to train anything."""
    return whiten_by_group(rewards, prompt_groups, _weights(lengths, stats), eps)


@register("rloo")
def rloo(
    rewards: torch.Tensor,
    task_groups: torch.Tensor,
    prompt_groups: torch.Tensor,
    lengths: torch.Tensor,
    stats: str = "sample",
    eps: float = 1e-6,
) -> torch.Tensor:
    """REINFORCE leave-one-out: A_i = r_i - mean_{j != i} r_j within the prompt group = n/(n-1) (r_i - mean).
    Not whitened, so `stats` and `eps` do not apply; singleton groups get 0."""
    r = rewards.to(torch.float64)
    n_groups = int(prompt_groups.max().item()) + 1 if prompt_groups.numel() else 0
    total = torch.zeros(n_groups, dtype=torch.float64).index_add_(0, prompt_groups, r)
    count = torch.zeros(n_groups, dtype=torch.float64).index_add_(0, prompt_groups, torch.ones_like(r))
    c = count[prompt_groups]
    others = (total[prompt_groups] - r) / (c - 1).clamp(min=1)
    return torch.where(c > 1, r - others, torch.zeros_like(r)).to(torch.float32)


def compute(
    name: str,
    rewards: Sequence[float] | torch.Tensor,
    task_groups: Sequence[Hashable],
    prompt_groups: Sequence[Hashable],
    lengths: Sequence[int] | torch.Tensor,
    stats: str = "sample",
    eps: float = 1e-6,
) -> torch.Tensor:
    """Advantages `(N,)` float32 for N samples with the estimator `name` (`trr++`, `reinforce++`, `grpo`, `rloo`).

    `task_groups[i]` is any hashable naming sample i's task-type x role group (e.g. `("deduction", "solve")`),
    `prompt_groups[i]` names the prompt it answers, `lengths[i]` its response token count.
    """
    if name not in ESTIMATORS:
        raise ValueError(f"unknown advantage estimator {name!r} (known: {', '.join(sorted(ESTIMATORS))})")
    r = torch.as_tensor(rewards, dtype=torch.float64).reshape(-1)
    n = r.numel()
    if not (len(task_groups) == len(prompt_groups) == len(lengths) == n):
        raise ValueError("rewards, task_groups, prompt_groups and lengths must have the same length")
    if n == 0:
        return torch.zeros(0, dtype=torch.float32)
    lens = torch.as_tensor(lengths, dtype=torch.long).reshape(-1)
    return ESTIMATORS[name](r, group_ids(task_groups), group_ids(prompt_groups), lens, stats=stats, eps=eps)
