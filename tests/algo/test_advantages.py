"""Advantage estimators: hand-computed values, invariants, degenerate groups, loop-vs-vectorised equivalence."""

from __future__ import annotations

import math

import pytest
import torch

from azr.algo import advantages as adv
from azr.algo.advantages import compute, group_ids, whiten_by_group, whiten_by_group_loop

S = 1 / math.sqrt(2)


def close(a: torch.Tensor, b: list[float], tol: float = 1e-5) -> None:
    assert a.dtype == torch.float32
    assert torch.allclose(a, torch.tensor(b, dtype=torch.float32), atol=tol), (a.tolist(), b)


def test_registry_names() -> None:
    assert set(adv.ESTIMATORS) == {"trr++", "reinforce++", "grpo", "rloo"}
    with pytest.raises(ValueError, match="unknown advantage estimator"):
        compute("ppo", [1.0], ["a"], ["p"], [1])


def test_trrpp_whitens_within_each_task_role_group() -> None:
    # group a: mu 0, var (1+1)/(2-1) = 2 -> +-1/sqrt(2); group b: equal rewards -> 0; group c: one sample -> 0
    r = [1.0, 0.5, -1.0, 0.5, 0.5, 3.0]
    tg = [
        ("ded", "solve"),
        ("abd", "propose"),
        ("ded", "solve"),
        ("abd", "propose"),
        ("abd", "propose"),
        ("ind", "solve"),
    ]
    out = compute("trr++", r, tg, list(range(6)), [5] * 6, eps=0.0)
    close(out, [S, 0.0, -S, 0.0, 0.0, 0.0])


def test_trrpp_per_group_mean_is_zero() -> None:
    g = torch.Generator().manual_seed(0)
    r = torch.randn(40, generator=g)
    tg = [i % 6 for i in range(40)]
    out = compute("trr++", r, tg, list(range(40)), [1] * 40)
    for k in range(6):
        assert abs(float(out[k::6].mean())) < 1e-5


def test_sample_vs_token_statistics() -> None:
    # rewards [1, 0], lengths [3, 1].
    # sample: mu 0.5, var 0.5 -> +-0.5/sqrt(0.5) = +-0.7071
    # token: weights 3, 1: mu = 3/4; ss = 3*0.25^2 + 1*0.75^2 = 0.75; var = 0.75/(4-1) = 0.25 -> [0.5, -1.5]
    close(compute("trr++", [1.0, 0.0], ["g", "g"], ["p", "q"], [3, 1], stats="sample", eps=0.0), [S, -S])
    close(compute("trr++", [1.0, 0.0], ["g", "g"], ["p", "q"], [3, 1], stats="token", eps=0.0), [0.5, -1.5])


def test_token_stats_equal_sample_stats_for_equal_lengths_up_to_bessel() -> None:
    # Equal lengths L: token mean = sample mean; token var uses N*L - 1 instead of N - 1.
    r = [1.0, 0.0, 0.0, 1.0]
    tok = compute("trr++", r, ["g"] * 4, list(range(4)), [1] * 4, stats="token", eps=0.0)
    smp = compute("trr++", r, ["g"] * 4, list(range(4)), [1] * 4, stats="sample", eps=0.0)
    close(tok, smp.tolist())


def test_reinforce_pp_uses_one_global_baseline() -> None:
    # mu 0, var (1 + 1 + 0 + 0)/3 = 2/3 -> 1/sqrt(2/3) = 1.2247
    out = compute("reinforce++", [1.0, -1.0, 0.0, 0.0], ["a", "b", "c", "d"], list(range(4)), [2] * 4, eps=0.0)
    close(out, [1.2247449, -1.2247449, 0.0, 0.0])


def test_grpo_groups_by_prompt() -> None:
    # prompt p: [1, 0] -> +-0.7071; prompt q: [2, 2] -> 0; prompt s: single -> 0
    out = compute("grpo", [1.0, 0.0, 2.0, 2.0, 5.0], ["a"] * 5, ["p", "p", "q", "q", "s"], [1] * 5, eps=0.0)
    close(out, [S, -S, 0.0, 0.0, 0.0])


