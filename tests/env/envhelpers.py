"""Helpers shared by the environment tests (imported by name: pytest puts this folder on sys.path)."""

from __future__ import annotations

import os
from pathlib import Path

from azr.config import Config, load_config

REPO = Path(__file__).resolve().parents[2]


def data_path(*parts: str) -> Path:
    env = os.environ.get("AZR_DATA_DIR")
    base = Path(env) if env else REPO.parent / "shared" / "data"
    return base.joinpath(*parts)


def small_cfg(*overrides: str) -> Config:
    return load_config(
        None,
        [
            "selfplay.batch_size=2",
            "selfplay.mc_samples=2",
            "rollout.backend=scripted",
            "executor.timeout=2",
            *overrides,
        ],
    )
