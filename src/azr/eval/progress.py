"""Eval progress display: a rich bar on a terminal, plain lines in logs and pipes."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class LineProgress:
    """Progress as plain lines for logs and pipes, where a live rich bar would print nothing until the end."""

    def __init__(self, stream: Any = None, every_s: float = 30.0) -> None:
        self.stream = stream or sys.stderr
        self.every_s = every_s
        self.tasks: dict[int, dict[str, Any]] = {}

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def add_task(self, description: str, total: int, completed: int = 0) -> int:
        tid = len(self.tasks)
        now = time.monotonic()
        self.tasks[tid] = {"name": description, "total": total, "done": completed, "t0": now, "base": completed,
                           "last": now, "last_tenth": completed * 10 // max(total, 1)}  # fmt: skip
        self._line(tid)
        return tid

    def advance(self, tid: int, n: int) -> None:
        t = self.tasks[tid]
        t["done"] += n
        now, tenth = time.monotonic(), t["done"] * 10 // max(t["total"], 1)
        # a line per tenth of the benchmark, or every `every_s` seconds, and always at the end
        if tenth > t["last_tenth"] or now - t["last"] >= self.every_s or t["done"] >= t["total"]:
            t["last"], t["last_tenth"] = now, tenth
            self._line(tid)

    def _line(self, tid: int) -> None:
        t = self.tasks[tid]
        elapsed = time.monotonic() - t["t0"]
        rate = (t["done"] - t["base"]) / elapsed if elapsed > 0 else 0.0
        eta = f" eta {(t['total'] - t['done']) / rate:.0f}s" if rate > 0 and t["done"] < t["total"] else ""
        print(f"{t['name']}: {t['done']}/{t['total']} ({rate:.2f} items/s{eta})", file=self.stream, flush=True)


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
