"""Helpers shared by the executor tests (a uniquely named module: tests are not a package)."""

from __future__ import annotations

import sys
from pathlib import Path

from azr.eval.benchmarks import default_data_dir
from azr.executor import ExecRequest, Executor

BENIGN = ExecRequest("def f(x):\n    return sorted(x)[::-1]", ("[3, 1, 2]",))


def data_dir() -> Path:
    """`$AZR_DATA_DIR`, else `../shared/data` beside the repository root (the CI layout); the product's rule."""
    return default_data_dir() or Path(__file__).resolve().parents[2].parent / "shared" / "data"


def assert_benign_ok(ex: Executor) -> None:
    """The executor still runs an ordinary program correctly (it was not broken or polluted)."""
    [[r]] = ex.run([BENIGN])
    assert r.ok and r.output == "[3, 2, 1]", r


def azr_command() -> list[str]:
    """argv prefix that runs this environment's `azr` (the console script, as users run it)."""
    script = Path(sys.executable).parent / "azr"
    return (
        [str(script)]
        if script.exists()
        else [sys.executable, "-c", "import sys; from azr.cli import main; sys.exit(main())"]
    )
