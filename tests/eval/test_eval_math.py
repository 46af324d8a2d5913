"""Math answer extraction and equivalence (math-verify) on a table of tricky pairs."""

from __future__ import annotations

import pytest

from azr.eval.mathans import extract_math_answer, last_boxed, math_equal

EQUAL = [
    ("\\frac{1}{2}", "0.5"),  # fraction vs decimal
    ("\\dfrac{3}{4}", "3/4"),
    ("\\frac{\\sqrt{2}}{2}", "\\sqrt{2}/2"),
    ("\\left( 3, \\frac{\\pi}{2} \\right)", "(3, \\frac{\\pi}{2})"),  # MATH-500 tuple with \left/\right
    ("[1,2)", "[1, 2)"),  # interval
    ("(-\\infty, 3]", "(-\\infty,3]"),
    ("10", "10\\text{ cm}"),  # units
    ("10", "10 \\mbox{cm}"),
    ("90^\\circ", "90"),  # degrees
    ("50\\%", "50"),  # percent
    ("27.0", "27"),  # AMC gold written as a float
    ("1000", "1,000"),  # thousands separator
    ("3", "x=3"),  # equation with the value
    ("(x+1)^2", "x^2+2x+1"),  # symbolic
    ("\\{1,2\\}", "\\{2,1\\}"),  # sets are unordered
    ("\\text{Tuesday}", "Tuesday"),  # free text: exact match after normalisation
]
NOT_EQUAL = [
    ("2", "3"),
    ("5", "-5"),
    ("\\frac{1}{2}", "\\frac{1}{3}"),
    ("[1,2)", "(1,2)"),  # open vs half-open interval
    ("(3, 4)", "(4, 3)"),  # ordered pair order matters
    ("\\sqrt{2}", "2"),
    ("10", "100\\text{ cm}"),
]


@pytest.mark.parametrize(("gold", "pred"), EQUAL)
def test_equal_pairs(gold: str, pred: str) -> None:
    assert math_equal(pred, gold)


@pytest.mark.parametrize(("gold", "pred"), NOT_EQUAL)
def test_unequal_pairs(gold: str, pred: str) -> None:
    assert not math_equal(pred, gold)


def test_missing_answers_are_wrong() -> None:
    assert not math_equal(None, "1")
    assert not math_equal("   ", "1")
    assert not math_equal("I do not know.", "1")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("so \\boxed{\\frac{1}{2}} done", "\\frac{1}{2}"),
        ("\\boxed{a} then \\boxed{\\frac{b}{c}}", "\\frac{b}{c}"),  # the last box, nested braces
        ("<think>\\boxed{9}</think> <answer>The answer is \\boxed{3}</answer>", "3"),  # <answer> wins
        ("<think>x</think> <answer> 42 </answer>", "42"),
        # no box in the answer block: the last box anywhere, the reasoning included, comes before the block text
        ("<think>so it is \\boxed{7}</think> <answer>seven</answer>", "7"),
        ("<think>\\boxed{1}, no: \\boxed{2}</think><answer>2</answer>", "2"),
        ("<answer>\\boxed{2} and \\boxed{3}</answer>", "3"),  # several boxes: the last one
        ("<think>the answer is 5</think><answer></answer>", "5"),  # an empty block falls through
        ("<answer>\\pm\\sqrt{2}</answer>", "\\pm\\sqrt{2}"),  # no normalisation of the text
        ("<answer>$x^2$</answer>", "x^2"),
        ("The final answer is $7$.", "7"),
        ("Answer: 12", "12"),
        ("#### 1,234", "1,234"),
        ("she has 3 apples and 5 pears", "5"),  # last-number fallback
        ("nothing here", None),
    ],
)
def test_extraction(text: str, expected: str | None) -> None:
    assert extract_math_answer(text) == expected


def test_last_boxed_unbalanced() -> None:
    assert last_boxed("\\boxed{1") is None
    assert last_boxed("\\boxed 5") == "5"
