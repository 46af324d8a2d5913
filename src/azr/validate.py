"""Proposals -> valid `Task`s or named rejections, through the executor (paper §3.3.3; docs/environment.md).

Checks, in this order; the first failing one names the rejection (every name is in `REJECTION_REASONS`):
1. format / parse: `no_answer`, `no_code_block`, `no_input_block`, `wrong_input_count`, `no_message`,
   then `bad_input` (an input that is not the argument list of a call `f(...)`).
2. program: `too_long` (> selfplay.max_program_chars), `syntax`, `no_f` (no top-level `def f`), `no_params`
   (`f` takes no parameter), `multiple_functions`, `policy` (the executor's static policy, #2).
   [BUG fixed] the multi-function rule counts only *top-level* functions: nested helpers and class methods are
   allowed, as the prompt says (the official regex counted them too). No renaming: the entry must be named `f`.
3. execution on every input, in two fresh processes with different hash seeds (`Executor.run_checked`):
   `error`, `timeout`, `memory`, `crashed`, `sandbox_error`, `policy` (the policy refused a call argument);
   then the outputs: `output_not_plain` (not plain data within the size caps), `output_none`; then
   `nondeterministic` (the two runs differ).
   [DIFF] decided: a function returning None is rejected (paper: the program must return something; the official
   code accepts it with output 'None'). Any exception, including the determinism one, rejects (official code
   accepted those whose message lacks "error").
4. `duplicate`: same normalised program and inputs as a buffered task or an earlier valid one in the batch.
5. induction: `duplicate_inputs` (two inputs equal after normalisation), `no_message`, `message_leaks_program`
   (the message holds `def f(`, a python fence, or a program line of ≥ 16 characters; a heuristic for the
   prompt's "must not contain the program").

Not done here: rewards, solving, adding to buffers. The official "any code containing `input(` is rejected"
rule is not reproduced: the sandbox gives programs no stdin.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

from azr.config import Config
from azr.executor import policy, values
from azr.executor.types import ExecRequest, ExecResult, Status
from azr.executor.values import parse_quietly
from azr.tasks.identity import normalize_input, task_key
from azr.tasks.parse import ParseFailure, Proposal
from azr.tasks.types import Task, TaskType
from azr.verify import STATUS_REASON, Executes, call_args, run_retrying

Known = Callable[[Task], bool]
"""Membership predicate: is this task already buffered? (`TaskBuffers.contains`; None = nothing is.)"""

PROPOSAL_PARSE_REASONS = ("no_answer", "no_code_block", "no_input_block", "wrong_input_count", "no_message")
"""The parse failures a proposal can have (`empty_answer`/`no_output_block` only concern solver answers)."""
PROGRAM_REASONS = ("too_long", "syntax", "no_f", "no_params", "multiple_functions", "policy")
RUN_REASONS = ("error", "timeout", "memory", "crashed", "sandbox_error")
OUTPUT_REASONS = ("output_not_plain", "output_none", "nondeterministic")
REJECTION_REASONS: tuple[str, ...] = (
    *PROPOSAL_PARSE_REASONS,
    "bad_input",
    *PROGRAM_REASONS,
    *RUN_REASONS,
    *OUTPUT_REASONS,
    "duplicate",
    "duplicate_inputs",
    "message_leaks_program",
    "prompt_too_long",
)
"""The closed set of rejection names (`prompt_too_long` is set by `selfplay` when the MC solver prompt of a
proposal exceeds `rollout.max_prompt_tokens`: such a task could never be solved, so it is not buffered)."""

_LEAK_LINE_CHARS = 16


@dataclass(frozen=True)
class Validation:
    task: Task | None
    """The valid task with executed outputs, or None."""
    reason: str | None
    """None when valid, else one of REJECTION_REASONS."""
    detail: str = ""
    """Extra text for logs (an exception message, the policy rule)."""

    @property
    def valid(self) -> bool:
        return self.task is not None


def _module(program: str) -> ast.Module:
    tree = parse_quietly(program, "exec")
    assert isinstance(tree, ast.Module)  # what mode "exec" returns
    return tree


def check_program(program: str, max_chars: int) -> tuple[str, str] | None:
    """Static checks of a program text: (reason, detail) or None."""
    if len(program) > max_chars:
        return "too_long", f"{len(program)} chars"
    try:
        tree = _module(program)
    except Exception as e:  # SyntaxError, ValueError (null bytes), RecursionError
        return "syntax", f"{type(e).__name__}: {e}"[:200]
    functions = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    entry = [n for n in functions if n.name == "f"]
    if not entry:
        return "no_f", ""
    a = entry[-1].args
    if not (a.posonlyargs or a.args or a.vararg or a.kwonlyargs or a.kwarg):
        return "no_params", ""
    if len(functions) > 1:
        return "multiple_functions", ", ".join(n.name for n in functions)
    rule = policy.check(program)
    if rule is not None:
        return "policy", rule
    return None


def top_level_imports(program: str) -> tuple[str, ...]:
    try:
        tree = _module(program)
    except Exception:
        return ()
    return tuple(ast.unparse(n) for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom)))


def message_leaks_program(message: str, program: str) -> bool:
    if "def f(" in message or "```python" in message:
        return True
    lines = {ln.strip() for ln in program.splitlines() if len(ln.strip()) >= _LEAK_LINE_CHARS}
    return any(ln in message for ln in lines)


def _run_reason(results: Sequence[ExecResult]) -> tuple[str, str] | None:
    """Reasons from the executed results in the documented order: run failures, output checks, determinism."""
    nondet = [r for r in results if r.status is Status.ERROR and (r.error or "").startswith("NonDeterministic")]
    for r in results:
        if not r.ok and all(r is not n for n in nondet) and r.status is not Status.OUTPUT_LIMIT:
            return STATUS_REASON.get(r.status, "error"), (r.error or "")[:200]
    for r in results:
        if r.status is Status.OUTPUT_LIMIT:
            return "output_not_plain", (r.error or "")[:200]
        if r.ok:
            try:
                value = values.parse_value(r.output or "")
            except Exception as e:  # ValueError (not a literal), SystemError from the 3.11 parser
                return "output_not_plain", str(e)[:200]
            if value is None:
                return "output_none", ""
    if nondet:
        return "nondeterministic", (nondet[0].error or "")[:200]
    return None


def validate_tasks(
    candidates: Sequence[Task], executor: Executes, known: Known | None, step: int, cfg: Config
) -> list[Validation]:
    """Validate candidate tasks (program + inputs; recorded outputs are ignored and recomputed). All executions
    of the batch go to the executor in one `run_checked` call."""
    out: list[Validation | None] = [None] * len(candidates)
    to_run: list[int] = []
    for i, c in enumerate(candidates):
        if not c.inputs or any(call_args(x) is None for x in c.inputs):
            out[i] = Validation(None, "bad_input")
            continue
        bad = check_program(c.program, cfg.selfplay.max_program_chars)
        if bad is not None:
            out[i] = Validation(None, *bad)
            continue
        to_run.append(i)
    requests = [ExecRequest(candidates[i].program, tuple(candidates[i].inputs)) for i in to_run]
    results = run_retrying(executor.run_checked, requests)
    seen: set[Hashable] = set()
    for i, res in zip(to_run, results):
        c = candidates[i]
        bad = _run_reason(res)
        if bad is not None:
            out[i] = Validation(None, *bad)
            continue
        task = Task(
            type=c.type,
            program=c.program,
            inputs=tuple(c.inputs),
            outputs=tuple(r.output or "" for r in res),
            message=c.message,
            imports=top_level_imports(c.program),
            step=step,
            source=c.source,
        )
        key = task_key(task)
        if key in seen or (known is not None and known(task)):
            out[i] = Validation(None, "duplicate")
            continue
        if c.type is TaskType.INDUCTION:
            why = _induction_reason(task)
            if why is not None:
                out[i] = Validation(None, why)
                continue
        seen.add(key)
        out[i] = Validation(task, None)
    return [v if v is not None else Validation(None, "sandbox_error") for v in out]


def _induction_reason(task: Task) -> str | None:
    normalised = [normalize_input(x) for x in task.inputs]
    if len(set(normalised)) != len(normalised):
        return "duplicate_inputs"
    if not task.message.strip():
        return "no_message"
    if message_leaks_program(task.message, task.program):
        return "message_leaks_program"
    return None


def validate_candidates(
    items: Sequence[Task | ParseFailure], executor: Executes, known: Known | None, step: int, cfg: Config
) -> list[Validation]:
    """Candidates of any task types (parse failures pass through as rejections) -> one Validation each, with one
    executor call for the whole batch."""
    out: list[Validation | None] = [None] * len(items)
    index = [i for i, it in enumerate(items) if not isinstance(it, ParseFailure)]
    for i, it in enumerate(items):
        if isinstance(it, ParseFailure):
            out[i] = Validation(None, it.reason)
    tasks = [it for it in items if not isinstance(it, ParseFailure)]
    for i, v in zip(index, validate_tasks(tasks, executor, known, step, cfg)):
        out[i] = v
    return [v for v in out if v is not None]


def as_candidate(
    task_type: TaskType, parsed: Proposal | ParseFailure, given: Task | None = None
) -> Task | ParseFailure:
    """A parsed proposal as a candidate task; induction proposals take the program they were given."""
    if isinstance(parsed, ParseFailure):
        return parsed
    program = given.program if given is not None and not parsed.program else parsed.program
    return Task(type=TaskType(task_type), program=program, inputs=parsed.inputs, outputs=(), message=parsed.message)


def validate_proposals(
    task_type: TaskType,
    proposals: Sequence[Proposal | ParseFailure],
    executor: Executes,
    known: Known | None,
    step: int,
    cfg: Config,
) -> list[Validation]:
    """Parsed proposals of one task type -> one Validation each. Induction proposals must carry the program they
    were given (`Proposal.program`; or build candidates with `as_candidate(type, parsed, given)`)."""
    items = [as_candidate(task_type, p) for p in proposals]
    return validate_candidates(items, executor, known, step, cfg)
