"""Starting and ending a distributed run: the process group, `azr train --nproc N`, per-rank output.

Launch is torchrun's (`torch.distributed.run`): rendezvous, one worker per GPU (or CPU slot), worker monitoring,
and tear-down of every worker as soon as one fails (`--max-restarts 0`). `azr train --nproc N ...` runs
`torchrun --standalone --nproc-per-node N -m azr train ...` in this process; multi-node jobs call torchrun
directly (docs/distributed.md). Inside a worker, `process_group` initialises the default group from the
torchrun environment: NCCL when CUDA is available (one GPU per local rank), gloo otherwise, with `dist.timeout`
on every collective, so a dead or hung peer ends the run with an error rather than a hang.

Output: rank 0 prints; the other ranks' stdout goes to /dev/null, and every rank's warnings and log records carry
`[rank R]` on stderr.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import os
import signal
import socket
import sys
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

from azr.config import ConfigError, DistConfig
from azr.dist import World, world


def under_torchrun() -> bool:
    """True in a worker started by torchrun (or any launcher that sets the env:// variables)."""
    return all(k in os.environ for k in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"))


def backend_for(dc: DistConfig) -> str:
    import torch

    if dc.backend == "nccl" and not torch.cuda.is_available():
        raise ConfigError("dist.backend=nccl needs CUDA, and this machine has no GPU; use dist.backend=auto or gloo")
    if dc.backend == "auto":
        return "nccl" if torch.cuda.is_available() else "gloo"
    return dc.backend


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def process_group(dc: DistConfig, *, single: bool = False) -> Iterator[World]:
    """The default process group for the duration of the block: from the torchrun environment, or with
    `single` a 1-rank group in this process (resuming a DCP run without torchrun)."""
    import torch
    import torch.distributed as dist

    backend = backend_for(dc)
    timeout = datetime.timedelta(seconds=dc.timeout)
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    if single:
        dist.init_process_group(
            backend, init_method=f"tcp://127.0.0.1:{_free_port()}", rank=0, world_size=1, timeout=timeout
        )
    else:
        dist.init_process_group(backend, timeout=timeout)
    w = world()
    try:
        with _per_rank_output(w):
            yield w
    finally:
        with contextlib.suppress(Exception):  # a lost peer can make the tear-down itself fail
            dist.destroy_process_group()


@contextlib.contextmanager
def _per_rank_output(w: World) -> Iterator[None]:
    """Rank-tagged warnings and log records on every rank; stdout only on rank 0 (restored afterwards)."""
    tag = f"[rank {w.rank}]"
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"{tag} %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    show, stdout = warnings.showwarning, sys.stdout

    def tagged(message, category, filename, lineno, file=None, line=None):  # noqa: ANN001 - stdlib hook
        show(f"{tag} {message}", category, filename, lineno, file, line)

    warnings.showwarning = tagged
    devnull = None if w.main else open(os.devnull, "w")  # noqa: SIM115 - closed below
    if devnull is not None:
        sys.stdout = devnull
    try:
        yield
    finally:
        root.removeHandler(handler)
        warnings.showwarning, sys.stdout = show, stdout
        if devnull is not None:
            devnull.close()


# ----------------------------------------------------------------------------------------------------------------
# azr train --nproc N


def torchrun(train_args: Sequence[str], nproc: int, run_dir: Path) -> int:
    """Run `azr train <train_args>` as `nproc` workers on this machine; returns the exit status. When a worker
    fails, torchrun stops the others; this prints one line naming what happened and how to resume."""
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import get_args_parser, run

    args = get_args_parser().parse_args(
        ["--standalone", f"--nproc-per-node={nproc}", "--max-restarts=0", "-m", "azr", "train", *train_args]
    )
    # torchrun would pin every worker to one OpenMP thread; split this machine's cores between them instead.
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, _cores() // nproc)))
    try:
        run(args)
    except ChildFailedError as e:
        codes = {f.exitcode for f in e.failures.values()}
        if codes <= {2, 3}:  # a user error or an oversight stop: the workers printed why
            return max(codes)
        print(f"azr train: error: {describe_failures(e.failures)}; {resume_hint(run_dir, nproc)}", file=sys.stderr)
        return 1
    except SignalException as e:  # Ctrl-C or a SIGTERM to this launcher: torchrun has stopped the workers
        name = signal.Signals(e.sigval).name
        print(f"azr train: interrupted ({name}); {resume_hint(run_dir, nproc)}", file=sys.stderr)
        return 128 + int(e.sigval)
    return 0


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def describe_failures(failures: dict) -> str:
    """'rank 1 was killed by SIGKILL, rank 0 exited with status 1' from torchrun's ProcessFailure map."""
    parts = []
    for rank in sorted(failures):
        f = failures[rank]
        if f.exitcode < 0:
            parts.append(f"rank {rank} was killed by {f.signal_name()}")
        else:
            parts.append(f"rank {rank} exited with status {f.exitcode}")
    return ", ".join(parts) or "a worker failed"


def resume_hint(run_dir: Path, nproc: int) -> str:
    from azr import checkpoint as ckpt

    latest = ckpt.latest_checkpoint(run_dir)
    if latest is None:
        return "the run stopped before its first checkpoint"
    return f"the run stopped; resume from {latest.name} with: azr train --nproc {nproc} --resume {run_dir}"
