"""Value semantics: call-argument splitting, literal parsing under caps, type-aware equality."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from azr.executor.values import is_plain, outputs_equal, parse_value, split_args, values_equal


@pytest.mark.parametrize(
    "text, expected",
    [
        ("(1, ), (1, ), (1, 2)", ["(1, )", "(1, )", "(1, 2)"]),
        ("'a,b', 'c'", ["'a,b'", "'c'"]),
        ("[1, 2], {'k': (3, 4)}", ["[1, 2]", "{'k': (3, 4)}"]),
        ("'DSUWeqExTQdCMGpqur', 'a', 'x'", ["'DSUWeqExTQdCMGpqur'", "'a'", "'x'"]),
        ("x=1, *rest, **kw", ["x=1", "*rest", "**kw"]),
        ("", []),
        ("1, # trailing comment", ["1"]),
        ("'''multi\nline'''", ["'''multi\nline'''"]),
    ],
)
def test_split_args(text, expected):
    assert split_args(text) == expected


@pytest.mark.parametrize("text", ["1) + (2", "1)(2", "1), g(2", "(", "'unterminated", "1) or f(2"])
def test_split_args_rejects_non_call_text(text):
    assert split_args(text) is None


def test_parse_value_extensions():
    v = parse_value("[nan, -inf, inf, frozenset({1, 2}), frozenset(), set(), (1+2j), b'x', None]")
    assert math.isnan(v[0]) and v[1] == -math.inf and v[2] == math.inf
    assert v[3] == frozenset({1, 2}) and type(v[4]) is frozenset and v[5] == set()


@pytest.mark.parametrize(
    "text", ["os", "__import__('os')", "f(1)", "1 + 2", "[x for x in y]", "{[1]}", "set([1], [2])", "lambda: 1"]
)
def test_parse_value_rejects_code(text):
    with pytest.raises(ValueError):
        parse_value(text)


def test_parse_value_caps():
    with pytest.raises(ValueError):
        parse_value("1" * 200, max_chars=100)
    with pytest.raises(ValueError):
        parse_value("[" * 100_000 + "]" * 100_000, max_chars=10**6)  # nesting bomb: error, not a crash


def test_is_plain_exact_types():
    class Int(int):
        pass

    assert is_plain({"a": [1, (2.0, None)], 3: {frozenset({b"x"})}})
    assert not is_plain(Int(3)) and not is_plain([Int(3)]) and not is_plain(object())
    deep: list = []
    for _ in range(500):
        deep = [deep]
    assert not is_plain(deep)  # over the depth cap, checked without recursion
    assert not is_plain(list(range(100)), max_items=10)


@pytest.mark.parametrize(
    "a, b, equal",
    [
        ("1", "True", False),  # bool is not int
        ("1", "1.0", False),  # int is not float
        ("0.3", "0.30000000000000004", True),  # float rounding, rel 1e-9
        ("0.3", "0.3001", False),
        ("0.0", "1e-300", False),  # no absolute tolerance
        ("nan", "nan", True),
        ("inf", "-inf", False),
        ("{1: 2, 3: 4}", "{3: 4, 1: 2}", True),  # dict order ignored
        ("{1: 'a'}", "{True: 'a'}", False),  # keys are type-aware
        ("{'b', 'a'}", "{'a', 'b'}", True),
        ("{1}", "frozenset({1})", False),
        ("(1, 2)", "[1, 2]", False),  # tuple vs list
        ("[1, [2, (3.0,)]]", "[1, [2, (3.0000000000001,)]]", True),
        ("'a'", "b'a'", False),
        ("(1+2j)", "(1+2.0000000000001j)", True),
        ("None", "None", True),
        ("[]", "()", False),
    ],
)
def test_outputs_equal_table(a, b, equal):
    assert outputs_equal(a, b) is equal
    assert outputs_equal(b, a) is equal


def test_outputs_equal_rejects_unparsable():
    assert not outputs_equal("<object at 0x1>", "<object at 0x1>")
    assert not outputs_equal(None, "1")
    assert not outputs_equal("...", "...")  # Ellipsis parses but is not plain data


plain = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8) | st.binary(max_size=8),
    lambda kids: (
        st.lists(kids, max_size=4)
        | st.tuples(kids, kids)
        | st.dictionaries(st.integers() | st.text(max_size=4), kids, max_size=4)
        | st.frozensets(st.integers() | st.text(max_size=4), max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(plain)
def test_repr_round_trip(v):
    """What a child sends (repr of plain data) parses back to an equal value in the trainer."""
    assert is_plain(v)
    back = parse_value(repr(v))
    assert values_equal(v, back)
    assert outputs_equal(repr(v), repr(back))
