"""Value semantics in one place: call-argument parsing, literal parsing under caps, type-aware equality.

Every verifier compares program outputs through this module, so the rules below are *the* definition of
"the same answer" in azr.

Plain data
    Exactly the types None, bool, int, float, complex, str, bytes, list, tuple, set, frozenset, dict
    (``type(v) is T``, never subclasses: an ``int`` subclass can lie in ``__repr__``/``__eq__``), nested at
    most ``max_depth`` levels with at most ``max_items`` elements in total.

Parsing (`parse_value`)
    ``ast.literal_eval`` on text of at most ``max_chars`` characters, extended with exactly what ``repr`` of
    plain data can produce but ``literal_eval`` refuses: ``nan``/``inf`` (also signed and inside complex
    numbers) and ``frozenset({...})``/``frozenset()``. Nothing is ever ``eval``'d; names other than
    ``nan``/``inf`` and calls other than ``set()``/``frozenset(...)`` are rejected with ``ValueError``.

Equality (`values_equal`)
    * Types must match exactly, recursively: ``1 != True``, ``1 != 1.0``, ``(1,) != [1]``,
      ``{1} != frozenset({1})``, ``'a' != b'a'``.
    * float: equal when ``==`` or ``math.isclose(a, b, rel_tol=1e-9, abs_tol=0.0)`` (absorbs
      last-digit rounding such as ``0.1 + 0.2`` vs ``0.3``; no absolute tolerance, so ``0.0`` only matches
      ``±0.0``). ``nan`` equals ``nan``; ``inf`` equals only ``inf`` of the same sign. complex: both parts
      by the float rule.
    * list/tuple: same length, element-wise. dict: same keys (keys matched exactly and type-aware, key order
      ignored), values by these rules. set/frozenset: same elements, exact and type-aware (no float
      tolerance inside sets, because set membership cannot be tolerant).
    * Not covered: anything that is not plain data compares unequal (``outputs_equal`` returns False).

Call arguments (`split_args`)
    The input of a task is the argument text of ``f(<text>)`` (CRUXEval: ``"(1, ), (1, ), (1, 2)"`` is three
    arguments). It is split with the Python parser, so commas inside strings or brackets are handled.
"""

from __future__ import annotations

import ast
import math
import warnings
from typing import Any

PLAIN_TYPES = (type(None), bool, int, float, complex, str, bytes, list, tuple, set, frozenset, dict)
_PLAIN = frozenset(PLAIN_TYPES)
_CONTAINERS = frozenset((list, tuple, set, frozenset))

MAX_DEPTH = 100
MAX_ITEMS = 1_000_000
REL_TOL = 1e-9


