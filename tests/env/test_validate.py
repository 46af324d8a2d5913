"""Validation: every rejection reason is reached by a minimal example, through the real sandboxed executor."""

from __future__ import annotations

import pytest
from envhelpers import small_cfg

from azr.buffer import TaskBuffers
from azr.executor.types import ExecResult, Status
from azr.tasks.parse import parse_proposal
from azr.tasks.types import Task, TaskType
from azr.validate import (
    PROPOSAL_PARSE_REASONS,
    REJECTION_REASONS,
    validate_candidates,
    validate_proposals,
    validate_tasks,
)

D = TaskType.DEDUCTION
OK_PROGRAM = "def f(xs):\n    total = 0\n    for x in xs:\n        total += x * x\n    return total"


def cand(program: str, *inputs: str, t: TaskType = D, message: str = "") -> Task:
    return Task(t, program, tuple(inputs), (), message=message)


def reason_of(executor, task: Task, **kw) -> str | None:
    cfg = small_cfg(*kw.get("overrides", ()))
    buffers = TaskBuffers(None, cfg)
    return validate_tasks([task], executor, buffers.contains, 1, cfg)[0].reason


# (reason, candidate) pairs reached through validate_tasks
CASES = {
    "bad_input": cand(OK_PROGRAM, "[1, 2"),
    "syntax": cand("def f(x) return x", "1"),
    "no_f": cand("def g(x):\n    return x", "1"),
    "no_params": cand("def f():\n    return 1", "1"),
    "multiple_functions": cand("def g(x):\n    return x\n\ndef f(x):\n    return g(x)", "1"),
    "policy": cand("import os\ndef f(x):\n    return x", "1"),
    "error": cand("def f(x):\n    return x / 0", "1"),
    "timeout": cand("def f(x):\n    while True:\n        x += 1", "1"),
    "memory": cand("def f(x):\n    return len(bytearray(2 ** 33))", "1"),
    "output_not_plain": cand("def f(x):\n    return object()", "1"),
    "output_none": cand("def f(x):\n    x.append(1)", "[]"),
    "nondeterministic": cand("def f(x):\n    return list({'a', 'b', 'c', 'd', 'e', 'f', 'g'})", "1"),
    "duplicate": cand("def f(a):  # the zero triplet, reformatted\n    return (a)", "'Hello world'"),
    "duplicate_inputs": cand("def f(a):\n    return [a]", "1", "(1)", t=TaskType.INDUCTION, message="wrap it"),
    "no_message": cand("def f(a):\n    return [a]", "1", "2", t=TaskType.INDUCTION, message=" "),
    "message_leaks_program": cand(
        "def f(a):\n    return [a]", "1", "2", t=TaskType.INDUCTION, message="it is def f(a): return [a]"
    ),
}


@pytest.mark.parametrize("reason", sorted(CASES))
def test_each_rejection_reason_is_reached(executor, reason):
    assert reason_of(executor, CASES[reason]) == reason


def test_too_long(executor):
    assert reason_of(executor, cand(OK_PROGRAM, "[1]"), overrides=["selfplay.max_program_chars=20"]) == "too_long"


def test_valid_task_gets_executed_outputs_and_imports(executor):
    cfg = small_cfg()
    prog = "import math\n\ndef f(x, y=2):\n    return math.floor(x) * y"
    v = validate_tasks([cand(prog, "3.7", "dict(a=1)['a'], 3")], executor, None, 7, cfg)  # expression inputs run
    assert v[0].reason is None
    assert v[0].task.outputs == ("6", "3") and v[0].task.imports == ("import math",) and v[0].task.step == 7


def test_nested_helpers_and_class_methods_are_allowed(executor):
    # [BUG] fixed: only top-level functions count for the multiple-function rule.
    prog = (
        "class Acc:\n    def __init__(self):\n        self.v = 0\n    def add(self, x):\n        self.v += x\n\n"
        "def f(xs):\n    def sq(x):\n        return x * x\n    a = Acc()\n    for x in xs:\n        a.add(sq(x))\n"
        "    return a.v"
    )
    assert reason_of(executor, cand(prog, "[1, 2, 3]")) is None


@pytest.mark.parametrize(
    "body",
    [
        "return hash('x' + str(x))",  # string hashing depends on PYTHONHASHSEED
        "return str({'p', 'q', 'r', 's', 't', 'u'})",  # set iteration order of strings
        "return id([])",  # object addresses (differ between the two zygotes under ASLR)
    ],
)
def test_nondeterminism_sources_are_rejected(executor, body):
    assert reason_of(executor, cand(f"def f(x):\n    {body}", "1")) == "nondeterministic"


@pytest.mark.parametrize("module", ["random", "time", "datetime", "os", "sys", "uuid", "secrets"])
def test_entropy_and_clock_modules_are_rejected_by_policy(executor, module):
    assert reason_of(executor, cand(f"import {module}\ndef f(x):\n    return x", "1")) == "policy"


def test_duplicates_within_one_batch(executor):
    cfg = small_cfg()
    c = cand(OK_PROGRAM, "[1, 2]")
    same = cand(OK_PROGRAM.replace("total", "total ") + "  # comment", "[1,2]")
    assert [v.reason for v in validate_tasks([c, same], executor, None, 1, cfg)] == [None, "duplicate"]


def test_parse_reasons_reach_validation(executor):
    cfg = small_cfg("selfplay.induction_inputs=2")
    texts = {
        "no_answer": "<think>no answer</think>",
        "no_code_block": "<answer>```input\n1\n```</answer>",
        "no_input_block": "<answer>```python\ndef f(x):\n    return x\n```</answer>",
    }
    items = [parse_proposal(D, t, 2) for t in texts.values()]
    assert [v.reason for v in validate_proposals(D, items, executor, None, 1, cfg)] == list(texts)
    ind = {
        "wrong_input_count": "<answer>```input\n1\n```\n```message\nm\n```</answer>",
        "no_message": "<answer>```input\n1\n```\n```input\n2\n```</answer>",
    }
    items = [parse_proposal(TaskType.INDUCTION, t, 2) for t in ind.values()]
    assert [v.reason for v in validate_candidates(items, executor, None, 1, cfg)] == list(ind)


class StatusExecutor:
    """Returns fixed statuses: the two executor outcomes no short program can provoke on purpose."""

    def __init__(self, status: Status):
        self.status = status

    def run_checked(self, requests):
        return [[ExecResult(self.status, error="boom") for _ in r.inputs] for r in requests]


@pytest.mark.parametrize("status,reason", [(Status.CRASHED, "crashed"), (Status.SANDBOX_ERROR, "sandbox_error")])
def test_crash_and_sandbox_statuses(status, reason):
    v = validate_tasks([cand(OK_PROGRAM, "[1]")], StatusExecutor(status), None, 1, small_cfg())
    assert v[0].reason == reason


def test_every_reason_is_covered_by_a_test():
    covered = set(CASES) | {"too_long", "crashed", "sandbox_error"} | set(PROPOSAL_PARSE_REASONS)
    covered |= {"prompt_too_long"}  # reached in test_selfplay
    assert covered == set(REJECTION_REASONS)
