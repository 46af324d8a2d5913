"""GPU check of the distributed learner (issue 12 req 7): one FSDP2 rank on one GPU, on a model built from the
Qwen2.5-0.5B shape with random weights (no download; a device machine receives only the repository).

    python benchmarks/gpu_check_fsdp.py            # one GPU: NCCL, 1-rank process group (about 1-2 minutes)
    torchrun --nproc-per-node 2 benchmarks/gpu_check_fsdp.py   # the same on two GPUs
    python benchmarks/gpu_check_fsdp.py --tiny     # the same code on the CPU with gloo (a test runs it)

Prints one JSON line per check, then `gpu_check_fsdp: ok ...`:
- `update`      one FSDPLearner update (bf16 MixedPrecisionPolicy, fp32 master shards) on `--sequences` x
                `--tokens` synthetic samples: seconds, tokens/s, grad norm, peak device memory, and the memory model's
                estimate for the same shape (azr.dist.memory) beside it; plus the same update by the single-process
                HFLearner (hand-made fp32 masters) and the relative loss / grad-norm difference (bf16 noise level)
- `sync`        ShardedRollout.sync_weights into the bf16 rollout copy: seconds
- `step`        one self-play step (scripted rollouts, the executor, TRR++, the FSDP update), seconds
- `checkpoint`  DCP save + load of the sharded model and optimizer: seconds, bytes on disk, exact round trip
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch


def make_model(tiny: bool) -> tuple[torch.nn.Module, Any]:
    from transformers import Qwen2ForCausalLM

    from azr.dist.memory import QWEN25
    from azr.models.tiny import tiny_random, tiny_tokenizer

    tokenizer = tiny_tokenizer()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        if tiny:
            model = tiny_random(0)[0]
        else:
            model = Qwen2ForCausalLM(QWEN25["0.5B"].hf_config())
    # placeholder tokens up to the vocabulary, so every id a random model samples decodes
    tokenizer.add_tokens([f"<t{i}>" for i in range(model.config.vocab_size - len(tokenizer))])
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model.to(torch.bfloat16).eval(), tokenizer


def synthetic(n: int, tokens: int, vocab: int) -> tuple[list[Any], list[float]]:
    from azr.learner.base import Sample
    from azr.rollout.base import Completion
    from azr.tasks.types import Role, TaskType

    g = torch.Generator().manual_seed(0)
    samples, adv = [], []
    for i in range(n):
        p = torch.randint(3, vocab, (tokens // 2,), generator=g).tolist()
        r = torch.randint(3, vocab, (tokens - tokens // 2,), generator=g).tolist()
        lp = (-torch.rand(len(r), generator=g) * 4).tolist()
        samples.append(
            Sample(TaskType.DEDUCTION, Role.SOLVE, Completion("p", "t", tuple(p), tuple(r), tuple(lp)), 0.0, str(i))
        )
        adv.append(1.0 if i % 2 else -1.0)
    return samples, adv


def peak_gb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def reset(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def check_update(cfg: Any, args: argparse.Namespace, device: torch.device) -> tuple[dict, Any, Any, Any]:
    from azr.dist import world
    from azr.dist.fsdp import build
    from azr.dist.memory import estimate, shape_from_config
    from azr.learner.hf import HFLearner

    model, tok = make_model(args.tiny)
    single = HFLearner(make_model(args.tiny)[0].to(device), cfg, tok.pad_token_id)
    samples, adv = synthetic(args.sequences, args.tokens, model.config.vocab_size)
    ref = single.update(samples, adv)
    del single
    reset(device)
    learner, rollout = build(cfg, model, tok)
    t0 = time.perf_counter()
    m = learner.update(samples, adv)
    sync(device)
    seconds = time.perf_counter() - t0
    e = estimate(
        shape_from_config("0.5B", learner.model.config),
        world().size,
        micro_batch=cfg.optim.micro_batch_size,
        seq_len=args.tokens,
        response_len=args.tokens - args.tokens // 2,
    )
    model_gb = (e.masters + e.grads + e.optimizer + e.gathered + e.activations + e.rollout_weights) / 2**30
    out = {
        "check": "update",
        "seconds": round(seconds, 3),
        "tokens_per_s": round(m["tokens"] / seconds, 1),
        "loss": m["loss"],
        "grad_norm": m["grad_norm"],
        "loss_rel_diff_vs_single": abs(m["loss"] - ref["loss"]) / max(abs(ref["loss"]), 1e-12),
        "grad_norm_rel_diff_vs_single": abs(m["grad_norm"] - ref["grad_norm"]) / max(ref["grad_norm"], 1e-12),
        "peak_memory_gb": round(peak_gb(device), 2),
        "memory_model_gb": round(model_gb, 2),
    }
    return out, learner, rollout, samples


def check_sync(learner: Any, rollout: Any, device: torch.device) -> dict:
    sync(device)
    t0 = time.perf_counter()
    rollout.sync_weights(learner.model)
    sync(device)
    return {"check": "sync", "seconds": round(time.perf_counter() - t0, 3)}


def check_step(cfg: Any, learner: Any, workdir: Path) -> dict:
    from azr.buffer import TaskBuffers
    from azr.dist.executor import ShardedExecutor
    from azr.dist.rollout import ShardedRollout
    from azr.executor import Executor
    from azr.rollout.scripted import ScriptedBackend
    from azr.selfplay import SelfPlayContext, step
    from azr.tasks import prompts

    with Executor(cfg.executor) as executor:
        ctx = SelfPlayContext(
            cfg=cfg,
            rollout=ShardedRollout(ScriptedBackend(seed=cfg.trainer.seed)),
            render=lambda messages: prompts.render(messages, None, "plain"),
            executor=ShardedExecutor(executor),
            buffers=TaskBuffers(workdir / "step", cfg),
            rng=random.Random(cfg.trainer.seed),
            learner=learner,
        )
        t0 = time.perf_counter()
        out = step(ctx, 1)
    m = out.metrics
    return {
        "check": "step",
        "seconds": round(time.perf_counter() - t0, 2),
        "update_s": round(m.get("timing/update", 0.0), 2),
        "trained_sequences": m.get("update/sequences", 0.0),
        "grad_norm": m.get("update/grad_norm", float("nan")),
    }


def check_checkpoint(cfg: Any, learner: Any, workdir: Path) -> dict:
    from azr.dist import checkpoint as dckpt

    before = {
        n: (p.full_tensor() if hasattr(p, "full_tensor") else p).clone() for n, p in learner.model.named_parameters()
    }
    t0 = time.perf_counter()
    path = dckpt.save(workdir / "ckpt", 1, cfg, learner, {"x": 1}, keep=1)
    saved = time.perf_counter() - t0
    with torch.no_grad():
        for p in learner.model.parameters():
            p.zero_()
    t0 = time.perf_counter()
    dckpt.load(path, learner)
    loaded = time.perf_counter() - t0
    after = {n: (p.full_tensor() if hasattr(p, "full_tensor") else p) for n, p in learner.model.named_parameters()}
    size = sum(f.stat().st_size for f in (path / "dcp").iterdir())
    return {
        "check": "checkpoint",
        "save_s": round(saved, 2),
        "load_s": round(loaded, 2),
        "gb": round(size / 2**30, 2),
        "exact": all(torch.equal(before[n], after[n]) for n in before),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tiny", action="store_true", help="tiny random model on the CPU with gloo")
    p.add_argument("--sequences", type=int, default=8)
    p.add_argument("--tokens", type=int, default=1024, help="prompt + response tokens per synthetic sequence")
    args = p.parse_args(argv)
    if args.tiny:
        args.sequences, args.tokens = min(args.sequences, 4), min(args.tokens, 32)
    elif not torch.cuda.is_available():
        print("gpu_check_fsdp: no CUDA device here (use --tiny for the CPU code path)", file=sys.stderr)
        return 2
    from azr.config import load_config
    from azr.dist import launch
    from azr.dist.fsdp import device

    overrides = ["model.spec=tiny-random", "model.dtype=bf16", "optim.micro_batch_size=4", "optim.lr=1e-6"]
    overrides += ["selfplay.batch_size=2", "selfplay.mc_samples=2", "executor.workers=2", "dist.timeout=300"]
    cfg = load_config(None, overrides)
    start = time.perf_counter()
    with launch.process_group(cfg.dist, single=not launch.under_torchrun()) as w, tempfile.TemporaryDirectory() as tmp:
        from azr.dist import comm

        tmp = comm.broadcast(tmp)  # one checkpoint directory for every rank (rank 0's)
        dev = device()
        info: dict[str, Any] = {"device": str(dev), "world": w.size, "torch": torch.__version__}
        if dev.type == "cuda":
            info["gpu"] = torch.cuda.get_device_name(dev)
        lines = [info]
        update, learner, rollout, _ = check_update(cfg, args, dev)
        lines += [update, check_sync(learner, rollout, dev), check_step(cfg, learner, Path(tmp))]
        lines.append(check_checkpoint(cfg, learner, Path(tmp)))
        if w.main:
            for line in lines:
                print(json.dumps(line), flush=True)
            print(f"gpu_check_fsdp: ok (update, sync, step, checkpoint) in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
