"""Per-token log-probabilities, shared by the rollout backend and the learner.

The quantity is `log softmax(logits / T)[token]`: the model's distribution after temperature, before top-p
truncation. With the paper's top_p = 1.0 it is exactly the sampling distribution; with top_p < 1 it is the
usual (verl/OpenRLHF) choice that keeps the learner free of the truncation set. Temperature <= 0 (greedy)
uses T = 1, the model's own distribution. Both sides compute it in float32 from the same logits, so the
PPO ratio starts at 1 up to kernel noise (KV-cached decoding vs one teacher-forced pass: ~1e-5 in fp32).
"""

from __future__ import annotations

import torch

DEFAULT_CHUNK = 128
"""Rows (response positions) per chunk of `logprobs_and_entropy`: a (128, 152k) fp32 block is ~78 MB."""


def position_ids_from_mask(attention_mask: torch.Tensor) -> torch.Tensor:
    """Positions that ignore left padding: 0 at each row's first real token (as `generate` computes them)."""
    return (attention_mask.long().cumsum(-1) - 1).clamp(min=0)


def logprobs_from_logits(logits: torch.Tensor, labels: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """`log softmax(logits / T)` at `labels`. logits (..., V), labels (...) -> (...) float32."""
    logits = logits.float()
    if temperature > 0 and temperature != 1.0:
        logits = logits / temperature
    picked = logits.gather(-1, labels.unsqueeze(-1)).squeeze(-1)
    return picked - torch.logsumexp(logits, dim=-1)


def token_logprobs(
    model: torch.nn.Module,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    temperature: float = 1.0,
    response_len: int | None = None,
) -> torch.Tensor:
    """Teacher-forced log-probs of `input_ids[:, 1:]` under `model`, the same quantity the rollout returns.

    input_ids, attention_mask: (B, T), prompts left-padded, responses right-padded (mask 0 on padding).
    Returns (B, T - 1), or (B, response_len) for the last `response_len` tokens only, which skips the
    vocabulary projection over the prompt (most of the cost for long prompts). Positions on padding hold
    garbage; mask them. Gradients flow; run under `torch.no_grad()` for pi_old / reference values, and under
    `azr.models.autocast(dtype)` for `autocast-bf16`.
    """
    keep = 0 if response_len is None else response_len + 1  # logits at t predict token t + 1
    out = model(
        input_ids=input_ids,
        attention_mask=attention_mask,
        position_ids=position_ids_from_mask(attention_mask),
        use_cache=False,
        logits_to_keep=keep,
    )
    logits = out.logits[:, :-1]  # (B, T-1 or R, V)
    labels = input_ids[:, 1:] if response_len is None else input_ids[:, input_ids.shape[1] - response_len :]
    return logprobs_from_logits(logits, labels, temperature)


def logprobs_and_entropy(
    logits: torch.Tensor, labels: torch.Tensor, temperature: float = 1.0, chunk: int = DEFAULT_CHUNK
) -> tuple[torch.Tensor, torch.Tensor]:
    """`log softmax(logits / T)[labels]` and the entropy of `softmax(logits / T)`, both float32, computed `chunk`
    rows at a time. logits (..., V) in any float dtype, labels (...) -> two (...) tensors.

    The same numbers as `logprobs_from_logits` and `azr.algo.losses.entropy_from_logits(logits / T)`, without their
    full-vocabulary float32 copies: the forward pass keeps only per-row scalars, and the backward pass recomputes
    each chunk's softmax in float32 and writes the gradient straight into one tensor of the logits' dtype. With a
    (B, R, V) = (2, 128, 152k) micro-batch the reference path holds ~5 fp32 copies of 155 MB each for autograd.
    """
    t = temperature if temperature > 0 else 1.0
    flat, lab = logits.reshape(-1, logits.shape[-1]), labels.reshape(-1)
    lp, ent = _LogprobEntropy.apply(flat, lab, float(t), max(1, int(chunk)))
    return lp.view(labels.shape), ent.view(labels.shape)


def _chunk_stats(z: torch.Tensor, lab: torch.Tensor, t: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """For one chunk: log-probs (n, V) float32 of softmax(z / T), picked log-probs (n,), entropy (n,)."""
    logp = (z.float() / t).log_softmax(-1) if t != 1.0 else z.float().log_softmax(-1)
    picked = logp.gather(-1, lab[:, None]).squeeze(-1)
    entropy = -(logp.exp() * logp).sum(-1)
    return logp, picked, entropy


class _LogprobEntropy(torch.autograd.Function):
    """d lp / dz = (onehot - p) / T;  d H / dz = -p (log p + H) / T, with p = softmax(z / T)."""

    @staticmethod
    def forward(ctx, z: torch.Tensor, lab: torch.Tensor, t: float, chunk: int):  # type: ignore[override]
        lp = torch.empty(z.shape[0], dtype=torch.float32, device=z.device)
        ent = torch.empty_like(lp)
        for s in range(0, z.shape[0], chunk):
            _, lp[s : s + chunk], ent[s : s + chunk] = _chunk_stats(z[s : s + chunk], lab[s : s + chunk], t)
        ctx.save_for_backward(z, lab, ent)
        ctx.t, ctx.chunk = t, chunk
        return lp, ent

    @staticmethod
    def backward(ctx, g_lp: torch.Tensor | None, g_ent: torch.Tensor | None):  # type: ignore[override]
        z, lab, ent = ctx.saved_tensors
        t, chunk = ctx.t, ctx.chunk
        grad = torch.empty_like(z)
        for s in range(0, z.shape[0], chunk):
            e = slice(s, s + chunk)
            logp, _, _ = _chunk_stats(z[e], lab[e], t)
            p = logp.exp()
            g = torch.zeros_like(p)
            if g_lp is not None:
                g -= p * g_lp[e, None]
                g.scatter_add_(-1, lab[e, None], g_lp[e, None].float())
            if g_ent is not None:
                g -= p * (logp + ent[e, None]) * g_ent[e, None]
            grad[e] = (g / t).to(grad.dtype)
        return grad, None, None, None
