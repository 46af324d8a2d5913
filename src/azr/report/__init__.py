"""`azr report`: an HTML page with matplotlib figures describing a run directory (finished or running).

`build_report(run_dir, out_dir=None) -> Path` writes `index.html` (figures inlined) and the PNGs next to it.
Imported lazily so that `azr --help` never loads matplotlib.
"""

from __future__ import annotations

from pathlib import Path


def build_report(run_dir: str | Path, out_dir: str | Path | None = None) -> Path:
    from azr.report.build import build_report as _build

    return _build(run_dir, out_dir)


__all__ = ["build_report"]
