"""A static check for the regex shape that backtracks in super-linear time, for tests (no timing involved).

The shape: two loops that can consume the same character with nothing mandatory between them, as in
`[ \\t]*([\\w.]*)[ \\t]*\\n` (a run of n blanks can be split between the two blank loops in n ways, and each split is
tried before the match fails), or a loop around a body that can begin with what it can end with, as in
`(?:\\w+\\s?)*`. A pattern free of both takes time linear in the text per start position for what the parser
here needs. Character sets are compared over a small alphabet of representative characters, which is enough for
the classes model-text parsers use.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field

try:
    from re import _constants as C  # type: ignore[attr-defined]  # Python >= 3.11
    from re import _parser as P  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - Python 3.10
    import sre_constants as C  # type: ignore[no-redef]
    import sre_parse as P  # type: ignore[no-redef]

ALPHABET = frozenset(string.printable + "é\u00a0")
LOOPS = {C.MAX_REPEAT, C.MIN_REPEAT}
UNBOUNDED = C.MAXREPEAT


def _category(cat: object, ch: str) -> bool:
    probes = {
        C.CATEGORY_DIGIT: r"\d",
        C.CATEGORY_NOT_DIGIT: r"\D",
        C.CATEGORY_SPACE: r"\s",
        C.CATEGORY_NOT_SPACE: r"\S",
        C.CATEGORY_WORD: r"\w",
        C.CATEGORY_NOT_WORD: r"\W",
    }
    return re.fullmatch(probes[cat], ch) is not None


def _in(items: list, ch: str) -> bool:
    hit, negate = False, False
    for op, av in items:
        if op is C.NEGATE:
            negate = True
        elif op is C.LITERAL:
            hit |= ch == chr(av)
        elif op is C.RANGE:
            hit |= av[0] <= ord(ch) <= av[1]
        elif op is C.CATEGORY:
            hit |= _category(av, ch)
    return hit != negate


@dataclass
class Shape:
    """What a (sub)pattern looks like from outside: can it match nothing, which loops can be the first or the last
    thing it consumes with, and which characters it can consume at all."""

    nullable: bool = True
    heads: list[frozenset[str]] = field(default_factory=list)
    tails: list[frozenset[str]] = field(default_factory=list)
    chars: frozenset[str] = frozenset()


def _atom_chars(op: object, av: object, dotall: bool) -> frozenset[str] | None:
    if op is C.LITERAL:
        return frozenset({chr(av)})  # type: ignore[arg-type]
    if op is C.NOT_LITERAL:
        return ALPHABET - {chr(av)}  # type: ignore[arg-type]
    if op is C.ANY:
        return ALPHABET if dotall else ALPHABET - {"\n"}
    if op is C.IN:
        return frozenset(ch for ch in ALPHABET if _in(av, ch))  # type: ignore[arg-type]
    return None


def ambiguities(pattern: re.Pattern[str]) -> list[str]:
    """Descriptions of every ambiguous loop pair in `pattern`; empty when it has none."""
    found: list[str] = []
    dotall = bool(pattern.flags & re.DOTALL)

    def seq(items: list) -> Shape:
        out = Shape()
        open_tails: list[frozenset[str]] = []
        for op, av in items:
            s = item(op, av)
            for t in open_tails:
                for h in s.heads:
                    if t & h:
                        found.append(f"loops over {''.join(sorted(t & h))!r} can meet in {pattern.pattern!r}")
            if out.nullable:
                out.heads += s.heads
            out.nullable &= s.nullable
            open_tails = open_tails + s.tails if s.nullable else list(s.tails)
            out.chars |= s.chars
        out.tails = open_tails
        return out

    def item(op: object, av: object) -> Shape:
        chars = _atom_chars(op, av, dotall)
        if chars is not None:
            return Shape(nullable=False, chars=chars)
        if op is C.SUBPATTERN:
            return seq(list(av[-1]))  # type: ignore[index]
        if op is C.BRANCH:
            parts = [seq(list(b)) for b in av[1]]  # type: ignore[index]
            return Shape(
                nullable=any(p.nullable for p in parts),
                heads=[h for p in parts for h in p.heads],
                tails=[t for p in parts for t in p.tails],
                chars=frozenset().union(*(p.chars for p in parts)),
            )
        if op in LOOPS:
            lo, hi, body = av  # type: ignore[misc]
            inner = seq(list(body))
            if hi != UNBOUNDED and hi <= 1:  # `x?`: not a loop, the body's own shape
                return Shape(lo == 0 or inner.nullable, inner.heads, inner.tails, inner.chars)
            for t in inner.tails:  # the loop's next round can start where this one ended
                for h in inner.heads:
                    if t & h:
                        found.append(f"a loop inside a loop over {''.join(sorted(t & h))!r} in {pattern.pattern!r}")
            loop = inner.chars
            return Shape(lo == 0 or inner.nullable, [loop, *inner.heads], [loop, *inner.tails], loop)
        return Shape()  # anchors, lookarounds, group references: consume nothing here

    seq(list(P.parse(pattern.pattern, pattern.flags)))
    return found
