"""Seed files into the buffers: AZR-format records, validated and their outputs recomputed through the executor.

Seed inputs/outputs may be expressions such as `dict(a=1)`, so the recorded outputs are never trusted: every record
is validated like a proposal (`validate.validate_tasks`) and enters the buffers with the executed outputs.
Deduction/abduction seeds go into both buffers (paper: D_abd = D_ded = D_seed), tagged `seed:<file name>` at step
0, so they are never evicted. A file whose tag is already buffered (a resumed run) is skipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from azr.buffer import TaskBuffers
from azr.config import Config
from azr.tasks.records import read_task_file
from azr.tasks.types import TaskType
from azr.validate import validate_tasks
from azr.verify import Executes

_BOTH = (TaskType.DEDUCTION, TaskType.ABDUCTION)


def load_seed_files(
    buffers: TaskBuffers, paths: Sequence[str | Path], executor: Executes, cfg: Config
) -> dict[str, int]:
    """Validate and add the records of each file; returns counts per outcome (`valid` or a rejection reason).
    Raises `azr.tasks.records.TaskFileError` (one line) for an unreadable file."""
    counts: dict[str, int] = {}
    for path in paths:
        source = f"seed:{Path(path).name}"
        if any(t.source == source for tt in TaskType for t in buffers.tasks(tt)):
            continue
        records = read_task_file(path)
        # Within a file duplicates are rejected by validation; against the buffers, `add` skips them.
        for v in validate_tasks([r.task for r in records], executor, None, 0, cfg):
            counts[v.reason or "valid"] = counts.get(v.reason or "valid", 0) + 1
            if v.task is None:
                continue
            task = replace(v.task, source=source, step=0)
            buffers.add([task.with_type(t) for t in _BOTH] if task.type in _BOTH else [task])
    return counts
