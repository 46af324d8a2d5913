"""Solver answers -> verdicts, through the executor (paper §3.3.4). Nothing a model wrote is `eval`'d here.

- deduction: the answer must be a *value*. A literal is compared with the gold output directly; an expression
  that is not a literal (`dict(a=1)`, `2**10`) is evaluated in the sandbox by an identity program, as the
  official code's `eval` would, but never in this process. An answer that names `f` or anything else the
  task's program defines (`f("Hello world")`) is refused (`uses_program`) before anything runs: it restates the
  question, and against the identity program it would be "correct" whenever the output equals the input.
- abduction: the task's program runs on the proposed input; correct iff the result equals the gold output (any
  input that maps to it counts).
- induction: the candidate program (with the gold program's imports prepended when missing, as the official code
  does) runs on every *hidden* input; `fraction` is the share of hidden outputs it matches and `correct` means all.

Equality (`equality`): `strict` (default, training) is `values.values_equal`, the documented type-aware rule
(`1 != 1.0 != True`, floats within 1e-9 relative); `official` is Python `==` on the two parsed values, the rule
of CRUXEval's `assert o == g` and of the AZR reference code (`1 == 1.0 == True`, no float tolerance), for
scores comparable with published tables. Both compare parsed plain data; nothing is `eval`'d here.

All executions of one call go to the executor in one batch. Verification does not compute rewards.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from azr.executor import values
from azr.executor.types import ExecRequest, ExecResult, Status
from azr.tasks.parse import Answer, ParseFailure
from azr.tasks.spec import split_visible
from azr.tasks.types import Task, TaskType

IDENTITY = "def f(x):\n    return x"
EQUALITY = ("strict", "official")
"""Answer equality rules (module docstring): `strict` type-aware, `official` Python `==`."""

VERDICT_REASONS = (
    "wrong",
    "bad_input",
    "uses_program",
    "error",
    "timeout",
    "memory",
    "crashed",
    "policy",
    "output_not_plain",
    "sandbox_error",
)
"""Why an answer was not correct (besides the parse failure names of `azr.tasks.parse`)."""

STATUS_REASON: dict[Status, str] = {
    Status.ERROR: "error",
    Status.TIMEOUT: "timeout",
    Status.MEMORY: "memory",
    Status.CRASHED: "crashed",
    Status.POLICY_REJECTED: "policy",
    Status.OUTPUT_LIMIT: "output_not_plain",
    Status.SANDBOX_ERROR: "sandbox_error",
}
"""The one table from a failed execution's status to the reason name, for verdicts and validation rejections."""


class Executes(Protocol):
    """What the environment needs from the executor (`azr.executor.Executor`, or a test double)."""

    def run(self, requests: Sequence[ExecRequest]) -> list[list[ExecResult]]:
        """One result per input of each request, in order."""
        ...

    def run_checked(self, requests: Sequence[ExecRequest]) -> list[list[ExecResult]]:
        """`run` twice in processes with different hash seeds; inputs whose results differ become
        `ExecResult(Status.ERROR, error="NonDeterministic: ...")`."""
        ...


Run = Callable[[Sequence[ExecRequest]], list[list[ExecResult]]]


@dataclass(frozen=True)
class Verdict:
    correct: bool
    fraction: float
    """Share of checks passed: 1.0/0.0 for deduction and abduction, hidden pairs matched for induction."""
    reason: str | None = None
    """None when correct; else a parse failure name or one of VERDICT_REASONS."""


WRONG = Verdict(False, 0.0, "wrong")


def call_args(text: str) -> list[str] | None:
    """`values.split_args` that never raises: CPython 3.11's parser can throw SystemError ("AST constructor
    recursion depth mismatch") on some deeply nested texts, which must count as unparseable, not crash a step."""
    try:
        return values.split_args(text)
    except Exception:
        return None


def equal(a: object, b: object, equality: str = "strict") -> bool:
    """Two parsed plain values under the named rule (module docstring); never raises."""
    try:
        return values.values_equal(a, b) if equality == "strict" else bool(a == b)
    except Exception:  # RecursionError on pathological nesting
        return False


def same_output(gold: str | None, got: str | None, equality: str = "strict") -> bool:
    """Two output reprs equal under `equality` (`values.outputs_equal` for `strict`); never raises (see
    `call_args`)."""
    try:
        if equality == "strict":
            return values.outputs_equal(gold, got)
        if gold is None or got is None:
            return False
        a, b = values.parse_value(gold), values.parse_value(got)
        return values.is_plain(a) and values.is_plain(b) and equal(a, b, equality)
    except Exception:
        return False


