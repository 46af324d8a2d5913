"""Rewards are pure functions; every value below is computed by hand."""

from __future__ import annotations

import pytest

from azr.config import SelfPlayConfig
from azr.rewards import combine, learnability, proposer_reward, solver_reward

SP = SelfPlayConfig()


@pytest.mark.parametrize(
    "rate,expected", [(0.0, 0.0), (1.0, 0.0), (0.125, 0.875), (0.5, 0.5), (0.875, 0.125), (None, 0.0)]
)
def test_learnability_is_zero_at_both_extremes(rate, expected):
    assert learnability(rate) == pytest.approx(expected)


def test_official_learnability_gives_minus_half_at_extremes():
    assert learnability(0.0, "official") == -0.5
    assert learnability(1.0, "official") == -0.5
    assert learnability(0.25, "official") == 0.75


def test_proposer_reward():
    assert proposer_reward(False, True, 0.0, SP) == -1.0  # invalid
    assert proposer_reward(True, False, 0.75, SP) == -1.0  # valid but broken think/answer format
    assert proposer_reward(True, True, 0.75, SP) == 0.75
    assert proposer_reward(True, True, 0.0, SP) == 0.0  # paper Eq. 4 (official: -0.5 via the variant)
    assert proposer_reward(True, True, learnability(1.0, "official"), SP) == -0.5


def test_solver_reward():
    assert solver_reward(False, True, None, SP) == -1.0
    assert solver_reward(True, True, None, SP) == 1.0
    assert solver_reward(True, False, None, SP) == -0.5
    assert solver_reward(True, False, 0.6, SP) == -0.5  # binary by default
    frac = SelfPlayConfig(solver_reward="fraction")
    assert solver_reward(True, False, 0.6, frac) == 0.6
    assert solver_reward(True, False, 0.0, frac) == -0.5
    assert solver_reward(True, True, 1.0, frac) == 1.0


def test_intrinsic_terms_only_add_to_positive_rewards():
    assert combine(0.5, {"complexity": 0.2}) == pytest.approx(0.7)
    assert combine(-1.0, {"complexity": 0.2}) == -1.0
    assert combine(0.5, {"a": 0.5, "b": 0.5}, "multiply") == pytest.approx(0.125)
    assert proposer_reward(True, True, 0.5, SP, {"diversity": 0.1}) == pytest.approx(0.6)
