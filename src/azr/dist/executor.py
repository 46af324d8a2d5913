"""`ShardedExecutor`: each rank runs a contiguous shard of an executor batch; results are all-gathered in request
order, so validation, verification and rewards come out identical on every rank.

One executor per rank, not one per node: the executor is a pool of zygote processes spoken to over pipes from
the process that owns it, so a per-node service would need its own server, protocol and failure handling; per
rank, the existing pool and its restart logic carry over unchanged, and the program-execution work scales with
the ranks. The node's cores are split between its ranks (`executor.workers: 0` = cores // ranks on the node), so
N ranks per node do not oversubscribe the CPU. Program outputs are deterministic (`run_checked` rejects those
that are not), so which rank ran a request does not change its result; timeouts under load are the one
exception, and the gather makes every rank adopt the same verdict either way.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from typing import Any

from azr.config import ExecutorConfig
from azr.dist import comm


def executor_config(cfg: ExecutorConfig, local_size: int) -> ExecutorConfig:
    """`executor.workers: 0` (all cores) becomes this rank's share of the node's cores."""
    if cfg.workers or local_size <= 1:
        return cfg
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return dataclasses.replace(cfg, workers=max(1, cores // local_size))


class ShardedExecutor:
    """`run` / `run_checked` of `azr.executor.Executor`, sharded over the ranks."""

    def __init__(self, executor: Any) -> None:
        self.executor = executor

    def run(self, requests: Sequence[Any]) -> list[list[Any]]:
        return comm.gather_shards(self.executor.run(comm.local_shard(requests)), "executor run")

    def run_checked(self, requests: Sequence[Any]) -> list[list[Any]]:
        return comm.gather_shards(self.executor.run_checked(comm.local_shard(requests)), "executor run_checked")

    def __getattr__(self, name: str) -> Any:  # info(), cfg, workers ... of this rank's executor
        if name == "executor":
            raise AttributeError(name)
        return getattr(self.executor, name)