def test_rloo_leave_one_out() -> None:
    # group [1, 0, 0.5]: 1 - (0 + 0.5)/2 = 0.75; 0 - 0.75 = -0.75; 0.5 - 0.5 = 0; singleton -> 0
    out = compute("rloo", [1.0, 0.0, 0.5, 7.0], ["a"] * 4, ["p", "p", "p", "q"], [1] * 4)
    close(out, [0.75, -0.75, 0.0, 0.0])


@pytest.mark.parametrize("name", ["trr++", "reinforce++", "grpo", "rloo"])
def test_degenerate_inputs(name: str) -> None:
    assert compute(name, [], [], [], []).shape == (0,)
    close(compute(name, [0.7], ["a"], ["p"], [4]), [0.0])
    close(compute(name, [0.3, 0.3, 0.3], ["a"] * 3, ["p"] * 3, [1, 2, 3]), [0.0, 0.0, 0.0])
    # near-equal rewards (rounding noise) must not be amplified into +-1 advantages
    out = compute(name, [0.1 + 0.2, 0.3], ["a"] * 2, ["p"] * 2, [1, 1])
    assert float(out.abs().max()) < 1e-6


def test_length_mismatch_raises() -> None:
    with pytest.raises(ValueError):
        compute("trr++", [1.0, 2.0], ["a"], ["p", "q"], [1, 1])


def test_group_ids_dense_in_first_seen_order() -> None:
    assert group_ids(["x", "y", "x", ("a", 1)]).tolist() == [0, 1, 0, 2]


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("stats", ["sample", "token"])
def test_vectorised_matches_loop(seed: int, stats: str) -> None:
    g = torch.Generator().manual_seed(seed)
    n = int(torch.randint(1, 60, (1,), generator=g))
    n_groups = int(torch.randint(1, 8, (1,), generator=g))
    # discrete rewards as in AZR (-1, -0.5, 0, 1) plus continuous ones, so equal-reward groups occur too
    choices = torch.tensor([-1.0, -0.5, 0.0, 1.0])
    r = choices[torch.randint(0, 4, (n,), generator=g)] if seed % 2 else torch.randn(n, generator=g)
    groups = torch.randint(0, n_groups, (n,), generator=g)
    lengths = torch.randint(0, 50, (n,), generator=g)
    w = adv._weights(lengths, stats)
    fast = whiten_by_group(r, groups, w, 1e-6)
    slow = whiten_by_group_loop(r, groups, w, 1e-6)
    assert torch.allclose(fast, slow, atol=1e-5)


def test_per_prompt_estimators_refuse_singleton_groups_in_the_config() -> None:
    """`algo.advantage=grpo|rloo` with one sample per prompt trains nothing; the config says why."""
    from azr.config import ConfigError, load_config

    for name in ("grpo", "rloo"):
        with pytest.raises(ConfigError, match="selfplay.group_size >= 2.*every advantage is 0"):
            load_config(None, [f"algo.advantage={name}"])
        assert load_config(None, [f"algo.advantage={name}", "selfplay.group_size=4"]).selfplay.group_size == 4
    with pytest.raises(ConfigError, match="multiple of selfplay.group_size"):
        load_config(None, ["selfplay.batch_size=6", "selfplay.group_size=4"])


def test_all_equal_is_the_whitening_degenerate_rule() -> None:
    from azr.algo.advantages import all_equal

    assert all_equal([1.0]) and all_equal([0.5, 0.5, 0.5]) and not all_equal([0.5, 0.5, 1.0])
    r = torch.tensor([0.5, 0.5, 1.0, 2.0, 2.0])
    adv = whiten_by_group(r, torch.tensor([0, 0, 1, 2, 2]), torch.ones(5, dtype=torch.float64), 1e-6)
    assert adv.tolist() == [0.0] * 5  # each group is degenerate by that rule