def parse_quietly(text: str, mode: str) -> ast.AST:
    """`ast.parse` without warnings: model text is full of invalid escapes, and their SyntaxWarnings belong to
    the sandboxed run, not the trainer's log."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ast.parse(text, mode=mode)


def split_args(text: str) -> list[str] | None:
    """Argument texts of ``f(<text>)`` (positional, ``*x``, ``k=v``, ``**d``), or None if it is not one call."""
    if not isinstance(text, str) or len(text) > 1_000_000:
        return None
    src = f"f({text}\n)"  # newline so a trailing comment cannot swallow the closing parenthesis
    try:
        tree = parse_quietly(src, "eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError, SystemError):
        # SystemError: CPython 3.11 "AST constructor recursion depth mismatch" on some deeply nested texts
        return None
    call = tree.body
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "f"):
        return None
    # The call must span the whole text: `1) + (2` parses as a BinOp and was rejected above; the position
    # check guards `1)(2`-style texts whose outer node is a call of a call.
    if call.func.col_offset != 0 or call.func.end_col_offset != 1:
        return None
    parts: list[tuple[int, int, str]] = []
    for node in [*call.args, *call.keywords]:
        seg = ast.get_source_segment(src, node)
        if seg is None:
            return None
        if isinstance(node, ast.keyword) and node.arg is None and not seg.startswith("**"):
            seg = "**" + seg
        parts.append((node.lineno, node.col_offset, seg))
    parts.sort(key=lambda p: (p[0], p[1]))
    return [p[2] for p in parts]


def _bad(msg: str) -> ValueError:
    return ValueError(msg)


def _eval_node(node: ast.AST, depth: int) -> Any:
    """Literal evaluation of the nodes `repr` of plain data produces; everything else is a ValueError."""
    if depth > MAX_DEPTH:
        raise _bad("value nested too deeply")
    if isinstance(node, ast.Constant):
        if node.value is Ellipsis:
            raise _bad("Ellipsis is not plain data")
        return node.value
    if isinstance(node, ast.Name):
        if node.id == "nan":
            return math.nan
        if node.id == "inf":
            return math.inf
        raise _bad(f"name {node.id!r} is not a literal")
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        v = _eval_node(node.operand, depth + 1)
        if type(v) not in (int, float, complex):
            raise _bad("unary sign on a non-number")
        return -v if isinstance(node.op, ast.USub) else +v
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
        # Only `real ± imag` (how complex numbers are written), as in ast.literal_eval.
        left, right = _eval_node(node.left, depth + 1), _eval_node(node.right, depth + 1)
        if type(left) not in (int, float) or type(right) is not complex:
            raise _bad("only real +/- imaginary is a literal")
        return left + right if isinstance(node.op, ast.Add) else left - right
    if isinstance(node, ast.Tuple):
        return tuple(_eval_node(e, depth + 1) for e in node.elts)
    if isinstance(node, ast.List):
        return [_eval_node(e, depth + 1) for e in node.elts]
    if isinstance(node, ast.Set):
        return {_eval_node(e, depth + 1) for e in node.elts}
    if isinstance(node, ast.Dict):
        if any(k is None for k in node.keys):
            raise _bad("dict unpacking is not a literal")
        return {_eval_node(k, depth + 1): _eval_node(v, depth + 1) for k, v in zip(node.keys, node.values)}
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
        if node.func.id in ("set", "frozenset") and len(node.args) <= 1:
            items = _eval_node(node.args[0], depth + 1) if node.args else ()
            if type(items) not in (set, list, tuple):
                raise _bad(f"{node.func.id}() of a non-collection")
            return set(items) if node.func.id == "set" else frozenset(items)
    raise _bad(f"{type(node).__name__} is not a literal")


def parse_value(text: str, max_chars: int = 100_000) -> Any:
    """Parse the repr of plain data (``ast.literal_eval`` plus nan/inf/frozenset); raises ValueError."""
    if not isinstance(text, str):
        raise ValueError("value text must be a string")
    if len(text) > max_chars:
        raise ValueError(f"value text longer than {max_chars} characters")
    try:
        return ast.literal_eval(text)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError, SystemError):
        pass  # fall through to the extended evaluator (nan, inf, frozenset) for a precise error
    try:
        tree = ast.parse(text.strip(), mode="eval")
        return _eval_node(tree.body, 0)
    except ValueError:
        raise
    except (TypeError, SyntaxError, MemoryError, RecursionError, SystemError) as e:
        # TypeError: an unhashable element inside a set/dict key, e.g. `{[1]}`. SystemError: see split_args.
        raise ValueError(f"not a literal: {type(e).__name__}: {e}") from None


def is_plain(value: Any, max_depth: int = MAX_DEPTH, max_items: int = MAX_ITEMS) -> bool:
    """True if `value` is plain data (exact types, see module docstring) within the depth and item caps.

    Iterative, so an adversarially deep value cannot overflow the C stack of the checker itself.
    """
    budget = max_items
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        v, depth = stack.pop()
        t = type(v)
        if t not in _PLAIN:
            return False
        if t in _CONTAINERS or t is dict:
            if depth >= max_depth:
                return False
            budget -= len(v)
            if budget < 0:
                return False
            if t is dict:
                stack.extend((k, depth + 1) for k in v)
                stack.extend((x, depth + 1) for x in v.values())
            else:
                stack.extend((x, depth + 1) for x in v)
    return True


def _float_eq(a: float, b: float) -> bool:
    if a == b:
        return True
    if math.isnan(a) and math.isnan(b):
        return True
    return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=0.0)


def _key(v: Any) -> Any:
    """A hashable, type-tagged form of a hashable plain value, for exact type-aware set/dict-key matching."""
    t = type(v)
    if t is float:
        return ("float", "nan") if math.isnan(v) else ("float", v)
    if t is complex:
        return ("complex", _key(v.real), _key(v.imag))
    if t is tuple:
        return ("tuple", tuple(_key(x) for x in v))
    if t is frozenset:
        return ("frozenset", frozenset(_key(x) for x in v))
    return (t.__name__, v)


def values_equal(a: Any, b: Any) -> bool:
    """Type-aware equality of two plain values (rules in the module docstring)."""
    ta, tb = type(a), type(b)
    if ta is not tb:
        return False
    if ta is float:
        return _float_eq(a, b)
    if ta is complex:
        return _float_eq(a.real, b.real) and _float_eq(a.imag, b.imag)
    if ta is list or ta is tuple:
        return len(a) == len(b) and all(values_equal(x, y) for x, y in zip(a, b))
    if ta is dict:
        if len(a) != len(b):
            return False
        try:
            kb = {_key(k): v for k, v in b.items()}
            return all((ka := _key(k)) in kb and values_equal(v, kb[ka]) for k, v in a.items())
        except TypeError:
            return False
    if ta is set or ta is frozenset:
        try:
            return len(a) == len(b) and {_key(x) for x in a} == {_key(x) for x in b}
        except TypeError:
            return False
    if ta in _PLAIN:
        return a == b
    return False


def outputs_equal(repr_a: str | None, repr_b: str | None, max_chars: int = 100_000) -> bool:
    """Parse two output reprs (plain-data check) and compare with `values_equal`; False if either fails."""
    if repr_a is None or repr_b is None:
        return False
    try:
        a, b = parse_value(repr_a, max_chars), parse_value(repr_b, max_chars)
    except ValueError:
        return False
    if not (is_plain(a) and is_plain(b)):
        return False
    try:
        return values_equal(a, b)
    except RecursionError:
        return False
