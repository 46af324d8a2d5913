"""Reading a run directory for the report, tolerant of running runs and missing optional files.

Everything here reads; nothing writes into the run. A torn last line (a run being written) is skipped, a missing
file is listed in `RunData.missing` with what the report loses without it.
"""

from __future__ import annotations

import ast
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from azr.io import read_jsonl

TYPES = ("deduction", "abduction", "induction")
ROLES = ("propose", "solve")
OPTIONAL = {
    "config.yaml": "run settings",
    "buffers/": "program complexity, diversity and buffer contents",
    "samples/": "example tasks with the model's proposals and answers",
    "oversight.jsonl": "oversight flags (none may have fired, or oversight is off)",
    "eval/": "periodic evaluation results (trainer.eval_every may be 0)",
    "checkpoints/latest": "a completed checkpoint",
}


@dataclass
class ProgramStats:
    """Per task type and step: programs that entered the buffer at that step."""

    steps: list[int] = field(default_factory=list)
    added: list[int] = field(default_factory=list)
    ast_nodes: list[float] = field(default_factory=list)
    cyclomatic: list[float] = field(default_factory=list)
    distinct_total: list[int] = field(default_factory=list)
    """Distinct programs (whitespace-normalised) seen up to and including the step."""
    size_total: list[int] = field(default_factory=list)
    """Buffer size after the step's adds and evictions."""
    answer_types: dict[str, list[int]] = field(default_factory=dict)
    """Output value type name -> count per step."""


@dataclass
class RunData:
    run_dir: Path
    metrics: list[dict[str, Any]]
    config: dict[str, Any]
    programs: dict[str, ProgramStats]
    buffer_examples: dict[str, list[dict[str, Any]]]
    samples: list[dict[str, Any]]
    sample_steps: list[int]
    flags: list[dict[str, Any]]
    evals: dict[int, dict[str, Any]]
    missing: dict[str, str]
    torn_lines: dict[str, int]
    latest_checkpoint: str | None

    @property
    def steps(self) -> list[int]:
        return [int(m["step"]) for m in self.metrics if "step" in m]

    @property
    def running(self) -> bool:
        """True when the run looks unfinished: a torn last line, or fewer steps than configured."""
        want = (self.config.get("trainer") or {}).get("steps")
        return bool(self.torn_lines) or (isinstance(want, int) and bool(self.steps) and max(self.steps) < want)

    def eval_keys(self) -> list[str]:
        """`eval/<benchmark>/score` keys from metrics.jsonl and from eval/step_N.json files (which the learning
        benchmark also writes, at step 0 too), held-out tasks first."""
        keys = {k for k in self.keys() if k.startswith("eval/") and k.endswith("/score")}
        keys |= {k for e in self.evals.values() for k in e if k.startswith("eval/") and k.endswith("/score")}
        return sorted(keys, key=lambda k: (not k.startswith("eval/heldout-"), k))

    def eval_series(self, key: str) -> tuple[list[int], list[float]]:
        """An eval key per step: the eval/ files, with metrics rows filling steps they lack (the same numbers when
        both exist: the trainer writes both)."""
        points = {s: float(e[key]) for s, e in self.evals.items() if isinstance(e.get(key), (int, float))}
        for x, y in zip(*self.series(key)):
            points.setdefault(x, y)
        xs = sorted(points)
        return xs, [points[x] for x in xs]

    def series(self, key: str) -> tuple[list[int], list[float]]:
        xs, ys = [], []
        for m in self.metrics:
            if key in m and "step" in m and isinstance(m[key], (int, float)):
                xs.append(int(m["step"]))
                ys.append(float(m[key]))
        return xs, ys

    def keys(self) -> list[str]:
        seen: dict[str, None] = {}
        for m in self.metrics:
            for k in m:
                seen.setdefault(k, None)
        return list(seen)


def _torn(path: Path) -> int:
    """1 if the file's last non-empty line does not parse as JSON (a write in progress or a crash)."""
    try:
        data = path.read_bytes()
    except OSError:
        return 0
    lines = [ln for ln in data.splitlines() if ln.strip()]
    if not lines:
        return 0
    try:
        json.loads(lines[-1])
    except (json.JSONDecodeError, UnicodeDecodeError):
        return 1
    return 0


def ast_nodes(program: str) -> int | None:
    try:
        return sum(1 for _ in ast.walk(ast.parse(program)))
    except (SyntaxError, ValueError):
        return None


def cyclomatic(program: str) -> float | None:
    """Total McCabe complexity of the program's functions (radon); None when it does not parse."""
    from radon.complexity import cc_visit

    try:
        blocks = cc_visit(program)
    except Exception:  # radon raises SyntaxError and, on odd input, others; complexity is then unknown
        return None
    return float(sum(b.complexity for b in blocks)) if blocks else 1.0


def answer_type(output: str) -> str:
    """Type name of an output repr (`int`, `list`, `str`, ...), `other` when it is not a literal."""
    try:
        return type(ast.literal_eval(output)).__name__
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return "other"


def _normalise(program: str) -> str:
    return re.sub(r"\s+", " ", program).strip()