def program_names(program: str) -> frozenset[str]:
    """`f` and every name the program binds at module level (functions, classes, assignments, imports, loop and
    `with` targets): the names an output answer must not use. A program that does not parse binds only `f`."""
    names = {"f"}
    try:
        tree = values.parse_quietly(program, "exec")
    except Exception:
        return frozenset(names)
    stack: list[ast.AST] = list(ast.iter_child_nodes(tree))  # the module body
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)  # its body is its own scope
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif not isinstance(node, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            stack.extend(ast.iter_child_nodes(node))
    return frozenset(names)


def uses_names(text: str, names: frozenset[str]) -> bool:
    """True if the expression `text` reads any of `names` (a text that does not parse reads none: it fails later
    as the syntax error it is)."""
    try:
        tree = values.parse_quietly(f"(\n{text}\n)", "eval")
    except Exception:
        return False
    return any(isinstance(n, ast.Name) and n.id in names for n in ast.walk(tree))


def run_retrying(run: Run, requests: Sequence[ExecRequest]) -> list[list[ExecResult]]:
    """`executor.run`/`run_checked` once more for the requests that came back with a SANDBOX_ERROR: that status
    means the executor itself failed and the program's behaviour is unknown, so it must not be scored as the
    program's fault when a retry can tell."""
    if not requests:
        return []
    try:
        results = run(list(requests))
    except SystemError:
        # CPython 3.11 (gh-106905): `ast.parse` in concurrent threads can fail with "AST constructor recursion
        # depth mismatch"; the executor parses in threads, so one retry turns a spurious crash into a result.
        results = run(list(requests))
    again = [i for i, res in enumerate(results) if any(r.status is Status.SANDBOX_ERROR for r in res)]
    if again:
        for i, res in zip(again, run([requests[i] for i in again])):
            results[i] = res
    return results


def hidden_pairs(task: Task) -> tuple[tuple[str, ...], tuple[str, ...]]:
    visible, _ = split_visible(task.inputs)
    return task.inputs[visible:], task.outputs[visible:]


def _with_imports(program: str, imports: Sequence[str]) -> str:
    missing = [imp for imp in imports if imp not in program]
    return "\n".join([*missing, program]) if missing else program


def _compare(gold: str, result: ExecResult, equality: str) -> Verdict:
    if not result.ok:
        return Verdict(False, 0.0, STATUS_REASON.get(result.status, "error"))
    return Verdict(True, 1.0) if same_output(gold, result.output, equality) else WRONG


def _deduction_literal(task: Task, text: str, equality: str) -> Verdict | None:
    """Compare a literal answer directly; None if the answer is not a literal (needs the sandbox)."""
    try:
        answer = values.parse_value(text)
    except Exception:  # ValueError, or SystemError from the 3.11 parser on pathological text
        return None
    try:
        gold = values.parse_value(task.output)
        return Verdict(True, 1.0) if equal(gold, answer, equality) else WRONG
    except Exception:
        return WRONG


def verify_answers(
    tasks: Sequence[Task], answers: Sequence[Answer | ParseFailure], executor: Executes, equality: str = "strict"
) -> list[Verdict]:
    """One verdict per (task, answer) pair, answers compared under `equality` (`strict` or `official`)."""
    if equality not in EQUALITY:
        raise ValueError(f"equality must be one of {', '.join(EQUALITY)} (got {equality!r})")
    out: list[Verdict | None] = [None] * len(tasks)
    requests: list[ExecRequest] = []
    owners: list[int] = []
    for i, (task, ans) in enumerate(zip(tasks, answers)):
        if isinstance(ans, ParseFailure):
            out[i] = Verdict(False, 0.0, ans.reason)
            continue
        text = ans.text
        if task.type is TaskType.DEDUCTION:
            out[i] = _deduction_literal(task, text, equality)
            if out[i] is None and uses_names(text, program_names(task.program)):
                out[i] = Verdict(False, 0.0, "uses_program")
            elif out[i] is None:
                # Parenthesised on its own line so `1, 2` is a tuple and a trailing comment cannot eat the `)`.
                requests.append(ExecRequest(IDENTITY, (f"(\n{text}\n)",)))
                owners.append(i)
        elif task.type is TaskType.ABDUCTION:
            if call_args(text) is None:
                out[i] = Verdict(False, 0.0, "bad_input")
                continue
            requests.append(ExecRequest(task.program, (text,)))
            owners.append(i)
        else:
            hidden_in, _ = hidden_pairs(task)
            requests.append(ExecRequest(_with_imports(text, task.imports), tuple(hidden_in)))
            owners.append(i)
    results = run_retrying(executor.run, requests)
    for i, res in zip(owners, results):
        task = tasks[i]
        if task.type is TaskType.INDUCTION:
            _, hidden_out = hidden_pairs(task)
            checks = [_compare(gold, r, equality) for gold, r in zip(hidden_out, res)]
            passed = sum(v.correct for v in checks)
            frac = passed / len(checks) if checks else 0.0
            first_bad = next((v.reason for v in checks if not v.correct), None)
            out[i] = Verdict(bool(checks) and passed == len(checks), frac, first_bad)
        else:
            out[i] = _compare(task.output, res[0], equality) if res else Verdict(False, 0.0, "sandbox_error")
    return [v if v is not None else Verdict(False, 0.0, "sandbox_error") for v in out]
