"""The oversight monitor: scan every rollout, turn findings into flags, map severities to actions."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from azr.config import OversightConfig
from azr.oversight.code import check_code, code_blocks
from azr.oversight.judge import Judge, make_judge
from azr.oversight.rules import EXCERPT_CHARS, SEVERITIES, RuleSet, excerpt, load_rules, match_prose, sentences

ACTIONS = ("log", "warn", "stop")
RULES_ENV = "AZR_OVERSIGHT_RULES"
"""Path of a rule file that replaces the packaged one (site-specific rules, tests)."""


@dataclass(frozen=True)
class Flag:
    step: int
    task_type: str
    role: str
    rule: str
    ruleset: str
    """Version of the rule set that produced the flag (`judge` flags carry it too, for the record)."""
    severity: str
    excerpt: str
    category: str = ""
    source: str = "rules"
    """`rules` (prose), `code` (program text), `executor` (rejection/status from the caller) or `judge`."""

    def to_json(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "task_type": self.task_type,
            "role": self.role,
            "rule": self.rule,
            "ruleset": self.ruleset,
            "severity": self.severity,
            "category": self.category,
            "source": self.source,
            "excerpt": self.excerpt,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Flag:
        return cls(
            step=int(d.get("step", 0)),
            task_type=str(d.get("task_type", "")),
            role=str(d.get("role", "")),
            rule=str(d.get("rule", "")),
            ruleset=str(d.get("ruleset", "")),
            severity=str(d.get("severity", "low")),
            excerpt=str(d.get("excerpt", "")),
            category=str(d.get("category", "")),
            source=str(d.get("source", "rules")),
        )

    def describe(self) -> str:
        """One line for the console: what fired, where, and on what."""
        return (
            f"oversight {self.severity.upper()} [{self.rule}] step {self.step} {self.task_type}/{self.role}: "
            f"{self.excerpt}"
        )


def _name(x: Any) -> str:
    return str(getattr(x, "value", x))


class Monitor:
    """`Monitor(cfg.oversight).scan(text, step=..., task_type=..., role=..., rejection=None) -> list[Flag]`.

    `rules` overrides the rule set (a RuleSet or a path); by default the file named by $AZR_OVERSIGHT_RULES, else
    the packaged `rules.yaml`. `judge` overrides the judge built from `cfg.judge` (tests pass a fake).
    """

    def __init__(
        self,
        cfg: OversightConfig | None = None,
        *,
        rules: RuleSet | str | Path | None = None,
        judge: Judge | None = None,
    ) -> None:
        self.cfg = cfg or OversightConfig()
        if isinstance(rules, RuleSet):
            self.rules = rules
        else:
            self.rules = load_rules(rules or os.environ.get(RULES_ENV) or None)
        self.judge = judge if judge is not None else make_judge(self.cfg.judge, self.rules.version)
        self.judge_errors = 0

    @property
    def version(self) -> str:
        return self.rules.version

    def scan(
        self,
        text: str,
        *,
        step: int,
        task_type: Any,
        role: Any,
        rejection: str | None = None,
    ) -> list[Flag]:
        """Flags for one rollout: prose rules on the whole text, code checks on its programs, the caller's
        rejection/executor status, then the judge. At most one flag per rule (the first place it fires)."""
        if not self.cfg.enabled:
            return []
        tt, rl, ver = _name(task_type), _name(role), self.rules.version
        flags: list[Flag] = []
        text = text or ""
        spans = sentences(text)
        for rule in self.rules.prose:
            m = match_prose(rule, text, spans)
            if m is not None:
                flags.append(
                    Flag(step, tt, rl, rule.id, ver, rule.severity, excerpt(text, m.start, m.end), rule.category)
                )
        seen_code: set[str] = set()
        for code in code_blocks(text):
            for hit in check_code(code, self.rules.code):
                if hit.rule in seen_code:
                    continue
                seen_code.add(hit.rule)
                ex = excerpt(f"{hit.detail} (line {hit.line}): {hit.code}", 0, 0, EXCERPT_CHARS)
                flags.append(Flag(step, tt, rl, hit.rule, ver, hit.severity, ex, "host-access", "code"))
        if rejection:
            for er in self.rules.executor:
                # A policy refusal of code we already flagged adds nothing; a sandbox violation always counts.
                if er.pattern.search(rejection) and not (er.severity != "high" and seen_code):
                    flags.append(
                        Flag(step, tt, rl, er.id, ver, er.severity, excerpt(rejection, 0, 0), "host-access", "executor")
                    )
                    break
        if self.judge is not None:
            flags.extend(self._judge(text, step, tt, rl))
        return flags

    def _judge(self, text: str, step: int, tt: str, rl: str) -> list[Flag]:
        try:
            found = self.judge.judge(text, step=step, task_type=tt, role=rl) if self.judge else []
        except Exception as e:  # a flaky judge must not stop training; the rules still ran
            self.judge_errors += 1
            if self.judge_errors == 1:
                warnings.warn(
                    f"oversight judge failed ({type(e).__name__}: {e}); continuing with rules only", stacklevel=2
                )
            return []
        out = []
        for f in found:
            sev = f.get("severity", "medium")
            sev = sev if sev in SEVERITIES else "medium"
            ex = excerpt(str(f.get("excerpt") or text), 0, 0)
            out.append(
                Flag(
                    step,
                    tt,
                    rl,
                    str(f.get("rule") or "judge"),
                    self.rules.version,
                    sev,
                    ex,
                    str(f.get("category") or "judge"),
                    "judge",
                )
            )
        return out

    def action(self, flags: list[Flag]) -> str:
        """The strongest configured action over the flags' severities: `log` < `warn` < `stop`."""
        best = "log"
        for f in flags:
            act = getattr(self.cfg, f.severity, "log")
            if ACTIONS.index(act) > ACTIONS.index(best):
                best = act
        return best


def flag_metrics(flags: list[Flag]) -> dict[str, float]:
    """Metric keys for one step: `oversight/flags` and `oversight/<severity>` (all present, zero when clean)."""
    out = {"oversight/flags": float(len(flags))}
    for sev in SEVERITIES:
        out[f"oversight/{sev}"] = float(sum(f.severity == sev for f in flags))
    return out


def stop_message(flags: list[Flag], checkpoint: str | Path | None = None) -> str:
    """The message a run halted by oversight ends with."""
    worst = max(flags, key=lambda f: SEVERITIES.index(f.severity)) if flags else None
    lines = [f"oversight stopped the run: {len(flags)} flag(s)"]
    if worst is not None:
        lines.append("  " + worst.describe())
    if checkpoint:
        lines.append(f"  checkpoint saved: {checkpoint}")
    lines.append("  review RUN_DIR/oversight.jsonl; change oversight.<severity> actions to continue")
    return "\n".join(lines)
