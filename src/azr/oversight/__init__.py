"""Oversight: a rule-based monitor (plus an optional model judge) applied to every rollout.

See docs/oversight.md for the rule set, its version, the measured precision/recall and the actions.
"""

from azr.oversight.monitor import ACTIONS, RULES_ENV, Flag, Monitor, flag_metrics, stop_message
from azr.oversight.rules import DEFAULT_RULES, RuleSet, RuleSetError, load_rules

__all__ = [
    "ACTIONS",
    "DEFAULT_RULES",
    "RULES_ENV",
    "Flag",
    "Monitor",
    "RuleSet",
    "RuleSetError",
    "flag_metrics",
    "load_rules",
    "stop_message",
]
