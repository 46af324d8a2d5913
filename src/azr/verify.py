"""Solver answers -> verdicts, through the executor (paper §3.3.4). Nothing a model wrote is `eval`'d here.

- deduction: the answer is compared with the gold output by `values.values_equal` (the project's documented
  type-aware equality; see `azr.executor.values`). An answer that is not a literal (`dict(a=1)`, `2**10`) is
  evaluated in the sandbox by an identity program, as the official code's `eval` would, but never in this
  process.
- abduction: the task's program runs on the proposed input; correct iff the result equals the gold output (any
  input that maps to it counts).
- induction: the candidate program (with the gold program's imports prepended when missing, as the official code
  does) runs on every *hidden* input; `fraction` is the share of hidden outputs it matches and `correct` means all.

All executions of one call go to the executor in one batch. Verification does not compute rewards.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from azr.executor import values
from azr.executor.types import ExecRequest, ExecResult, Status
from azr.tasks.parse import Answer, ParseFailure
from azr.tasks.spec import split_visible
from azr.tasks.types import Task, TaskType

IDENTITY = "def f(x):\n    return x"

VERDICT_REASONS = (
    "wrong",
    "bad_input",
    "not_literal",
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


def same_output(gold: str | None, got: str | None) -> bool:
    """`values.outputs_equal` that never raises (see `call_args`)."""
    try:
        return values.outputs_equal(gold, got)
    except Exception:
        return False


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


def _compare(gold: str, result: ExecResult) -> Verdict:
    if not result.ok:
        return Verdict(False, 0.0, STATUS_REASON.get(result.status, "error"))
    return Verdict(True, 1.0) if same_output(gold, result.output) else WRONG


def _deduction_literal(task: Task, text: str) -> Verdict | None:
    """Compare a literal answer directly; None if the answer is not a literal (needs the sandbox)."""
    try:
        answer = values.parse_value(text)
    except Exception:  # ValueError, or SystemError from the 3.11 parser on pathological text
        return None
    try:
        gold = values.parse_value(task.output)
        return Verdict(True, 1.0) if values.values_equal(gold, answer) else WRONG
    except Exception:
        return WRONG


def verify_answers(
    tasks: Sequence[Task], answers: Sequence[Answer | ParseFailure], executor: Executes
) -> list[Verdict]:
    """One verdict per (task, answer) pair."""
    out: list[Verdict | None] = [None] * len(tasks)
    requests: list[ExecRequest] = []
    owners: list[int] = []
    for i, (task, ans) in enumerate(zip(tasks, answers)):
        if isinstance(ans, ParseFailure):
            out[i] = Verdict(False, 0.0, ans.reason)
            continue
        text = ans.text
        if task.type is TaskType.DEDUCTION:
            out[i] = _deduction_literal(task, text)
            if out[i] is None:
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
            checks = [_compare(gold, r) for gold, r in zip(hidden_out, res)]
            passed = sum(v.correct for v in checks)
            frac = passed / len(checks) if checks else 0.0
            first_bad = next((v.reason for v in checks if not v.correct), None)
            out[i] = Verdict(bool(checks) and passed == len(checks), frac, first_bad)
        else:
            out[i] = _compare(task.output, res[0]) if res else Verdict(False, 0.0, "sandbox_error")
    return [v if v is not None else Verdict(False, 0.0, "sandbox_error") for v in out]
