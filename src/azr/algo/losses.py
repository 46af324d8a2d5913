"""Policy loss of one update: PPO-clip surrogate, entropy bonus, optional KL to a reference, token-mean.

Pure tensor functions (shapes in comments: B sequences, T response positions, V vocabulary). The learner calls
`policy_loss` once per micro-batch with `n_tokens` = the number of response tokens in the *whole* step's batch,
so summing the micro-batch losses gives exactly the token mean over the batch (one optimizer step per self-play
step, independent of how it is micro-batched). This module does not run the model or step the optimizer.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


def masked_sum(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return (x * mask).sum()


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return (x * mask).sum() / mask.sum().clamp(min=1)


def entropy_from_logits(logits: torch.Tensor) -> torch.Tensor:
    """Entropy of each position's categorical distribution. (B, T, V) -> (B, T)."""
    logp = torch.log_softmax(logits.float(), dim=-1)
    return -(logp.exp() * logp).sum(-1)


def ppo_clip_terms(
    logprobs: torch.Tensor, old_logprobs: torch.Tensor, advantages: torch.Tensor, clip_low: float, clip_high: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token PPO-clip surrogate loss and a 0/1 'was clipped' indicator. All (B, T); advantages broadcast.

    loss = max(-A * ratio, -A * clip(ratio, 1 - clip_low, 1 + clip_high)) with ratio = exp(logp - logp_old).
    `clip_high > clip_low` is the asymmetric 'clip-higher' variant (more room to raise unlikely tokens).
    """
    ratio = torch.exp(logprobs - old_logprobs)
    unclipped = -advantages * ratio
    clipped = -advantages * torch.clamp(ratio, 1.0 - clip_low, 1.0 + clip_high)
    loss = torch.maximum(unclipped, clipped)
    return loss, (clipped > unclipped).to(loss.dtype)


def kl_k3(logprobs: torch.Tensor, ref_logprobs: torch.Tensor) -> torch.Tensor:
    """Per-token KL(pi || pi_ref) estimate 'k3' = exp(ref - logp) - (ref - logp) - 1 >= 0 (unbiased, low variance)."""
    d = ref_logprobs - logprobs
    return torch.exp(d) - d - 1.0


@dataclass(frozen=True)
class LossParts:
    loss: torch.Tensor
    """Scalar to backpropagate: this micro-batch's share of the step's token-mean loss."""
    pg_loss: float
    entropy: float
    kl: float
    clip_frac: float
    """Token sums (divided by the step's token count, like `loss`), so micro-batch values add up."""


def policy_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    n_tokens: int,
    *,
    clip_low: float = 0.2,
    clip_high: float = 0.2,
    entropy: torch.Tensor | None = None,
    entropy_coef: float = 0.0,
    ref_logprobs: torch.Tensor | None = None,
    kl_coef: float = 0.0,
) -> LossParts:
    """PPO-clip loss - entropy_coef * entropy + kl_coef * KL, token-mean over `n_tokens` response tokens.

    logprobs, old_logprobs, mask, entropy, ref_logprobs: (B, T); advantages: (B,) per sequence or (B, T).
    """
    mask = mask.to(logprobs.dtype)
    adv = advantages.unsqueeze(-1) if advantages.dim() == 1 else advantages
    denom = float(max(n_tokens, 1))
    pg, clipped = ppo_clip_terms(logprobs, old_logprobs.to(logprobs.dtype), adv.to(logprobs.dtype), clip_low, clip_high)
    pg_sum = masked_sum(pg, mask) / denom
    loss = pg_sum
    ent_sum = torch.zeros(())
    if entropy is not None:
        ent_sum = masked_sum(entropy, mask) / denom
        if entropy_coef:
            loss = loss - entropy_coef * ent_sum
    kl_sum = torch.zeros(())
    if ref_logprobs is not None:
        kl_sum = masked_sum(kl_k3(logprobs, ref_logprobs.to(logprobs.dtype)), mask) / denom
        if kl_coef:
            loss = loss + kl_coef * kl_sum
    return LossParts(
        loss=loss,
        pg_loss=float(pg_sum.detach()),
        entropy=float(ent_sum.detach()),
        kl=float(kl_sum.detach()),
        clip_frac=float(masked_sum(clipped, mask).detach() / denom),
    )