def _program_stats(records: list[dict[str, Any]]) -> tuple[ProgramStats, list[dict[str, Any]]]:
    by_step: dict[int, list[dict[str, Any]]] = defaultdict(list)
    evicts: dict[int, int] = defaultdict(int)
    for r in records:
        step = int(r.get("step", 0) or 0)
        if r.get("event") == "evict":
            evicts[step] += 1
        elif isinstance(r.get("program"), str):
            by_step[step].append(r)
    st = ProgramStats()
    seen: set[str] = set()
    size = 0
    all_types: set[str] = set()
    per_step_types: list[dict[str, int]] = []
    for step in sorted(set(by_step) | set(evicts)):
        recs = by_step.get(step, [])
        nodes = [n for r in recs if (n := ast_nodes(r["program"])) is not None]
        cc = [c for r in recs if (c := cyclomatic(r["program"])) is not None]
        seen.update(_normalise(r["program"]) for r in recs)
        size += len(recs) - evicts.get(step, 0)
        types: dict[str, int] = defaultdict(int)
        for r in recs:
            for o in r.get("outputs") or []:
                types[answer_type(str(o))] += 1
        all_types.update(types)
        per_step_types.append(types)
        st.steps.append(step)
        st.added.append(len(recs))
        st.ast_nodes.append(sum(nodes) / len(nodes) if nodes else float("nan"))
        st.cyclomatic.append(sum(cc) / len(cc) if cc else float("nan"))
        st.distinct_total.append(len(seen))
        st.size_total.append(size)
    st.answer_types = {t: [d.get(t, 0) for d in per_step_types] for t in sorted(all_types)}
    # Examples: the most recent proposed tasks (seeds say little about what the model does).
    adds = [r for r in records if r.get("event", "add") == "add" and isinstance(r.get("program"), str)]
    proposed = [r for r in adds if r.get("source", "proposed") == "proposed"] or adds
    return st, proposed[-3:]


def _step_of(path: Path) -> int:
    m = re.search(r"(\d+)", path.stem)
    return int(m.group(1)) if m else 0


def load_run(run_dir: str | Path, sample_steps: int = 3) -> RunData:
    """Read what a run directory holds. Only `metrics.jsonl` is required (the caller checks the directory)."""
    rd = Path(run_dir)
    missing: dict[str, str] = {}
    torn: dict[str, int] = {}

    metrics_path = rd / "metrics.jsonl"
    if not metrics_path.exists():
        missing["metrics.jsonl"] = "all training curves (the run has not finished a step yet?)"
    metrics = [m for m in read_jsonl(metrics_path) if isinstance(m, dict)]
    metrics.sort(key=lambda m: m.get("step", 0))
    if _torn(metrics_path):
        torn["metrics.jsonl"] = 1

    config: dict[str, Any] = {}
    if (rd / "config.yaml").exists():
        try:
            config = yaml.safe_load((rd / "config.yaml").read_text()) or {}
        except (yaml.YAMLError, OSError, UnicodeDecodeError):
            missing["config.yaml"] = "run settings (the file is unreadable)"
    else:
        missing["config.yaml"] = OPTIONAL["config.yaml"]

    programs: dict[str, ProgramStats] = {}
    examples: dict[str, list[dict[str, Any]]] = {}
    if (rd / "buffers").is_dir():
        for t in TYPES:
            p = rd / "buffers" / f"{t}.jsonl"
            if p.exists():
                programs[t], examples[t] = _program_stats(list(read_jsonl(p)))
                if _torn(p):
                    torn[f"buffers/{t}.jsonl"] = 1
    else:
        missing["buffers/"] = OPTIONAL["buffers/"]

    samples: list[dict[str, Any]] = []
    steps_read: list[int] = []
    sample_files = sorted((rd / "samples").glob("step_*.jsonl"), key=_step_of) if (rd / "samples").is_dir() else []
    if not sample_files:
        missing["samples/"] = OPTIONAL["samples/"]
    for p in sample_files[-sample_steps:]:
        steps_read.append(_step_of(p))
        samples.extend({"_step": _step_of(p), **s} for s in read_jsonl(p) if isinstance(s, dict))

    flags: list[dict[str, Any]] = []
    if (rd / "oversight.jsonl").exists():
        flags = [f for f in read_jsonl(rd / "oversight.jsonl") if isinstance(f, dict)]
        if _torn(rd / "oversight.jsonl"):
            torn["oversight.jsonl"] = 1
    else:
        missing["oversight.jsonl"] = OPTIONAL["oversight.jsonl"]

    evals: dict[int, dict[str, Any]] = {}
    for p in sorted((rd / "eval").glob("step_*.json")) if (rd / "eval").is_dir() else []:
        try:
            evals[_step_of(p)] = json.loads(p.read_text())
        except (json.JSONDecodeError, OSError, UnicodeDecodeError):
            torn[f"eval/{p.name}"] = 1
    if not evals and not any(k.startswith("eval/") for m in metrics for k in m):
        missing["eval/"] = OPTIONAL["eval/"]

    latest = None
    if (rd / "checkpoints" / "latest").exists():
        latest = (rd / "checkpoints" / "latest").read_text(errors="replace").strip() or None
    else:
        missing["checkpoints/latest"] = OPTIONAL["checkpoints/latest"]

    return RunData(rd, metrics, config, programs, examples, samples, steps_read, flags, evals, missing, torn, latest)
