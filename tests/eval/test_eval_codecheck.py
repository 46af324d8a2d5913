"""EvalPlus semantics of the code judge, on hand-made tasks through the real sandbox."""

from __future__ import annotations

import pytest

from azr.eval.benchmarks import Item
from azr.eval.scoring import CodeJudge


@pytest.fixture(scope="module")
def judge():
    from azr.config import ExecutorConfig
    from azr.executor import Executor

    with Executor(ExecutorConfig(max_output_chars=20_000_000), static_policy=False) as ex:
        yield CodeJudge(ex, None, timeout=5.0)


def _item(tid: str, reference: str, entry: str, base: list, plus: list, atol: float = 0.0, bench: str = "mbpp+"):
    data = {"entry_point": entry, "base_input": base, "plus_input": plus, "atol": atol, "reference": reference}
    return Item(bench, tid, reference, "", data)


def _run(judge: CodeJudge, item: Item, *codes: str):
    return judge.check([item] * len(codes), [f"```python\n{c}\n```" for c in codes])


def test_exact_float_and_plus_semantics(judge: CodeJudge) -> None:
    ref = "def half(x):\n    return x / 2"
    item = _item("t/1", ref, "half", [[1]], [[3], [float("inf")]])
    v = _run(
        judge, item,
        ref,
        "def half(x):\n    return x / 2 + 1e-9",  # within the default 1e-6 float tolerance
        "def half(x):\n    return x / 2 + 1e-3",  # outside it
        "def half(x):\n    return 0.5 if x == 1 else 0",  # passes base, fails plus
        "def half(x):\n    while True:\n        pass",  # timeout
        "def half(x)\n    return x",  # syntax error
    )  # fmt: skip
    assert [x.correct for x in v] == [True, True, False, False, False, False]
    assert [x.extra["base_ok"] for x in v] == [True, True, False, True, False, False]
    assert v[3].reason == "wrong output on input #1"
    assert v[4].reason.startswith("timeout")


def test_types_matter_without_tolerance(judge: CodeJudge) -> None:
    item = _item("t/2", "def g(n):\n    return [n, n]", "g", [[1]], [])
    v = _run(judge, item, "def g(n):\n    return (n, n)", "def g(n):\n    return [n, n]")
    assert [x.correct for x in v] == [False, True]


def test_mbpp_set_equality_oracle_and_input_types(judge: CodeJudge) -> None:
    # Mbpp/2's entry point compares as sets, and its inputs are restored to tuples
    ref = "def similar_elements(a, b):\n    return tuple(set(a) & set(b))"
    item = _item("Mbpp/2", ref, "similar_elements", [[(3, 4, 5), (5, 4)]], [])
    v = _run(judge, item, "def similar_elements(a, b):\n    assert type(a) is tuple\n    return [5, 4]")
    assert v[0].correct


def test_huge_outputs_and_ints_are_compared(judge: CodeJudge) -> None:
    ref = "def big(n):\n    return 'x' * n, 7 ** n"
    item = _item("t/3", ref, "big", [[2_000_000]], [], bench="humaneval+")
    v = _run(judge, item, ref, "def big(n):\n    return 'x' * (n - 1) + 'y', 7 ** n")
    assert [x.correct for x in v] == [True, False]


def test_humaneval_body_only_answer_is_completed_with_the_prompt(judge: CodeJudge) -> None:
    prompt = "def inc(x):\n    \"\"\"Add one.\"\"\"\n"
    item = Item("humaneval+", "t/4", prompt + "    return x + 1\n", prompt,
                {"entry_point": "inc", "base_input": [[1]], "plus_input": [[-5]], "atol": 0.0,
                 "reference": prompt + "    return x + 1\n"})  # fmt: skip
    v = judge.check([item], ["```python\n    return x + 1\n```"])
    assert v[0].correct
