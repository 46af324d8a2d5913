"""Data-parallel self-play on PyTorch's own stack: `torchrun` launch, FSDP2 learner, DCP checkpoints.

N processes compute what one process computes on the whole step (docs/distributed.md). Nothing in
`azr.selfplay.step` knows the world size: the trainer swaps in wrappers behind the seams the step already uses.

- `launch`      process group from the torchrun environment (NCCL on CUDA, gloo on CPU, bounded timeouts),
                `azr train --nproc N` -> torchrun, per-rank logging, the one-line error when a rank is lost
- `comm`        deterministic collectives: contiguous shards, ordered all-gathers, sums, identity checks
- `rollout`     `ShardedRollout`: each rank generates its shard of the prompts with the global per-prompt seeds
- `executor`    `ShardedExecutor`: each rank runs its shard of the requests in its own executor
- `fsdp`        `FSDPLearner`: HF learner under `fully_shard`, loss normalised by the global token count
- `checkpoint`  DCP save/load (sharded), resume at any world size, `azr export` to a consolidated HF directory
- `memory`      what fits per GPU (params, grads, optimizer, activations, vLLM KV cache)

This package is imported lazily by the trainer; a single-process run never initialises torch.distributed.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class World:
    """This process's place in the job; rank 0 of size 1 when torch.distributed is not initialised."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    local_size: int = 1

    @property
    def main(self) -> bool:
        """Rank 0 prints progress and writes the run directory; the other ranks only compute."""
        return self.rank == 0


def active() -> bool:
    """True when this process is part of a process group (a torchrun job, or a 1-rank resume of a DCP run)."""
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized()


def world() -> World:
    if not active():
        return World()
    import os

    import torch.distributed as dist

    size = dist.get_world_size()
    local = int(os.environ.get("LOCAL_WORLD_SIZE", size))
    return World(dist.get_rank(), size, int(os.environ.get("LOCAL_RANK", 0)), local)


def is_main() -> bool:
    return world().main


def check_step(ctx: object, step: int) -> None:
    """Raise `comm.DistError` unless every rank holds the same buffers and self-play sampler state after `step`
    (what makes the ranks' next step, and TRR++ over the global batch, identical)."""
    from azr.dist import comm

    snap = ctx.buffers.snapshot()  # type: ignore[attr-defined]
    tasks = {t.value: [(seq, task.to_json()) for seq, task in d.items()] for t, d in snap["tasks"].items()}
    seqs = {t.value: n for t, n in snap["next_seq"].items()}
    state = comm.digest([tasks, seqs, ctx.rng.getstate()])  # type: ignore[attr-defined]
    comm.check_identical(f"buffers and sampler state after step {step}", state)
