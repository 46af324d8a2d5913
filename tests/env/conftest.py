"""Fixtures for the environment tests: one real sandboxed executor per session, small configs."""

from __future__ import annotations

import pytest
from envhelpers import small_cfg

from azr.config import Config


@pytest.fixture(scope="session")
def executor():
    from azr.config import ExecutorConfig
    from azr.executor import Executor

    with Executor(ExecutorConfig(timeout=2.0)) as ex:
        yield ex


@pytest.fixture
def cfg() -> Config:
    return small_cfg()
