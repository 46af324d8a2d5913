"""Transformers rollout backend: our own batched sampling loop over a KV cache.

Why not `model.generate`: we need the log-prob of every sampled token under exactly the distribution the
learner recomputes (`azr.models.logprobs`), stop strings cut at the right token, and CPU time not wasted.
The loop (1) prefills each distinct prompt once and copies its KV cache to its n samples, (2) drops finished
rows from the batch (and the cache) instead of computing padding, and (3) computes logits only for the last
position. Everything else is what `generate` does: left padding, positions that skip the padding, EOS stop.

Log-probs: `log softmax(logits / T)[token]` in float32 (before top-p; T = 1 when greedy); see
`azr.models.token_logprobs`, which the learner uses for the same numbers by a teacher-forced pass.

Seeds: every row (one sample of one prompt) draws from its own `torch.Generator` seeded by
`rollout.base.sample_seed(seed_i, j)`, one uniform number per token (inverse CDF), so a sample does not depend on
the micro-batch it lands in or the other prompts of the call (see `rollout.base`). Next to a forward pass the
per-row draws cost nothing measurable.

It does not enforce the prompt-length limit (callers drop long prompts with `count_tokens`) and does not
render prompts.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from azr.models.dtypes import autocast
from azr.models.logprobs import position_ids_from_mask
from azr.rollout.base import Completion, SamplingParams, prompt_seeds, sample_seed, stop_end


@dataclass
class _Row:
    """One sequence being generated: which prompt it answers, and what it has produced so far."""

    prompt: int
    generator: torch.Generator
    tokens: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    finish: str | None = None


class HFBackend:
    """RolloutBackend over a transformers causal LM (CPU or one GPU)."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        micro_batch_size: int = 16,
        dtype: str = "fp32",
        seed: int = 0,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        """`progress(done, total)` is called at the start and after each micro-batch (sequences), e.g. to drive a
        progress bar; `seed` seeds the backend's own generator (used by calls with no seed)."""
        self.model = model
        self.progress = progress
        self.tokenizer = tokenizer
        self.micro_batch_size = micro_batch_size
        self.dtype = dtype
        self.device = next(model.parameters()).device
        self._generator = torch.Generator(device=self.device).manual_seed(seed)
        self._pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        self._eos_ids = _eos_ids(model, tokenizer)
        # transformers 5 renamed `past_key_values` to `cache`; accept both so the backend spans versions.
        self._cache_kw = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"

    # ---- RolloutBackend -------------------------------------------------------------------------------

    def generate(self, prompts: Sequence[str], params: SamplingParams, n: int = 1) -> list[list[Completion]]:
        """For each prompt, `n` completions (in sample order); prompts are encoded without added specials."""
        encoded = [self._encode(p) for p in prompts]
        unseeded = params.seed is None and params.seeds is None
        # Only an unseeded call advances the backend's own generator (one draw), so seeded calls leave it alone.
        fallback = int(torch.randint(0, 2**62, (1,), generator=self._generator, device=self.device)) if unseeded else 0
        seeds = prompt_seeds(params, len(prompts), fallback)
        # Rows sorted by prompt length so a micro-batch pads little; a prompt's n samples stay together.
        order = sorted(range(len(prompts)), key=lambda i: len(encoded[i]))
        rows = [
            _Row(prompt=i, generator=self._row_generator(sample_seed(seeds[i], j))) for i in order for j in range(n)
        ]
        was_training = self.model.training
        self.model.eval()
        try:
            if self.progress is not None:
                self.progress(0, len(rows))
            for start in range(0, len(rows), self.micro_batch_size):
                self._generate_batch(rows[start : start + self.micro_batch_size], encoded, params)
                if self.progress is not None:
                    self.progress(min(start + self.micro_batch_size, len(rows)), len(rows))
        finally:
            self.model.train(was_training)
        out: list[list[Completion]] = [[] for _ in prompts]
        for row in rows:
            out[row.prompt].append(self._completion(prompts[row.prompt], encoded[row.prompt], row, params))
        return out

    def count_tokens(self, text: str) -> int:
        return len(self._encode(text))

    def sync_weights(self, model: Any) -> None:
        """No-op when `model` is (or wraps, as a PEFT model does in place) the backend's model; else copy weights."""
        base = model.get_base_model() if hasattr(model, "get_base_model") else model
        if base is self.model:
            return
        with torch.no_grad():
            self.model.load_state_dict(model.state_dict(), strict=True)

    def get_rng_state(self) -> dict[str, Any]:
        return {"generator": self._generator.get_state()}

    def set_rng_state(self, state: dict[str, Any]) -> None:
        self._generator.set_state(state["generator"])

    def sleep(self) -> None:
        """Nothing to free: the KV cache lives only inside a `generate` call."""

    def wake_up(self) -> None:
        """See `sleep`."""

    # ---- sampling loop ----------------------------------------------------------------------------------

    def _row_generator(self, seed: int) -> torch.Generator:
        return torch.Generator(device=self.device).manual_seed(seed)

    def _encode(self, text: str) -> list[int]:
        # Prompts arrive rendered (chat template or plain), so the tokenizer must not add BOS/EOS again.
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    @torch.inference_mode()
    def _generate_batch(self, rows: list[_Row], encoded: list[list[int]], params: SamplingParams) -> None:
        # Prefill each distinct prompt once, then give every row a copy of its prompt's cache.
        unique = list(dict.fromkeys(r.prompt for r in rows))
        width = max(len(encoded[p]) for p in unique)
        ids = torch.full((len(unique), width), self._pad_id, dtype=torch.long)
        mask = torch.zeros((len(unique), width), dtype=torch.long)
        for k, p in enumerate(unique):
            ids[k, width - len(encoded[p]) :] = torch.tensor(encoded[p])
            mask[k, width - len(encoded[p]) :] = 1
        ids, mask = ids.to(self.device), mask.to(self.device)
        positions = position_ids_from_mask(mask)
        cache = _new_cache(self.model)
        logits = self._forward(ids, mask, positions, cache)
        expand = torch.tensor([unique.index(r.prompt) for r in rows], device=self.device)
        cache.batch_select_indices(expand)
        logits, mask, next_pos = logits[expand], mask[expand], positions[expand, -1] + 1

        active = list(range(len(rows)))  # indices into `rows` of the sequences still in the batch
        max_stop = max((len(s) for s in params.stop), default=0)
        banned = torch.tensor(sorted(self._eos_ids), device=self.device) if params.suppress_eos else None
        for step in range(params.max_new_tokens):
            tokens, logprobs = _sample(logits, params, [rows[i].generator for i in active], banned)
            keep = []
            for j, (tok, lp) in enumerate(zip(tokens.tolist(), logprobs.tolist())):
                row = rows[active[j]]
                row.tokens.append(tok)
                row.logprobs.append(lp)
                if tok in self._eos_ids or (max_stop and self._hit_stop(row.tokens, params, max_stop)):
                    row.finish = "stop"
                elif step + 1 == params.max_new_tokens:
                    row.finish = "length"
                else:
                    keep.append(j)
            if not keep:
                break
            if len(keep) < len(active):  # finished rows leave the batch and the cache
                sel = torch.tensor(keep, device=self.device)
                cache.batch_select_indices(sel)
                tokens, mask, next_pos = tokens[sel], mask[sel], next_pos[sel]
                active = [active[j] for j in keep]
            mask = torch.cat([mask, mask.new_ones((len(active), 1))], dim=1)
            logits = self._forward(tokens[:, None], mask, next_pos[:, None], cache)
            next_pos = next_pos + 1

    def _forward(self, ids: torch.Tensor, mask: torch.Tensor, positions: torch.Tensor, cache: Any) -> torch.Tensor:
        """Last-position logits (B, V); the vocabulary projection of earlier positions is skipped."""
        with autocast(self.dtype, self.device.type):
            out = self.model(
                input_ids=ids,
                attention_mask=mask,
                position_ids=positions,
                use_cache=True,
                logits_to_keep=1,
                **{self._cache_kw: cache},
            )
        return out.logits[:, -1]

    def _hit_stop(self, tokens: list[int], params: SamplingParams, max_stop: int) -> bool:
        # A stop string first appears when the newest token completes it, and spans at most len(stop)
        # tokens, so decoding the tail is enough (and cheap next to a forward pass). Only when the tail holds one
        # and a `stop_after` marker is set is the whole text decoded, to see whether it follows the marker.
        tail = self.tokenizer.decode(tokens[-(max_stop + 1) :], skip_special_tokens=True)
        if not any(s in tail for s in params.stop):
            return False
        if not params.stop_after:
            return True
        text = self.tokenizer.decode(tokens, skip_special_tokens=True)
        return stop_end(text, params.stop, params.stop_after) is not None

    def _completion(self, prompt: str, prompt_ids: list[int], row: _Row, params: SamplingParams) -> Completion:
        text = self.tokenizer.decode(row.tokens, skip_special_tokens=True)
        end = stop_end(text, params.stop, params.stop_after)
        if end is not None and row.tokens[-1] not in self._eos_ids:
            # The last token completed the stop string and may carry a few characters past it.
            text = text[:end]
        return Completion(
            prompt=prompt,
            text=text,
            prompt_ids=tuple(prompt_ids),
            token_ids=tuple(row.tokens),
            logprobs=tuple(row.logprobs),
            finish_reason=row.finish or "length",
        )


