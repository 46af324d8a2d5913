"""Verification through the executor: the three task types, and CRUXEval gold answers."""

from __future__ import annotations

import pytest
from envhelpers import data_path

from azr.tasks.parse import Answer, ParseFailure
from azr.tasks.records import read_task_file
from azr.tasks.types import Task, TaskType
from azr.verify import verify_answers

D, A, IND = TaskType.DEDUCTION, TaskType.ABDUCTION, TaskType.INDUCTION
SQUARE = Task(D, "def f(x):\n    return x * x", ("-3",), ("9",))


def verdicts(executor, pairs):
    return verify_answers([t for t, _ in pairs], [a for _, a in pairs], executor)


def test_deduction(executor):
    t = Task(D, "def f(a):\n    return [a, {a: 1.5}]", ("'k'",), ("['k', {'k': 1.5}]",))
    got = verdicts(
        executor,
        [
            (t, Answer("['k', {'k': 1.5}]")),
            (t, Answer('["k", {"k": 1.50}]')),  # same value, different spelling
            (t, Answer("['k', {'k': 1}]")),  # type-aware: 1 != 1.5
            (t, Answer("[k, {k: 1.5}]")),  # not a literal, and raises in the sandbox
            (t, ParseFailure("no_answer")),
        ],
    )
    assert [v.correct for v in got] == [True, True, False, False, False]
    assert got[3].reason == "error" and got[4].reason == "no_answer"


def test_deduction_expression_answers_are_evaluated_in_the_sandbox(executor):
    t = Task(D, "def f(a):\n    return dict(a=a)", ("1",), ("{'a': 1}",))
    got = verdicts(executor, [(t, Answer("dict(a=1)")), (t, Answer("dict(a=2)")), (t, Answer("1, 2"))])
    assert [v.correct for v in got] == [True, False, False]


def test_abduction_accepts_any_input_with_the_gold_output(executor):
    t = SQUARE.with_type(A)
    got = verdicts(
        executor,
        [
            (t, Answer("3")),
            (t, Answer("-3")),
            (t, Answer("4")),
            (t, Answer("3, ")),
            (t, Answer("'a'")),
            (t, Answer("(]")),
        ],
    )
    assert [v.correct for v in got] == [True, True, False, True, False, False]
    assert got[4].reason == "error" and got[5].reason == "bad_input"


def test_induction_checks_every_hidden_pair_and_reports_the_fraction(executor):
    t = Task(
        IND,
        "def f(x):\n    return x * 2",
        ("1", "2", "3", "4", "5", "6"),
        ("2", "4", "6", "8", "10", "12"),
        message="double it",
    )
    got = verdicts(
        executor,
        [
            (t, Answer("def f(x):\n    return x + x")),
            (t, Answer("def f(x):\n    return x * 2 if x < 6 else 0")),  # hidden inputs 4, 5, 6: 2 of 3
            (t, Answer("def g(x):\n    return x")),
        ],
    )
    assert got[0].correct and got[0].fraction == 1.0
    assert not got[1].correct and got[1].fraction == pytest.approx(2 / 3)
    assert not got[2].correct and got[2].fraction == 0.0


def test_induction_gets_the_gold_imports(executor):
    t = Task(
        IND,
        "import math\ndef f(x):\n    return math.isqrt(x)",
        ("4", "9"),
        ("2", "3"),
        message="m",
        imports=("import math",),
    )
    assert verdicts(executor, [(t, Answer("def f(x):\n    return math.isqrt(x)"))])[0].correct


def _cruxeval() -> list[Task]:
    return [r.task for r in read_task_file(data_path("cruxeval", "cruxeval.jsonl"))]


def test_cruxeval_gold_outputs_and_inputs_verify(executor):
    tasks = _cruxeval()
    assert len(tasks) == 800
    ded = verify_answers(tasks, [Answer(t.output) for t in tasks], executor)
    assert all(v.correct for v in ded), [t.meta for t, v in zip(tasks, ded) if not v.correct][:3]
    abd = [t.with_type(A) for t in tasks]
    got = verify_answers(abd, [Answer(t.input) for t in tasks], executor)
    bad = [(i, v) for i, v in enumerate(got) if not v.correct]
    assert not bad, bad[:3]


