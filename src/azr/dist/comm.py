"""Deterministic collectives over the default process group, in the shapes the wrappers need.

Every helper is called by every rank in the same order (the wrappers make the same calls on every rank because
every rank holds the same state). Results never depend on arrival order: lists are concatenated in rank order and
sums are taken in rank order on the gathered values, so every rank computes bit-identical numbers.

A collective that fails because another rank died, or did not arrive within `dist.timeout`, raises `RankLost`
(one line naming the operation); the trainer turns it into a non-zero exit.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

T = TypeVar("T")

# Messages of gloo / NCCL / c10d errors raised when a peer is gone or a collective times out.
_COMM_FAILURE = re.compile(
    r"gloo|nccl|connection|timed out|timeout|closed|reset by peer|broken pipe|socket|store|watchdog|abort",
    re.IGNORECASE,
)


class RankLost(RuntimeError):
    """A collective failed: another rank died, hung past `dist.timeout`, or the network went away."""


class DistError(RuntimeError):
    """The ranks disagree where they must agree (a determinism bug, not a lost rank)."""


@contextlib.contextmanager
def guard(op: str) -> Iterator[None]:
    """Turn a communication failure inside the block into `RankLost(op)`; other errors pass unchanged."""
    try:
        yield
    except RankLost:
        raise
    except RuntimeError as e:
        import torch.distributed as dist

        if isinstance(e, getattr(dist, "DistError", ())) or _COMM_FAILURE.search(str(e)):
            raise RankLost(f"{op} failed on rank {_rank()}: {_first_sentence(e)}") from e
        raise


def _first_sentence(e: BaseException) -> str:
    """'Read error [127.0.0.1]:33678: Connection reset by peer' from gloo's '[.../pair.cc:537] Read error ...
    Connection reset by peer. This is typically caused by ...'."""
    text = re.sub(r"^\[[^\]]*\]\s*", "", str(e).strip().splitlines()[0] if str(e).strip() else "")
    return (text.split(". ")[0] or type(e).__name__)[:200]


def _rank() -> int:
    import torch.distributed as dist

    return dist.get_rank() if dist.is_initialized() else 0


def _size() -> int:
    import torch.distributed as dist

    return dist.get_world_size() if dist.is_initialized() else 1


def shard_bounds(n: int, rank: int, size: int) -> tuple[int, int]:
    """Contiguous, balanced [start, stop) of `n` items for `rank` of `size` (the first n % size ranks get one
    more). Concatenating the shards of ranks 0..size-1 gives back 0..n-1 in order."""
    if size <= 0 or not 0 <= rank < size:
        raise ValueError(f"rank {rank} out of range for world size {size}")
    base, extra = divmod(n, size)
    start = rank * base + min(rank, extra)
    return start, start + base + (1 if rank < extra else 0)


def local_shard(items: Sequence[T], rank: int | None = None, size: int | None = None) -> list[T]:
    rank = _rank() if rank is None else rank
    size = _size() if size is None else size
    start, stop = shard_bounds(len(items), rank, size)
    return list(items[start:stop])


def all_gather(obj: Any, op: str = "all_gather") -> list[Any]:
    """One picklable object from every rank, in rank order."""
    import torch.distributed as dist

    if _size() == 1:
        return [obj]
    out: list[Any] = [None] * _size()
    with guard(op):
        dist.all_gather_object(out, obj)
    return out


def gather_shards(local: Sequence[T], op: str = "all_gather") -> list[T]:
    """Every rank's list, concatenated in rank order (the inverse of `local_shard`)."""
    return [x for part in all_gather(list(local), op) for x in part]


def broadcast(obj: Any, src: int = 0, op: str = "broadcast") -> Any:
    """`src`'s object on every rank."""
    import torch.distributed as dist

    if _size() == 1:
        return obj
    box = [obj]
    with guard(op):
        dist.broadcast_object_list(box, src=src)
    return box[0]


def sum_values(values: dict[str, float], op: str = "sum") -> dict[str, float]:
    """Per-key sums over the ranks, added in rank order (identical on every rank, unlike a tree all-reduce)."""
    total: dict[str, float] = {}
    for part in all_gather(values, op):
        for k, v in part.items():
            total[k] = total.get(k, 0.0) + float(v)
    return total


def barrier(op: str = "barrier") -> None:
    import torch.distributed as dist

    if _size() > 1:
        with guard(op):
            dist.barrier()


def digest(obj: Any) -> str:
    """A short hash of a JSON-able value (dict keys sorted, other objects by `str`). Value-based on purpose:
    pickle bytes depend on object identity (shared vs. equal strings), so equal states could hash apart."""
    text = json.dumps(obj, sort_keys=True, default=str, ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def check_identical(what: str, value: str) -> None:
    """Raise `DistError` unless every rank passes the same `value` (e.g. a digest of its buffers)."""
    values = all_gather(value, f"check {what}")
    if len(set(values)) > 1:
        odd = [r for r, v in enumerate(values) if v != values[0]]
        raise DistError(f"ranks disagree on {what}: rank 0 has {values[0]}, rank {odd[0]} has {values[odd[0]]}")
