"""The transformers learner: one AdamW step per self-play step over all of the step's samples.

Samples are packed into micro-batches of `optim.micro_batch_size` sequences (sorted by length, so padding stays
small); each micro-batch's loss is its share of the whole batch's token mean (`azr.algo.losses.policy_loss`), so
gradients accumulate to exactly the full-batch gradient, then one clipped optimizer step follows. Full fine-tuning
or a LoRA adapter (PEFT); weights in fp32, bf16 or fp32-with-bf16-autocast (`model.dtype`).

bf16 weights get fp32 master copies: AdamW updates the masters and the bf16 weights are rounded from them, because
at lr 1e-6 an update applied to bf16 directly (8 bits of mantissa) is mostly rounded away (docs/training.md).

The PPO ratio's pi_old is the rollout's own sampling log-probs (`Completion.logprobs`); the learner computes
pi_theta with the same helper (`azr.models.logprobs_from_logits`, same temperature) and the same function: dropout
off, as in the rollouts (`policy_mode`), so the ratio starts at 1 whatever `model.lora_dropout` or the model's own
dropout config is.
This module does not generate, compute rewards or advantages, or write checkpoints.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import nullcontext
from typing import Any

import torch

from azr.algo.losses import entropy_from_logits, policy_loss
from azr.config import Config, ModelConfig
from azr.learner.base import Sample
from azr.models import autocast, logprobs_and_entropy, logprobs_from_logits, position_ids_from_mask


def apply_lora(model: torch.nn.Module, mc: ModelConfig) -> torch.nn.Module:
    """Wrap `model` with a PEFT LoRA adapter. The adapter layers are injected into `model` in place, so a rollout
    backend holding the base model generates with the adapter too."""
    from peft import LoraConfig, get_peft_model

    targets = [t for t in mc.lora_targets if any(name.endswith(t) for name, _ in model.named_modules())]
    if not targets:
        raise ValueError(f"model.lora_targets {list(mc.lora_targets)} match no module of the model")
    lora = LoraConfig(r=mc.lora_r, lora_alpha=mc.lora_alpha, lora_dropout=mc.lora_dropout, target_modules=targets)
    return get_peft_model(model, lora, autocast_adapter_dtype=mc.lora_fp32)


def is_peft(model: Any) -> bool:
    return hasattr(model, "peft_config")


def sequence_length(item: tuple[Sample, float]) -> int:
    """Prompt + response tokens of a (sample, advantage) pair: the micro-batching sort key."""
    return len(item[0].completion.prompt_ids) + len(item[0].completion.token_ids)


def policy_mode(model: torch.nn.Module) -> None:
    """Put the model in the mode the rollouts sample in (eval: every dropout off, LoRA's included), so pi_theta
    is the function pi_old was sampled from. Layers with gradient checkpointing on keep `training` set on
    themselves (not on their submodules), because checkpointing only recomputes in training mode; such layers
    hold no dropout of their own."""
    model.eval()
    for m in model.modules():
        if getattr(m, "gradient_checkpointing", False) is True:
            m.training = True


class HFLearner:
    """`azr.learner.base.Learner` for a transformers causal LM (optionally PEFT-wrapped)."""

    def __init__(
        self,
        model: torch.nn.Module,
        cfg: Config,
        pad_token_id: int,
        *,
        shard: Callable[[torch.nn.Module], torch.nn.Module] | None = None,
    ) -> None:
        """`shard` wraps the (LoRA-injected) model and the reference model before the optimizer is built: the
        distributed learner passes FSDP2's `fully_shard` (`azr.dist.fsdp`)."""
        self.cfg = cfg
        self.pad_token_id = int(pad_token_id)
        if cfg.model.lora and not is_peft(model):
            model = apply_lora(model, cfg.model)
        if cfg.model.gradient_checkpointing:
            model.gradient_checkpointing_enable()
            if is_peft(model):
                model.enable_input_require_grads()  # checkpointed blocks need a grad-requiring input
        self._model = model
        self.ref_model = self._make_reference() if cfg.algo.kl_coef > 0 else None
        if shard is not None:
            self._model = model = shard(model)
            self.ref_model = shard(self.ref_model) if self.ref_model is not None else None
        self.device = next(model.parameters()).device
        self.params = [p for p in model.parameters() if p.requires_grad]
        if not self.params:
            raise ValueError("the model has no trainable parameters")
        # fp32 masters for low-precision trainable weights (see the module docstring); fp32 ones train in place.
        self.masters: list[torch.Tensor | None] = [
            p.detach().float().clone() if p.dtype != torch.float32 else None for p in self.params
        ]
        opt_params = [m if m is not None else p for p, m in zip(self.params, self.masters)]
        for m in opt_params:
            m.requires_grad_(True)
        self.opt_params = opt_params
        oc = cfg.optim
        self.optimizer = torch.optim.AdamW(opt_params, lr=oc.lr, betas=tuple(oc.betas), weight_decay=oc.weight_decay)
        self.steps = 0

    @property
    def model(self) -> torch.nn.Module:
        return self._model

    def _make_reference(self) -> torch.nn.Module | None:
        if is_peft(self._model):
            return None  # the reference is the base model: the adapter is disabled for its forward pass
        ref = copy.deepcopy(self._model).eval()
        for p in ref.parameters():
            p.requires_grad_(False)
        return ref

    # ------------------------------------------------------------------------------------------------------------

    def _batch(self, items: Sequence[tuple[Sample, float]]) -> dict[str, torch.Tensor]:
        """Left-padded prompts followed by right-padded responses: ids/mask (B, P + R), response mask (B, R)."""
        p_len = max(len(s.completion.prompt_ids) for s, _ in items)
        r_len = max(len(s.completion.token_ids) for s, _ in items)
        b = len(items)
        ids = torch.full((b, p_len + r_len), self.pad_token_id, dtype=torch.long)
        attn = torch.zeros((b, p_len + r_len), dtype=torch.long)
        old = torch.zeros((b, r_len), dtype=torch.float32)
        for i, (s, _) in enumerate(items):
            c = s.completion
            p, r = len(c.prompt_ids), len(c.token_ids)
            ids[i, p_len - p : p_len] = torch.tensor(c.prompt_ids, dtype=torch.long)
            ids[i, p_len : p_len + r] = torch.tensor(c.token_ids, dtype=torch.long)
            attn[i, p_len - p : p_len + r] = 1
            old[i, :r] = torch.tensor(c.logprobs[:r], dtype=torch.float32)
        batch = {
            "input_ids": ids,
            "attention_mask": attn,
            "response_mask": attn[:, p_len:].float(),
            "old_logprobs": old,
            "advantages": torch.tensor([a for _, a in items], dtype=torch.float32),
        }
        return {k: v.to(self.device) for k, v in batch.items()}

    def _forward(self, model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Logits that predict the response tokens: (B, R, V)."""
        r_len = batch["response_mask"].shape[1]
        out = model(
            input_ids=batch["input_ids"],
            attention_mask=batch["attention_mask"],
            position_ids=position_ids_from_mask(batch["attention_mask"]),
            use_cache=False,
            logits_to_keep=r_len + 1,  # logits at t predict token t + 1; skip the prompt's vocab projection
        )
        return out.logits[:, :-1]

    def _micro_batches(self, items: list[tuple[Sample, float]]) -> Iterator[list[tuple[Sample, float]]]:
        order = sorted(items, key=sequence_length)
        mb = self.cfg.optim.micro_batch_size
        for i in range(0, len(order), mb):
            yield order[i : i + mb]

    def _plan(self, items: list[tuple[Sample, float]]) -> Iterator[tuple[list[tuple[Sample, float]], float]]:
        """(micro-batch, weight) pairs of this process's share of the update; the data-parallel learner
        (`azr.dist.fsdp`) overrides it with its shard plus weight-0 passes that keep the ranks in lockstep."""
        for mb in self._micro_batches(items):
            yield mb, 1.0

    def _reduce(self, totals: dict[str, float]) -> dict[str, float]:
        """Combine the metric sums of all processes (one process: nothing to combine)."""
        return totals

    def update(self, samples: Sequence[Sample], advantages: Sequence[float]) -> dict[str, float]:
        """One optimizer step over all samples; returns `loss`, `pg_loss`, `entropy`, `kl`, `clip_frac`,
        `grad_norm`, `approx_kl` (pi_old vs pi_theta), `tokens`, `sequences`."""
        if len(samples) != len(advantages):
            raise ValueError("samples and advantages differ in length")
        items = [(s, float(a)) for s, a in zip(samples, advantages) if len(s.completion.token_ids) > 0]
        n_tokens = sum(len(s.completion.token_ids) for s, _ in items)
        if not items:
            return {"sequences": 0.0, "tokens": 0.0, "skipped": 1.0}
        ac, temp = self.cfg.algo, self.cfg.rollout.temperature
        dtype = self.cfg.model.dtype
        policy_mode(self._model)  # not train(): dropout would make the PPO ratio differ from 1 at the start
        totals = dict.fromkeys(("loss", "pg_loss", "entropy", "kl", "clip_frac", "approx_kl"), 0.0)
        try:
            for mb, weight in self._plan(items):
                batch = self._batch(mb)
                mask = batch["response_mask"]
                with autocast(dtype, self.device.type):
                    logits = self._forward(self._model, batch)
                    labels = batch["input_ids"][:, -mask.shape[1] :]
                    logprobs, entropy = self._logprobs_entropy(logits, labels, temp)
                    ref_lp = self._reference_logprobs(batch, labels, temp) if ac.kl_coef > 0 else None
                parts = policy_loss(
                    logprobs,
                    batch["old_logprobs"],
                    batch["advantages"],
                    mask,
                    n_tokens,
                    clip_low=ac.clip_low,
                    clip_high=ac.clip_high,
                    entropy=entropy,
                    entropy_coef=ac.entropy_coef,
                    ref_logprobs=ref_lp,
                    kl_coef=ac.kl_coef,
                )
                (parts.loss if weight == 1.0 else parts.loss * weight).backward()
                totals["loss"] += weight * float(parts.loss.detach())
                totals["pg_loss"] += weight * parts.pg_loss
                totals["entropy"] += weight * parts.entropy
                totals["kl"] += weight * parts.kl
                totals["clip_frac"] += weight * parts.clip_frac
                approx_kl = float(((batch["old_logprobs"] - logprobs.detach()) * mask).sum()) / n_tokens
                totals["approx_kl"] += weight * approx_kl
                del logits, logprobs, entropy, parts
            grad_norm = self._step()
        finally:
            self._model.eval()
            self._model.zero_grad(set_to_none=True)
        self.steps += 1
        totals = self._reduce(totals)
        return {**totals, "grad_norm": grad_norm, "tokens": float(n_tokens), "sequences": float(len(items))}

    def _logprobs_entropy(
        self, logits: torch.Tensor, labels: torch.Tensor, temp: float
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """pi_theta log-probs of the response tokens and the sampling distribution's entropy (after temperature).

        `optim.logprob_chunk > 0`: the fused, chunked kernel (no full-vocabulary float32 copies of the logits);
        0: the reference path, kept for `benchmarks/step.py --compare` and as the tests' ground truth."""
        chunk = self.cfg.optim.logprob_chunk
        if chunk > 0:
            logprobs, entropy = logprobs_and_entropy(logits, labels, temp, chunk)
            return logprobs, entropy if self.cfg.algo.entropy_coef else entropy.detach()
        logprobs = logprobs_from_logits(logits, labels, temp)
        # no copy of the logits at T = 1
        scaled = logits / temp if temp > 0 and temp != 1.0 else logits
        return logprobs, entropy_from_logits(scaled) if self.cfg.algo.entropy_coef else None

    def _reference_logprobs(self, batch: dict[str, torch.Tensor], labels: torch.Tensor, temp: float) -> torch.Tensor:
        ctx = self._model.disable_adapter() if self.ref_model is None else nullcontext()
        with torch.no_grad(), ctx:
            logits = self._forward(self.ref_model or self._model, batch)
            return logprobs_from_logits(logits, labels, temp)

    def _step(self) -> float:
        """Move low-precision grads onto the fp32 masters, clip, step, copy the masters back into the model."""
        for p, m in zip(self.params, self.masters):
            if m is not None:
                m.grad = None if p.grad is None else p.grad.float()
        grad_norm = float(torch.nn.utils.clip_grad_norm_(self.opt_params, self.cfg.optim.grad_clip))
        if not math.isfinite(grad_norm):
            # A non-finite gradient would poison the AdamW moments for the rest of the run: skip this update.
            self.optimizer.zero_grad(set_to_none=True)
            return grad_norm
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        with torch.no_grad():
            for p, m in zip(self.params, self.masters):
                if m is not None:
                    p.copy_(m.to(p.dtype))
        return grad_norm

    # ------------------------------------------------------------------------------------------------------------
    # checkpoint state (the model weights themselves are saved by azr.checkpoint via save_pretrained)

    def state_dict(self) -> dict[str, Any]:
        return {
            "optimizer": self.optimizer.state_dict(),
            "masters": [m for m in self.masters],
            "steps": self.steps,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        with torch.no_grad():
            for i, saved in enumerate(state.get("masters", [])):
                if saved is not None and self.masters[i] is not None:
                    self.masters[i].copy_(saved)
                    self.params[i].copy_(saved.to(self.params[i].dtype))
        self.steps = int(state.get("steps", 0))