def test_cruxeval_perturbed_outputs_are_wrong(executor):
    tasks = _cruxeval()
    perturbed = [Answer(f"[{t.output}]") for t in tasks]  # wrapping in a list always changes the value
    assert not any(v.correct for v in verify_answers(tasks, perturbed, executor))


def test_restating_the_call_is_not_a_value(executor):
    """The reward hack of the zero triplet: `f(<input>)` evaluated against the identity program equals the output.
    Any answer that names `f` or another name of the program is refused before it runs, under both rules."""
    from azr.buffer import zero_tasks
    from azr.tasks.parse import parse_answer

    zero = next(t for t in zero_tasks() if t.type is D)
    text = '<think>\n</think>\n<answer>\n```output\nf("Hello world")\n```\n</answer>'
    helper = Task(D, "K = 3\ndef g(x):\n    return x + K\ndef f(x):\n    return g(x) - K", ("5",), ("5",))
    for equality in ("strict", "official"):
        got = verify_answers(
            [zero, zero, zero, helper, helper, helper],
            [parse_answer(D, text), Answer("f('Hello world')"), Answer("'Hello world'"),
             Answer("g(2)"), Answer("K + 2"), Answer("abs(-5)")],
            executor, equality,
        )  # fmt: skip
        assert [v.reason for v in got] == ["uses_program", "uses_program", None, "uses_program", "uses_program", None]


def test_cruxeval_items_whose_output_is_their_input_give_no_credit_for_the_call(executor):
    from azr.executor.values import parse_value

    same = [t for t in _cruxeval() if _same_value(parse_value(t.output), t.input, parse_value)]
    assert len(same) >= 20  # the items where restating the call paid
    got = verify_answers(same, [Answer(f"f({t.input})") for t in same], executor, "official")
    assert {v.reason for v in got} == {"uses_program"}
    assert all(v.correct for v in verify_answers(same, [Answer(t.output) for t in same], executor, "official"))


def _same_value(out, args_text, parse_value) -> bool:
    try:
        return out == parse_value(args_text)
    except ValueError:
        return False


def test_strict_and_official_equality(executor):
    """`strict` (training) is type-aware with a 1e-9 float tolerance; `official` is Python `==` (CRUXEval)."""

    def ded(out: str, program: str = "def f(x):\n    return x") -> Task:
        return Task(D, program, ("0",), (out,))

    cases = [  # (gold, answer, strict, official)
        ("1", "1.0", False, True),
        ("1", "True", False, True),
        ("[1, 2]", "[1.0, 2.0]", False, True),
        ("{1: 'a'}", "{True: 'a'}", False, True),
        ("8.5", "8.500000000008502", True, False),  # CRUXEval sample_145
        ("(1,)", "[1]", False, False),
        ("'a'", '"a"', True, True),
        ("{1, 2}", "{2, 1}", True, True),
        ("2", "1 + 1.0", False, True),  # an expression, evaluated in the sandbox
    ]
    tasks = [ded(g) for g, *_ in cases]
    answers = [Answer(a) for _, a, *_ in cases]
    assert [v.correct for v in verify_answers(tasks, answers, executor, "strict")] == [c[2] for c in cases]
    assert [v.correct for v in verify_answers(tasks, answers, executor, "official")] == [c[3] for c in cases]
    # abduction and induction compare the program's output with the same rule
    floaty = Task(A, "def f(x):\n    return x / 2", ("2",), ("1",))
    assert [verify_answers([floaty], [Answer("2")], executor, eq)[0].correct for eq in ("strict", "official")] == [
        False, True,
    ]  # fmt: skip
    with pytest.raises(ValueError):
        verify_answers([floaty], [Answer("2")], executor, "loose")
