"""Eval progress display: a rich bar on a terminal, plain lines (`azr.progress.LineProgress`) in logs and pipes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from azr.progress import LineProgress


def make_progress(enabled: bool) -> Any:
    """A progress display (rich bar on a terminal, `LineProgress` otherwise), or None when disabled."""
    if not enabled:
        return None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    console = Console(stderr=True)
    if not console.is_terminal:
        return LineProgress()
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        console=console, transient=False,
    )  # fmt: skip


@contextmanager
def progress_display(enabled: bool) -> Iterator[Any]:
    """`make_progress(enabled)`, started for the duration of the block (None when disabled)."""
    progress = make_progress(enabled)
    if progress is not None:
        progress.start()
    try:
        yield progress
    finally:
        if progress is not None:
            progress.stop()
