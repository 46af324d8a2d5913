"""Shared executor fixtures: one policy-on and one policy-off executor per test module (sharing also proves an
executor keeps working after each attack)."""

from __future__ import annotations

import pytest

from azr.config import ExecutorConfig
from azr.executor import Executor


@pytest.fixture(scope="module")
def ex():
    with Executor(ExecutorConfig(timeout=2.0)) as e:
        yield e


@pytest.fixture(scope="module", params=["auto", "seccomp"])
def raw_ex(request):
    """Policy check OFF (test hook): proves the sandbox layers hold for code the AST filter would refuse. Runs
    with the strongest sandbox here (`auto`, bubblewrap when available) and with the no-namespace fallback."""
    with Executor(ExecutorConfig(timeout=2.0, sandbox=request.param), static_policy=False) as e:
        yield e
