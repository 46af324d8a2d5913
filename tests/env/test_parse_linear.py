"""The answer parser runs in linear time on adversarial text, checked without timing: its patterns have no
ambiguous loop pair (tests/env/regexcheck.py), and the rewritten fence pattern and `format_ok` agree with the
originals on every short text built from the characters that matter."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st
from regexcheck import ambiguities

from azr.tasks import parse

# The pattern the parser used until it was found to take 1.7 s on a fence followed by 32k spaces.
OLD_FENCE = re.compile(r"```[ \t]*([\w+.\-]*)[ \t]*\n(.*?)(?:```|\Z)", re.DOTALL)
OFFICIAL_FORMAT = re.compile(r"(?s)<think>.*?</think>\s*<answer>.*?</answer>")
PIECES = ["```", " ", "\t", "\n", "py", "python", "x", "-", "<think>", "</think>", "<answer>", "</answer>", "`"]


def test_every_parser_pattern_is_free_of_ambiguous_loops() -> None:
    patterns = {name: v for name, v in vars(parse).items() if isinstance(v, re.Pattern)}
    assert "_FENCE" in patterns
    for name, pattern in patterns.items():
        assert ambiguities(pattern) == [], name


def test_the_check_catches_the_shapes_that_backtrack() -> None:
    assert ambiguities(OLD_FENCE)  # the regression itself: two blank loops around an optional tag
    assert ambiguities(re.compile(r"(?:\w+\s?)*$"))  # a loop whose rounds can split a word
    assert ambiguities(re.compile(r"a*(?:b?)a+"))
    assert not ambiguities(re.compile(r"a*b*c*"))
    assert not ambiguities(re.compile(r"[ \t]*x[ \t]*"))


def _old_fences(answer: str) -> list[tuple[str, str]]:
    return [(m.group(1).strip().lower(), m.group(2).rstrip("\n").rstrip()) for m in OLD_FENCE.finditer(answer)]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=14))
def test_fences_and_format_agree_with_the_original_patterns(pieces: list[str]) -> None:
    text = "".join(pieces)
    assert parse.fences(text) == _old_fences(text)
    expected = OFFICIAL_FORMAT.match(text.lstrip()) is not None
    assert parse.format_ok(text) == expected


def test_a_fence_followed_by_a_long_run_of_blanks() -> None:
    blanks = " " * 32_000
    assert parse.fences("```" + blanks) == []  # no newline: not a fence
    assert parse.fences("```python" + blanks + "\ndef f(x):\n    return x\n```") == [
        ("python", "def f(x):\n    return x")
    ]
    assert not parse.format_ok("<think>" + "</think>" * 5_000 + blanks)
