"""Evaluation harness (`azr eval`): benchmarks, prompts, scoring, pass@k, math equivalence, oracle/junk models.

Import cost stays low: submodules that need torch or the executor import them where used.
"""

from __future__ import annotations

from typing import Any

__all__ = ["periodic", "evaluate"]


def periodic(*args: Any, **kwargs: Any) -> dict[str, float]:
    """Periodic evaluation for the trainer; see `azr.eval.runner.periodic`."""
    from azr.eval.runner import periodic as _periodic

    return _periodic(*args, **kwargs)


def evaluate(*args: Any, **kwargs: Any) -> dict[str, Any]:
    """Run benchmarks; see `azr.eval.runner.evaluate`."""
    from azr.eval.runner import evaluate as _evaluate

    return _evaluate(*args, **kwargs)
