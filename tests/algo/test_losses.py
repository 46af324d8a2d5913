"""Policy loss: PPO-clip cases by hand, asymmetric clip, entropy, KL, token-mean over micro-batches."""

from __future__ import annotations

import math

import torch

from azr.algo.losses import entropy_from_logits, kl_k3, policy_loss, ppo_clip_terms


def t(*x: float) -> torch.Tensor:
    return torch.tensor([list(x)])


def test_ppo_clip_four_cases() -> None:
    old = t(0.0, 0.0, 0.0, 0.0)
    new = t(math.log(1.5), math.log(1.5), math.log(0.5), math.log(0.5))
    a = torch.tensor([[1.0, -1.0, 1.0, -1.0]])
    loss, clipped = ppo_clip_terms(new, old, a, 0.2, 0.2)
    # ratio 1.5, A=+1: max(-1.5, -1.2) = -1.2 (clipped); A=-1: max(1.5, 1.2) = 1.5
    # ratio 0.5, A=+1: max(-0.5, -0.8) = -0.5; A=-1: max(0.5, 0.8) = 0.8 (clipped)
    assert torch.allclose(loss, torch.tensor([[-1.2, 1.5, -0.5, 0.8]]))
    assert clipped.tolist() == [[1.0, 0.0, 0.0, 1.0]]


def test_asymmetric_clip_high() -> None:
    loss, _ = ppo_clip_terms(t(math.log(1.5)), t(0.0), t(1.0), 0.2, 0.28)
    assert torch.allclose(loss, t(-1.28))


def test_on_policy_gradient_is_minus_advantage_over_tokens() -> None:
    # ratio = 1: d loss / d logp = -A / n_tokens for each unmasked token
    lp = torch.zeros(2, 3, requires_grad=True)
    mask = torch.tensor([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    parts = policy_loss(lp, torch.zeros(2, 3), torch.tensor([2.0, -1.0]), mask, n_tokens=3)
    parts.loss.backward()
    assert torch.allclose(lp.grad, torch.tensor([[-2 / 3, -2 / 3, 0.0], [1 / 3, 0.0, 0.0]]))
    assert abs(parts.pg_loss - (-(2 + 2 - 1) / 3)) < 1e-6


def test_token_mean_adds_up_over_micro_batches() -> None:
    g = torch.Generator().manual_seed(1)
    lp, old = torch.randn(4, 5, generator=g), torch.randn(4, 5, generator=g)
    a = torch.randn(4, generator=g)
    mask = (torch.rand(4, 5, generator=g) > 0.3).float()
    n = int(mask.sum())
    whole = policy_loss(lp, old, a, mask, n)
    parts = [policy_loss(lp[i : i + 2], old[i : i + 2], a[i : i + 2], mask[i : i + 2], n) for i in (0, 2)]
    assert torch.allclose(whole.loss, parts[0].loss + parts[1].loss)
    assert abs(whole.clip_frac - sum(p.clip_frac for p in parts)) < 1e-6


def test_entropy_bonus_and_kl_terms() -> None:
    logits = torch.zeros(1, 2, 4)  # uniform over 4 -> entropy log 4
    ent = entropy_from_logits(logits)
    assert torch.allclose(ent, torch.full((1, 2), math.log(4)))
    lp = torch.zeros(1, 2)
    mask = torch.ones(1, 2)
    parts = policy_loss(lp, lp, torch.zeros(1), mask, 2, entropy=ent, entropy_coef=0.001)
    assert abs(float(parts.loss) - (-0.001 * math.log(4))) < 1e-7
    # k3 with ref - logp = log 2: 2 - log 2 - 1
    assert abs(float(kl_k3(t(0.0), t(math.log(2.0)))) - (1 - math.log(2))) < 1e-6
    assert float(kl_k3(t(0.3), t(0.3))) == 0.0
    parts = policy_loss(lp, lp, torch.zeros(1), mask, 2, ref_logprobs=torch.full((1, 2), math.log(2.0)), kl_coef=0.5)
    assert abs(float(parts.loss) - 0.5 * (1 - math.log(2))) < 1e-6
