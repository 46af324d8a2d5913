"""The rule set: loading `rules.yaml`, compiling it, and matching prose rules against text.

A prose rule fires when all its terms occur in one sentence, close to the first term (the anchor), and no
negation cue sits just before the anchor (unless the rule says negation is part of the phrase). This is what
lets "I will not deceive the overseers" and "the function outsmarts the naive approach" stay quiet while
"outsmart ... less intelligent humans" fires.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

DEFAULT_RULES = Path(__file__).with_name("rules.yaml")
SEVERITIES = ("low", "medium", "high")
MAX_ANCHORS = 200
"""Anchor hits examined per rule and text."""
EXCERPT_CHARS = 240
"""Longest excerpt stored in a flag: enough to judge the context, small enough for oversight.jsonl."""

# Negation cues looked for in the few words before an anchor ("I will not", "shouldn't try to").
_NEGATION = re.compile(
    r"\b(?:not|never|no|nor|without|cannot|refuse to|instead of|rather than|avoid|\w+n['’]t)\b(?:\W+\w+){0,3}\W*$",
    re.IGNORECASE,
)
# Sentences end at . ! ? ; or a newline; a period inside a number or a dotted name (x.append) does not end one.
_SENTENCE = re.compile(r"(?:[.!?;](?=\s|$)|\n)+")
_REF = re.compile(r"@(\w+)")


class RuleSetError(ValueError):
    """The rule file is malformed (unknown group, bad regex, bad severity)."""


@dataclass(frozen=True)
class ProseRule:
    id: str
    category: str
    severity: str
    description: str
    terms: tuple[re.Pattern[str], ...]
    negatable: bool = True
    unless: tuple[re.Pattern[str], ...] = ()
    window: int = 160
    examples: tuple[str, ...] = ()
    near_misses: tuple[str, ...] = ()


@dataclass(frozen=True)
class ExecutorRule:
    id: str
    severity: str
    pattern: re.Pattern[str]


@dataclass(frozen=True)
class RuleSet:
    version: str
    prose: tuple[ProseRule, ...]
    executor: tuple[ExecutorRule, ...]
    code: dict[str, Any] = field(default_factory=dict)
    source: str = ""

    @property
    def rule_ids(self) -> list[str]:
        return [r.id for r in self.prose] + [r.id for r in self.executor] + list(CODE_RULE_IDS)


CODE_RULE_IDS = ("code.import", "code.call", "code.sandbox-escape", "code.policy")


def _expand(pattern: str, lexicon: dict[str, str], where: str) -> str:
    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in lexicon:
            raise RuleSetError(f"{where}: unknown lexicon group @{name}")
        return f"(?:{lexicon[name]})"

    return _REF.sub(sub, pattern)


def _compile(pattern: str, where: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern, re.IGNORECASE)
    except re.error as e:
        raise RuleSetError(f"{where}: bad regex: {e}") from e


def _severity(value: Any, where: str) -> str:
    if value not in SEVERITIES:
        raise RuleSetError(f"{where}: severity must be one of {', '.join(SEVERITIES)} (got {value!r})")
    return str(value)


def load_rules(path: str | Path | None = None) -> RuleSet:
    """Load and compile a rule file (default: the packaged `rules.yaml`). Raises RuleSetError."""
    p = Path(path) if path else DEFAULT_RULES
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as e:
        raise RuleSetError(f"cannot read rule set {p}: {e}") from e
    if not isinstance(data, dict) or "version" not in data:
        raise RuleSetError(f"rule set {p} must be a mapping with a version")
    # Groups are word-bounded alternations so that "con" never matches inside "contains".
    lexicon = {
        name: "|".join(rf"\b{alt}" if alt[:1].isalnum() else alt for alt in alts)
        for name, alts in (data.get("lexicon") or {}).items()
    }
    prose = []
    for i, r in enumerate(data.get("rules") or []):
        where = f"{p.name}: rule {r.get('id', i)}"
        # Terms are word-bounded at the start: it is correct for every rule and lets the regex engine skip ahead.
        terms = tuple(
            _compile(_expand(t if t.startswith(("@", "\\b")) else rf"\b{t}", lexicon, where), where) for t in r["all"]
        )
        prose.append(
            ProseRule(
                id=r["id"],
                category=r.get("category", "other"),
                severity=_severity(r.get("severity"), where),
                description=" ".join(str(r.get("description", "")).split()),
                terms=terms,
                negatable=bool(r.get("negatable", True)),
                unless=tuple(_compile(_expand(u, lexicon, where), where) for u in r.get("unless", ())),
                window=int(r.get("window", 160)),
                examples=tuple(r.get("examples", ())),
                near_misses=tuple(r.get("near_misses", ())),
            )
        )
    execs = tuple(
        ExecutorRule(e["id"], _severity(e.get("severity"), f"{p.name}: {e['id']}"), _compile(e["pattern"], e["id"]))
        for e in data.get("executor") or []
    )
    return RuleSet(str(data["version"]), tuple(prose), execs, dict(data.get("code") or {}), str(p))


def sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) spans of the sentences of `text`."""
    spans, start = [], 0
    for m in _SENTENCE.finditer(text):
        if m.start() > start:
            spans.append((start, m.start()))
        start = m.end()
    if start < len(text):
        spans.append((start, len(text)))
    return spans


def excerpt(text: str, start: int, end: int, limit: int = EXCERPT_CHARS) -> str:
    """The sentence-ish context around text[start:end], whitespace collapsed, at most `limit` characters."""
    pad = max(0, (limit - (end - start)) // 2)
    lo, hi = max(0, start - pad), min(len(text), end + pad)
    out = " ".join(text[lo:hi].split())
    if lo > 0:
        out = "…" + out
    if hi < len(text):
        out = out + "…"
    if len(out) > limit:
        out = out[: limit - 1] + "…"
    return out


@dataclass(frozen=True)
class Match:
    rule: ProseRule
    start: int
    end: int


def match_prose(rule: ProseRule, text: str, spans: list[tuple[int, int]] | None = None) -> Match | None:
    """First place where `rule` fires in `text`, or None.

    The anchor is searched over the whole text once (anchors are rare in ordinary reasoning, so this is what keeps
    a scan of a long rollout cheap); only sentences holding an anchor are looked at further. At most
    MAX_ANCHORS anchor hits per rule are examined, which bounds the cost of adversarially repetitive text.
    """
    spans = spans if spans is not None else sentences(text)
    if not spans:
        return None
    starts = [s for s, _ in spans]
    for n, anchor in enumerate(rule.terms[0].finditer(text)):
        if n >= MAX_ANCHORS:
            break
        i = bisect.bisect_right(starts, anchor.start()) - 1
        if i < 0 or anchor.end() > spans[i][1]:
            continue  # the anchor spans a sentence break
        s, e = spans[i]
        sent = text[s:e]
        if any(u.search(sent) for u in rule.unless):
            continue
        a0, a1 = anchor.start() - s, anchor.end() - s
        if rule.negatable and _NEGATION.search(sent[max(0, a0 - 60) : a0]):
            continue
        near = sent[max(0, a0 - rule.window) : min(len(sent), a1 + rule.window)]
        if all(t.search(near) for t in rule.terms[1:]):
            return Match(rule, anchor.start(), anchor.end())
    return None
