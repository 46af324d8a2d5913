"""Shared test fixtures. Test data lives in ../shared/data beside the repo (or $AZR_DATA_DIR)."""

from __future__ import annotations

from pathlib import Path

import pytest

from azr.eval.benchmarks import default_data_dir

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    return default_data_dir() or REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    d = shared_data_dir()
    if not d.is_dir():
        pytest.fail(f"test data not found at {d}; set AZR_DATA_DIR")
    return d
