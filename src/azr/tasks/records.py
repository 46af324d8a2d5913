"""Reading task files: the AZR seed formats and CRUXEval, into candidate `Task`s with their recorded outputs.

Formats (one JSON object per line):
- AZR deduction/abduction seeds (`*_seed_io.jsonl`): `snippet`, `input`, `output`, `imports`, ...
- AZR induction seeds (`*_code_f_seed_io.jsonl`): `snippet`, `inputs`, `outputs`, `message`, `imports`
- CRUXEval: `code`, `input`, `output`, `id`

Recorded inputs/outputs are source text, not always literals (`dict(a=1, b=2)`); they are never evaluated here.
The candidate's outputs are the *recorded* ones; validation recomputes them through the executor.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from azr.tasks.types import Task, TaskType


class TaskFileError(ValueError):
    """The file cannot be read as a task file; the message is one line."""


@dataclass(frozen=True)
class TaskRecord:
    task: Task
    """Candidate task: program, recorded inputs and outputs (outputs as written in the file)."""
    line: int
    id: str


def _program(snippet: str, imports: list[str]) -> str:
    # AZR seeds list their imports separately; the official executor prepends them. Most snippets already hold
    # them, so only missing ones are added.
    missing = [imp for imp in imports if isinstance(imp, str) and imp.strip() and imp.strip() not in snippet]
    return "\n".join([*missing, snippet]) if missing else snippet


def _record(d: dict, line: int, source: str) -> TaskRecord:
    imports = [str(i) for i in d.get("imports") or []]
    if "code" in d and "input" in d:  # CRUXEval
        task = Task(TaskType.DEDUCTION, str(d["code"]), (str(d["input"]),), (str(d.get("output", "")),), source=source)
        return TaskRecord(task, line, str(d.get("id", line)))
    if "snippet" in d and "inputs" in d:
        inputs, outputs = d["inputs"], d.get("outputs") or []
        if not isinstance(inputs, list) or not isinstance(outputs, list):
            raise TaskFileError(f"line {line}: `inputs`/`outputs` must be lists")
        task = Task(
            TaskType.INDUCTION,
            _program(str(d["snippet"]), imports),
            tuple(str(i) for i in inputs),
            tuple(str(o) for o in outputs),
            message=str(d.get("message") or ""),
            imports=tuple(imports),
            source=source,
        )
        return TaskRecord(task, line, str(line))
    if "snippet" in d and "input" in d:
        task = Task(
            TaskType.DEDUCTION,
            _program(str(d["snippet"]), imports),
            (str(d["input"]),),
            (str(d.get("output", "")),),
            imports=tuple(imports),
            source=source,
        )
        return TaskRecord(task, line, str(line))
    raise TaskFileError(f"line {line}: not an AZR seed or CRUXEval record (keys: {', '.join(sorted(d))[:80]})")


def read_task_file(path: str | Path) -> list[TaskRecord]:
    """All records of a task file, or TaskFileError naming the first problem."""
    p = Path(path)
    if not p.is_file():
        raise TaskFileError(f"no such file: {p}")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise TaskFileError(f"cannot read {p}: {e}") from e
    records: list[TaskRecord] = []
    for i, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            d = json.loads(raw)
        except json.JSONDecodeError as e:
            raise TaskFileError(f"{p.name} line {i}: not JSON ({e.msg})") from e
        except RecursionError:  # e.g. '[' * 100000: the decoder recurses per level
            raise TaskFileError(f"{p.name} line {i}: not JSON (nested too deeply)") from None
        if not isinstance(d, dict):
            raise TaskFileError(f"{p.name} line {i}: not a JSON object")
        try:
            records.append(_record(d, i, f"seed:{p.name}"))
        except TaskFileError as e:
            raise TaskFileError(f"{p.name} {e}") from None
    if not records:
        raise TaskFileError(f"{p.name}: no records")
    return records
