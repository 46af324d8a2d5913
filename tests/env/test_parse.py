"""Parsers: the answer contract, named failures, and never raising on any text."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from azr.tasks.parse import (
    PARSE_REASONS,
    Answer,
    ParseFailure,
    Proposal,
    extract_answer,
    format_ok,
    parse_answer,
    parse_proposal,
)
from azr.tasks.types import TaskType

PROP = "<think>plan</think>\n<answer>\n```python\ndef f(x):\n    return x + 1\n```\n```input\n3\n```\n</answer>"


def test_format_ok_contract():
    assert format_ok("<think>a</think><answer>b</answer>")
    assert format_ok("<think>a</think>\n  <answer>b</answer> trailing text is tolerated")
    assert format_ok("<think>a</think> x </think>\n<answer>b</answer>")  # a later </think> may open the answer
    assert not format_ok("<think>a<answer>b</answer>")
    assert not format_ok("a</think><answer>b</answer>")
    assert not format_ok("<think>a</think><answer>b")
    assert not format_ok("<think>a</think> text <answer>b</answer>")


def test_extract_answer_takes_last_answer_block():
    assert extract_answer("<answer>1</answer> <answer>2</answer>") == "2"
    assert extract_answer("<answer>open to the end") == "open to the end"
    assert extract_answer("no tags") is None


def test_deduction_proposal():
    assert parse_proposal(TaskType.DEDUCTION, PROP, 10) == Proposal("def f(x):\n    return x + 1", ("3",))


def test_code_fence_found_by_tag_not_position():
    # [BUG] fixed: an input fence before the python fence is not taken as the program.
    text = "<think></think><answer>```input\n3\n```\n```python\ndef f(x):\n    return x\n```</answer>"
    assert parse_proposal(TaskType.ABDUCTION, text, 10) == Proposal("def f(x):\n    return x", ("3",))


def test_prose_backticks_are_not_fences():
    text = "<answer>Put it in an ```output block (quoted).\n```output\n'a'\n```</answer>"
    assert parse_answer(TaskType.DEDUCTION, text) == Answer("'a'")


def test_unclosed_final_fence_counts():
    assert parse_answer(TaskType.DEDUCTION, "<think>x</think><answer>```output\n[1, 2]\n</answer>") == Answer("[1, 2]")


def test_proposal_failures_are_named():
    assert parse_proposal(TaskType.DEDUCTION, "<think>x</think>", 10) == ParseFailure("no_answer")
    assert parse_proposal(TaskType.DEDUCTION, "<answer>```input\n1\n```</answer>", 10) == ParseFailure("no_code_block")
    only_code = "<answer>```python\ndef f(x):\n    return x\n```</answer>"
    assert parse_proposal(TaskType.DEDUCTION, only_code, 10) == ParseFailure("no_input_block")
    three = "<answer>" + "".join(f"```input\n{i}\n```\n" for i in range(3)) + "```message\nhi\n```</answer>"
    assert parse_proposal(TaskType.INDUCTION, three, 3) == Proposal("", ("0", "1", "2"), "hi")
    assert parse_proposal(TaskType.INDUCTION, three, 4) == ParseFailure("wrong_input_count")
    no_msg = "<answer>" + "".join(f"```input\n{i}\n```\n" for i in range(3)) + "</answer>"
    assert parse_proposal(TaskType.INDUCTION, no_msg, 3) == ParseFailure("no_message")
    tagged = "<answer>" + "".join(f"```input\n{i}\n```\n" for i in range(2)) + "<message>m</message></answer>"
    assert parse_proposal(TaskType.INDUCTION, tagged, 2) == Proposal("", ("0", "1"), "m")


def test_answer_fallbacks():
    assert parse_answer(TaskType.DEDUCTION, "<answer> 5 </answer>") == Answer("5")
    assert parse_answer(TaskType.ABDUCTION, "<answer>```\n'x', 2\n```</answer>") == Answer("'x', 2")
    two = "<answer>```input\n1\n```\n```input\n2\n```</answer>"
    assert parse_answer(TaskType.ABDUCTION, two) == Answer("2")  # the last one
    assert parse_answer(TaskType.DEDUCTION, "<answer>```python\nx\n```</answer>") == ParseFailure("no_output_block")
    assert parse_answer(TaskType.INDUCTION, "<answer>```input\nx\n```</answer>") == ParseFailure("no_code_block")
    assert parse_answer(TaskType.DEDUCTION, "<answer>  </answer>") == ParseFailure("empty_answer")


_pieces = st.sampled_from(
    [
        "<think>",
        "</think>",
        "<answer>",
        "</answer>",
        "```",
        "```python\n",
        "```input\n",
        "```output\n",
        "```message\n",
        "<message>",
        "\n",
        " ",
        "def f(x):",
        "return",
        "'",
        '"',
        "\\",
        "\x00",
        "(",
        ")",
        "🙂",
    ]
)
_adversarial = st.lists(st.one_of(_pieces, st.text(max_size=8)), max_size=40).map("".join)


@settings(max_examples=300, deadline=None)
@given(text=st.one_of(st.text(max_size=300), _adversarial), t=st.sampled_from(list(TaskType)), n=st.integers(0, 12))
def test_parsers_never_raise(text, t, n):
    for out in (parse_proposal(t, text, n), parse_answer(t, text)):
        assert isinstance(out, (Proposal, Answer, ParseFailure))
        if isinstance(out, ParseFailure):
            assert out.reason in PARSE_REASONS
    assert isinstance(format_ok(text), bool)


def test_parsers_accept_non_strings_without_raising():
    assert parse_answer(TaskType.DEDUCTION, None) == ParseFailure("no_answer")  # type: ignore[arg-type]
    assert format_ok(None) is False  # type: ignore[arg-type]
