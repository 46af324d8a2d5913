"""Per-token log-probabilities, shared by the rollout backend and the learner.

The quantity is `log softmax(logits / T)[token]`: the model's distribution after temperature, before top-p
truncation. With the paper's top_p = 1.0 it is exactly the sampling distribution; with top_p < 1 it is the
usual (verl/OpenRLHF) choice that keeps the learner free of the truncation set. Temperature <= 0 (greedy)
uses T = 1, the model's own distribution. Both sides compute it in float32 from the same logits, so the
PPO ratio starts at 1 up to kernel noise (KV-cached decoding vs one teacher-forced pass: ~1e-5 in fp32).
"""

from __future__ import annotations

import torch


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
