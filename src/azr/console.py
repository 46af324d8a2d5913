"""What a person watching `azr train` sees: progress bars, a per-step table, and the end-of-run summary.

Progress has two bars: self-play steps, and generation within the step. The generation bar advances as the
rollout backend finishes chunks of prompts (`ProgressRollout` splits each call into chunks of about the backend's
micro-batch, each with its own derived seed). All of it reads the same metric
keys as metrics.jsonl. This module does not write files.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from azr.rollout.base import Completion, SamplingParams

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
    """Two rich progress bars (steps; generation within the current step) on `console`."""

    def __init__(self, console: Console, total_steps: int, start_step: int) -> None:
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self.steps = self.progress.add_task("steps", total=max(total_steps, 1), completed=start_step)
        self.gen = self.progress.add_task("generate", total=1, visible=False)

    def __enter__(self) -> TrainProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.stop()

    def step_done(self) -> None:
        self.progress.advance(self.steps)
        self.progress.update(self.gen, visible=False)

    def generation(self, label: str, total: int) -> None:
        self.progress.reset(self.gen, total=max(total, 1), description=f"generate {label}", visible=True)

    def generated(self, n: int) -> None:
        self.progress.advance(self.gen, n)


class ProgressRollout:
    """Wraps a RolloutBackend: drives the generation bar and accumulates generation seconds (`seconds`)."""

    def __init__(self, backend: Any, progress: TrainProgress | None, chunk: int) -> None:
        self.backend = backend
        self.progress = progress
        self.chunk = max(1, chunk)
        self.seconds = 0.0
        self.sequences = 0
        self.tokens = 0

    def generate(self, prompts: Sequence[str], params: SamplingParams, n: int = 1) -> list[list[Completion]]:
        t0 = time.perf_counter()
        out: list[list[Completion]] = []
        if self.progress is not None:
            self.progress.generation(f"{len(prompts)}x{n}", len(prompts) * n)
        # Chunks of about one backend micro-batch let the bar move during a long call. A seeded call gets one
        # derived seed per chunk (chunk 0 keeps the caller's seed), so chunks never repeat each other's samples
        # and the result is deterministic with or without a bar.
        per = max(1, self.chunk // max(n, 1))
        for k, i in enumerate(range(0, len(prompts), per)):
            p = params if params.seed is None or k == 0 else replace(params, seed=(params.seed + k * 1_000_003) % 2**31)
            part = self.backend.generate(prompts[i : i + per], p, n)
            out.extend(part)
            if self.progress is not None:
                self.progress.generated(sum(len(c) for c in part))
        self.seconds += time.perf_counter() - t0
        self.sequences += sum(len(c) for c in out)
        self.tokens += sum(len(x.token_ids) for c in out for x in c)
        return out

    def count_tokens(self, text: str) -> int:
        return self.backend.count_tokens(text)

    def sync_weights(self, model: Any) -> None:
        self.backend.sync_weights(model)

    def __getattr__(self, name: str) -> Any:  # rng state and backend-specific extras pass through
        return getattr(self.backend, name)
