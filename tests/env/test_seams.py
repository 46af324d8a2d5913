"""Module seams: no import cycle between the buffers and validation, one table from status to reason."""

from __future__ import annotations

import subprocess
import sys

from azr.executor.types import Status


def _imports(module: str) -> set[str]:
    code = f"import sys, {module}; print(' '.join(m for m in sys.modules if m.startswith('azr.')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_buffer_and_validate_do_not_import_each_other() -> None:
    assert "azr.validate" not in _imports("azr.buffer")
    assert "azr.buffer" not in _imports("azr.validate")


def test_one_status_to_reason_table_for_validation_and_verification() -> None:
    from azr import validate, verify

    assert not hasattr(validate, "_STATUS_REASON") and not hasattr(verify, "_STATUS_REASON")
    failed = {s for s in Status if s is not Status.OK}
    assert set(verify.STATUS_REASON) == failed
    assert set(verify.STATUS_REASON.values()) <= set(validate.REJECTION_REASONS) & {*verify.VERDICT_REASONS}
