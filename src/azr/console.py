"""What a person watching `azr train` sees: progress with ETAs, a per-step table, and the end-of-run summary.

Progress has three tasks: seeding (buffer sizes towards `selfplay.seed_size`), self-play steps, and generation
within the current call. The generation task follows the rollout backend's `progress` callback, which never
changes what is generated. On a terminal they are rich bars; otherwise (a log file, a pipe, nohup) plain lines
on stderr (`azr.progress.LineProgress`, as `azr eval` prints them). The tables read the same metric keys as
metrics.jsonl. This module does not write files.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from azr.progress import LineProgress

ROLES = ("propose", "solve")
# (metric name, column header, format) of the per-step table
COLUMNS = (
    ("count", "n", "{:.0f}"),
    ("format_error_rate", "fmt err", "{:.0%}"),
    ("valid_rate", "valid", "{:.0%}"),
    ("solve_rate", "solved", "{:.0%}"),
    ("learnability_mean", "learn", "{:.2f}"),
    ("reward_mean", "reward", "{:+.2f}"),
    ("response_len_mean", "len", "{:.0f}"),
)


def _fmt(value: Any, fmt: str) -> str:
    return fmt.format(value) if isinstance(value, (int, float)) else "-"


def _task_types(metrics: dict[str, Any]) -> list[str]:
    seen: list[str] = []
    for k in metrics:
        parts = k.split("/")
        if len(parts) >= 3 and parts[1] in ROLES and parts[0] not in seen:
            seen.append(parts[0])
    return seen


def step_table(step: int, total: int, metrics: dict[str, Any]) -> Table:
    """Per task type x role: count, format errors, valid rate, solve rate, learnability, reward, length."""
    t = Table(title=f"step {step}/{total}", title_justify="left", show_edge=False, pad_edge=False)
    t.add_column("task")
    t.add_column("role")
    for _, header, _ in COLUMNS:
        t.add_column(header, justify="right")
    for tt in _task_types(metrics):
        for role in ROLES:
            if f"{tt}/{role}/count" not in metrics:
                continue
            t.add_row(tt, role, *(_fmt(metrics.get(f"{tt}/{role}/{name}"), fmt) for name, _, fmt in COLUMNS))
    timing = "  ".join(
        f"{ph} {metrics[f'timing/{ph}']:.1f}s"
        for ph in ("generate", "executor", "update", "other", "total")
        if isinstance(metrics.get(f"timing/{ph}"), (int, float))
    )
    upd = "  ".join(
        f"{k} {metrics[f'update/{k}']:.4g}"
        for k in ("loss", "grad_norm", "entropy", "clip_frac")
        if isinstance(metrics.get(f"update/{k}"), (int, float))
    )
    bufs = "  ".join(f"{k.split('/', 1)[1]} {metrics[k]:.0f}" for k in metrics if k.startswith("buffer/"))
    t.caption = "  |  ".join(x for x in (timing, upd, f"buffers: {bufs}" if bufs else "") if x)
    t.caption_justify = "left"
    return t


def learned_summary(first: dict[str, Any], last: dict[str, Any], run_dir: Path) -> Table:
    """First step vs last step, per task type x role: valid rate, solve rate and mean reward."""
    t = Table(
        title=f"what the run learned (step {first.get('step', '?'):.0f} -> step {last.get('step', '?'):.0f})",
        title_justify="left",
        show_edge=False,
        pad_edge=False,
    )
    for col in ("task", "role", "valid", "solved", "reward"):
        t.add_column(col, justify="left" if col in ("task", "role") else "right")
    for tt in _task_types(last) or _task_types(first):
        for role in ROLES:
            cells = []
            for name, fmt in (("valid_rate", "{:.0%}"), ("solve_rate", "{:.0%}"), ("reward_mean", "{:+.2f}")):
                a, b = first.get(f"{tt}/{role}/{name}"), last.get(f"{tt}/{role}/{name}")
                cells.append("-" if a is None and b is None else f"{_fmt(a, fmt)} -> {_fmt(b, fmt)}")
            t.add_row(tt, role, *cells)
    t.caption = f"run dir: {run_dir}\nreport:  azr report {run_dir}   (re-run it while a run is going on)"
    t.caption_justify = "left"
    return t


class TrainProgress:
    """Seeding, steps and generation progress on `console` (rich bars) or, when it is not a terminal, as lines on
    `stream` (default stderr)."""

    def __init__(self, console: Console, total_steps: int, start_step: int, stream: TextIO | None = None) -> None:
        self.lines = not console.is_terminal
        self.progress: Progress | LineProgress
        if self.lines:
            self.progress = LineProgress(stream or sys.stderr)
        else:
            self.progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=console,
                transient=False,
            )
        self.total_steps, self.start_step = max(total_steps, 1), start_step
        self.steps: Any = None
        self.seed_task: Any = None
        self.gen: Any = None

    def __enter__(self) -> TrainProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.stop()

    def seeding(self, done: int, total: int) -> None:
        """`selfplay.seed_buffers` progress: tasks in the seeded buffers (each capped at the seed size)."""
        if self.seed_task is None:
            self.seed_task = self._add("seeding", total, done, "task")
        else:
            self.progress.update(self.seed_task, completed=done)

    def begin_steps(self) -> None:
        """Start the steps task (and its clock, so the ETA does not count start-up and seeding)."""
        if self.steps is None:
            self.steps = self._add("steps", self.total_steps, self.start_step, "step")

    def step_done(self) -> None:
        self.begin_steps()
        self.progress.advance(self.steps, 1)
        if self.gen is not None and not self.lines:
            self.progress.update(self.gen, visible=False)

    def generating(self, done: int, total: int) -> None:
        """The rollout backend's `progress` callback: (sequences done, sequences requested) of the current call."""
        label = f"generate {total}"
        if self.gen is None:
            self.gen = self._add(label, total, 0, "sequence", tenths=False)
        elif done == 0:
            if self.lines:
                self.progress.reset(self.gen, total=max(total, 1), description=label)
            else:
                self.progress.reset(self.gen, total=max(total, 1), description=label, visible=True)
        self.progress.update(self.gen, completed=done)

    def _add(self, name: str, total: int, completed: int, unit: str, tenths: bool = True) -> Any:
        if isinstance(self.progress, LineProgress):
            return self.progress.add_task(name, max(total, 1), completed, unit=unit, tenths=tenths)
        return self.progress.add_task(name, total=max(total, 1), completed=completed)
