"""vLLM rollout backend (GPU; `pip install 'azr[vllm]'`, selected by `rollout.backend=vllm`).

Written against vLLM's offline `LLM` API (v0.10+, V1 engine) but NOT exercised in this repository's CI: the
project machines have no GPU. Treat it as a starting point that needs a GPU test run (issue #4 leaves vLLM to a
later issue); the HF backend is the reference implementation and the contract both must meet.

Log-probs: the engine runs with `logprobs_mode="processed_logprobs"`, i.e. after temperature, which is what
`azr.models.token_logprobs` recomputes when top_p = 1 (the paper's setting). With top_p < 1 vLLM reports the
log-prob after top-p renormalisation, which differs from the HF backend's pre-top-p value.

Weights: the engine holds its own copy of the model. `sync_weights` streams the learner's state dict into it
(same process, `VLLM_ENABLE_V1_MULTIPROCESSING=0`, as TRL's colocated mode does) and drops the prefix cache.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from azr.rollout.base import Completion, SamplingParams


class VLLMBackend:
    """RolloutBackend over an in-process vLLM engine."""

    def __init__(self, cfg: Any, model: Any = None, tokenizer: Any = None, gpu_memory_utilization: float = 0.5) -> None:
        # The engine must live in this process for sync_weights to reach its model.
        os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
        try:
            import vllm
        except ImportError as e:
            raise RuntimeError("rollout.backend=vllm needs vLLM on a CUDA machine: pip install 'azr[vllm]'") from e
        from azr.models.loading import converted_dir

        # vLLM loads from a directory or hub id; packaged/GGUF specs go through the azr cache first.
        path = str(converted_dir(cfg.model.spec, cfg.model.cache_dir or None) or cfg.model.spec)
        dtype = {"fp32": "float32", "bf16": "bfloat16", "autocast-bf16": "bfloat16"}[cfg.model.dtype]
        self._vllm = vllm
        self.llm = vllm.LLM(
            model=path,
            dtype=dtype,
            seed=cfg.trainer.seed,
            gpu_memory_utilization=gpu_memory_utilization,
            enable_prefix_caching=True,
            logprobs_mode="processed_logprobs",
            max_model_len=cfg.rollout.max_prompt_tokens + cfg.rollout.max_new_tokens,
        )
        self.tokenizer = tokenizer or self.llm.get_tokenizer()
        if model is not None:
            self.sync_weights(model)

    def generate(self, prompts: Sequence[str], params: SamplingParams, n: int = 1) -> list[list[Completion]]:
        sp = self._vllm.SamplingParams(
            n=n,
            temperature=params.temperature,
            top_p=params.top_p,
            max_tokens=params.max_new_tokens,
            stop=list(params.stop),
            include_stop_str_in_output=True,
            seed=params.seed,
            ignore_eos=params.suppress_eos,  # stop strings still end the sequence
            logprobs=0,  # 0 = only the sampled token's log-prob
        )
        outputs = self.llm.generate(list(prompts), sp, use_tqdm=False)
        result = []
        for prompt, out in zip(prompts, outputs):
            group = []
            for c in out.outputs:
                lps = tuple(step[tok].logprob for step, tok in zip(c.logprobs, c.token_ids))
                group.append(
                    Completion(
                        prompt=prompt,
                        text=c.text,
                        prompt_ids=tuple(out.prompt_token_ids),
                        token_ids=tuple(c.token_ids),
                        logprobs=lps,
                        finish_reason="length" if c.finish_reason == "length" else "stop",
                    )
                )
            result.append(group)
        return result

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def sync_weights(self, model: Any) -> None:
        """Copy the learner's weights into the engine (merging a PEFT adapter first)."""
        if hasattr(model, "merge_and_unload"):
            raise NotImplementedError("vLLM weight sync for LoRA needs merged weights; use the hf backend with LoRA")
        engine_model = self.llm.llm_engine.model_executor.driver_worker.worker.model_runner.model
        engine_model.load_weights(((name, p.detach()) for name, p in model.state_dict().items()))
        self.llm.reset_prefix_cache()
