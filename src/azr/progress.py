"""Progress as plain lines, for logs and pipes, where a live rich bar would print nothing until the end.

`azr eval` (per benchmark) and `azr train` (seeding, steps, generation) use `LineProgress` whenever their stream is
not a terminal; on a terminal they draw rich bars with the same tasks. This module does not decide which.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import TextIO


@dataclass
class _Task:
    name: str
    total: int
    done: int
    unit: str
    tenths: bool
    t0: float
    base: int
    last: float
    last_tenth: int


def duration(seconds: float) -> str:
    """`42s`, `12m05s`, `1h02m`: an ETA a person reads at a glance."""
    s = int(round(seconds))
    if s < 100:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


class LineProgress:
    """Tasks with a name, a total and a count; `advance`/`update` print a line (count, rate, ETA) every `every_s`
    seconds, and for tasks with `tenths` also per tenth of the total and when the task completes."""

    def __init__(self, stream: TextIO | None = None, every_s: float = 30.0) -> None:
        self.stream = stream or sys.stderr
        self.every_s = every_s
        self.tasks: dict[int, _Task] = {}

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def add_task(self, description: str, total: int, completed: int = 0, *, unit: str = "item", tenths: bool = True) -> int:
        """A new task; `unit` (singular) names what is counted. Tasks without `tenths` print no first line and
        otherwise only on the clock (a heartbeat for frequent, short tasks)."""
        tid = len(self.tasks)
        now = time.monotonic()
        self.tasks[tid] = _Task(description, total, completed, unit, tenths, now, completed, now, self._tenth(completed, total))
        if tenths:
            self._line(tid)
        return tid

    def reset(self, tid: int, *, total: int, description: str | None = None) -> None:
        """Start the task over (count 0, clock restarted) with a new total and optionally a new name."""
        t = self.tasks[tid]
        now = time.monotonic()
        t.total, t.done, t.base, t.t0, t.last, t.last_tenth = total, 0, 0, now, now, 0
        t.name = description if description is not None else t.name

    def advance(self, tid: int, n: int = 1) -> None:
        self.update(tid, completed=self.tasks[tid].done + n)

    def update(self, tid: int, *, completed: int) -> None:
        t = self.tasks[tid]
        t.done = completed
        now, tenth = time.monotonic(), self._tenth(t.done, t.total)
        if (t.tenths and (tenth > t.last_tenth or t.done >= t.total)) or now - t.last >= self.every_s:
            t.last, t.last_tenth = now, tenth
            self._line(tid)

    @staticmethod
    def _tenth(done: int, total: int) -> int:
        return done * 10 // max(total, 1)

    def _line(self, tid: int) -> None:
        t = self.tasks[tid]
        elapsed = time.monotonic() - t.t0
        rate = (t.done - t.base) / elapsed if elapsed > 0 else 0.0
        if rate <= 0:  # nothing done yet: no rate to speak of
            print(f"{t.name}: {t.done}/{t.total}", file=self.stream, flush=True)
            return
        speed = f"{rate:.2f} {t.unit}s/s" if rate >= 1 else f"{1 / rate:.1f} s/{t.unit}"
        eta = f" eta {duration((t.total - t.done) / rate)}" if t.done < t.total else ""
        print(f"{t.name}: {t.done}/{t.total} ({speed}{eta}, {duration(elapsed)} elapsed)", file=self.stream, flush=True)
