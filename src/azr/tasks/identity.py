"""Task identity: when two tasks are the same task (de-duplication in validation and in the buffers).

Programs compare by `ast.unparse` (comments and formatting do not matter), inputs by the unparsed call
`f(<input>)`, and induction inputs as a set. Text that does not parse compares as its stripped self. Pure string
work; never raises on model text.
"""

from __future__ import annotations

import ast
from collections.abc import Hashable

from azr.executor.values import parse_quietly
from azr.tasks.types import Task, TaskType


def normalize_program(program: str) -> str:
    """Program text without comments or formatting differences; the raw stripped text if it does not parse."""
    try:
        return ast.unparse(parse_quietly(program, "exec"))
    except Exception:  # SyntaxError, RecursionError, MemoryError on adversarial text
        return program.strip()


def normalize_input(text: str) -> str:
    """Call-argument text in one canonical spelling (`1,2` and `1, 2` are the same input)."""
    try:
        return ast.unparse(parse_quietly(f"f({text})", "eval"))
    except Exception:
        return text.strip()


def task_key(task: Task) -> Hashable:
    """Identity for de-duplication: type, normalised program, normalised inputs (as a set for induction)."""
    inputs = tuple(normalize_input(i) for i in task.inputs)
    if task.type is TaskType.INDUCTION:
        inputs = tuple(sorted(set(inputs)))
    return (task.type.value, normalize_program(task.program), inputs)
