"""Helpers shared by the environment tests (imported by name: pytest puts this folder on sys.path)."""

from __future__ import annotations

from pathlib import Path

from azr.config import Config, load_config
from azr.eval.benchmarks import default_data_dir

REPO = Path(__file__).resolve().parents[2]


def data_path(*parts: str) -> Path:
    return (default_data_dir() or REPO.parent / "shared" / "data").joinpath(*parts)


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
