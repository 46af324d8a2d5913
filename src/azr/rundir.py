"""A run directory as a whole: what a run writes there, claiming it while training, clearing a dead start.

A directory without any checkpoint cannot be resumed: whatever its run wrote (buffers grown by seeding, metrics
of steps before the first checkpoint) belongs to no state that can be restored, and replaying it would make the
new run differ from a clean one with the same seed. So `azr train` on such a directory, with `--out` or with
`--resume`, clears it and starts from scratch. Checkpoint contents live in `azr.checkpoint`.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from azr.io import FileError, remove_stale_tmp

# Everything a run writes into its directory. A directory without any checkpoint cannot be resumed, so starting
# it again removes all of these first: a restarted run must not replay a dead run's buffers or metrics.
RUN_ARTIFACTS = (
    "metrics.jsonl",
    "oversight.jsonl",
    "buffers",
    "samples",
    "eval",
    "tensorboard",
    "report",
    "checkpoints",
    "wandb-id",
)


def clear_run(run_dir: str | Path) -> bool:
    """Remove everything a run wrote (`RUN_ARTIFACTS`); True if there was anything. For a directory without a
    checkpoint only: its steps cannot be resumed, and a fresh start must not replay them. Interrupted, it can
    simply be called again."""
    run_dir = Path(run_dir)
    found = False
    for name in RUN_ARTIFACTS:
        p = run_dir / name
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
            found = True
        elif p.exists() or p.is_symlink():
            p.unlink()
            found = True
    return found


def remove_leftovers(run_dir: str | Path) -> None:
    """Delete the temp files of atomic writes a killed process left (`.latest.*.tmp`, `.metrics...tmp`, ...)
    in the run's own directories. `report/` is left alone: `azr report` may be writing there right now."""
    run_dir = Path(run_dir)
    for d in (run_dir, *(run_dir / sub for sub in ("checkpoints", "buffers", "samples", "eval"))):
        if d.is_dir():
            remove_stale_tmp(d)


@contextlib.contextmanager
def claim_run_dir(run_dir: str | Path) -> Iterator[None]:
    """Hold `RUN_DIR/.lock` while training, so a second `azr train` on the same directory fails in one line instead
    of clearing or appending to a live run. The kernel drops the lock when the process dies: no stale locks.
    Only the rank that writes the run directory (RANK unset or 0) takes it."""
    if int(os.environ.get("RANK", "0") or 0) != 0:
        yield
        return
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(run_dir / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise FileError(f"{run_dir} is in use by another azr train process") from None
        yield
    finally:
        os.close(fd)  # releases the lock
