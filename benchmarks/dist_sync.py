"""Cost of refreshing the rollout weights from the FSDP2-sharded learner (issue 12 req 4), on this machine.

    torchrun --standalone --nproc-per-node 2 benchmarks/dist_sync.py [--shape tiny|0.5B] [--repeats 3]

Builds a randomly initialised Qwen2 of the given shape (no download), shards it with `azr.dist.fsdp.build` as
`azr train --nproc N` does (model.dtype=bf16: fp32 master shards, bf16 rollout copy), and times
`ShardedRollout.sync_weights` for full fine-tuning (every parameter all-gathered and copied into the bf16 mirror)
and for LoRA r=16 on all linears (only the adapter). Rank 0 prints one line per case: median seconds, bytes
gathered per rank, and the effective rate. CPU + gloo numbers; NCCL on a GPU node is one to two orders faster.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch


def build_model(shape: str) -> torch.nn.Module:
    from transformers import Qwen2ForCausalLM

    from azr.dist.memory import QWEN25
    from azr.models import tiny_random

    if shape == "tiny":
        return tiny_random(0, torch.bfloat16)[0]
    torch.manual_seed(0)
    return Qwen2ForCausalLM(QWEN25[shape].hf_config()).to(torch.bfloat16).eval()


def case(shape: str, lora: bool, repeats: int) -> tuple[float, int]:
    from azr.config import load_config
    from azr.dist.fsdp import build
    from azr.models.tiny import tiny_tokenizer

    overrides = ["model.spec=tiny-random", "model.dtype=bf16", f"model.lora={str(lora).lower()}"]
    cfg = load_config(None, overrides)
    learner, rollout = build(cfg, build_model(shape), tiny_tokenizer())
    trainable = [p for p in learner.model.parameters() if p.requires_grad]
    nbytes = sum(p.numel() * 4 for p in trainable)  # fp32 masters gathered whole on every rank
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        rollout.sync_weights(learner.model)
        times.append(time.perf_counter() - t0)
    del learner, rollout
    return statistics.median(times), nbytes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", default="tiny", choices=["tiny", "0.5B", "1.5B"])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from azr.config import DistConfig
    from azr.dist import launch

    with launch.process_group(DistConfig(timeout=600)) as w:
        for lora in (False, True):
            seconds, nbytes = case(args.shape, lora, args.repeats)
            if w.main:
                print(
                    f"{args.shape} {'LoRA r16' if lora else 'full'} on {w.size} ranks: sync_weights {seconds:.3f} s "
                    f"(median of {args.repeats}), {nbytes / 1e6:.1f} MB of fp32 gathered per rank, "
                    f"{nbytes / 1e6 / seconds:.0f} MB/s",
                    flush=True,
                )


if __name__ == "__main__":
    main()