def _sample(
    logits: torch.Tensor,
    params: SamplingParams,
    generators: Sequence[torch.Generator],
    banned: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample one token per row (row b draws from `generators[b]`), never one of `banned`. Returns (tokens (B,),
    log softmax(logits / T)[token] (B,), float32) where the log-prob is of the unmasked distribution (the one the
    learner recomputes)."""
    logits = logits.float()
    if params.temperature <= 0:
        logp = logits.log_softmax(-1)
        tokens = (logits.index_fill(-1, banned, float("-inf")) if banned is not None else logits).argmax(-1)
    else:
        logp = (logits / params.temperature).log_softmax(-1)
        probs = logp.exp()
        if banned is not None:
            probs = probs.index_fill(-1, banned, 0.0)
        if params.top_p < 1.0:
            # Nucleus: keep the smallest set of most likely tokens whose mass reaches top_p (at least one).
            sorted_probs, idx = probs.sort(dim=-1, descending=True)
            outside = sorted_probs.cumsum(-1) - sorted_probs >= params.top_p
            sorted_probs = sorted_probs.masked_fill(outside, 0.0)
            probs = torch.zeros_like(probs).scatter(-1, idx, sorted_probs)
        tokens = _draw(probs, generators)
    return tokens, logp.gather(-1, tokens[:, None]).squeeze(1)


def _draw(probs: torch.Tensor, generators: Sequence[torch.Generator]) -> torch.Tensor:
    """One token per row of unnormalised `probs` (B, V) by inverse CDF, with one uniform draw from row b's own
    generator, so a row's token depends only on its probabilities and its generator."""
    u = torch.cat([torch.rand(1, generator=g, device=probs.device, dtype=torch.float64) for g in generators])
    cdf = probs.double().cumsum(-1)
    tokens = torch.searchsorted(cdf, (u * cdf[:, -1])[:, None], right=True).squeeze(1).clamp(max=probs.shape[1] - 1)
    # Rounding can land past the last token with mass (u * total == total): take that token instead.
    zero = probs.gather(-1, tokens[:, None]).squeeze(1) <= 0
    if bool(zero.any()):
        last = probs.shape[1] - 1 - (probs.flip(-1) > 0).to(torch.int8).argmax(-1)
        tokens = torch.where(zero, last, tokens)
    return tokens


def _new_cache(model: Any) -> Any:
    from transformers import DynamicCache

    try:
        return DynamicCache(config=model.config)
    except TypeError:  # transformers < 4.56 builds it without a config
        return DynamicCache()


def _eos_ids(model: Any, tokenizer: Any) -> frozenset[int]:
    """EOS ids from the tokenizer and the generation config (instruct models often list two)."""
    ids = {tokenizer.eos_token_id}
    gen_eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    ids.update(gen_eos if isinstance(gen_eos, list) else [gen_eos])
    return frozenset(i for i in ids if i is not None)
