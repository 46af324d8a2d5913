"""`azr report RUN_DIR [--out DIR]`: write an HTML report of a run directory (finished or still running)."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR", help="run directory written by `azr train`")
    parser.add_argument(
        "--out", metavar="DIR", default=None, help="where to write index.html and its PNGs (default: RUN_DIR/report)"
    )


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from azr.cli import UserError

    run_dir = Path(args.run_dir)
    if not run_dir.is_dir():
        raise UserError(f"run directory not found: {run_dir}")
    # A directory with none of a run's files is most likely a typo'd path, not an empty run.
    markers = ("metrics.jsonl", "config.yaml", "buffers", "samples", "checkpoints", "oversight.jsonl")
    if not any((run_dir / m).exists() for m in markers):
        raise UserError(f"{run_dir} does not look like a run directory (no metrics.jsonl, config.yaml, buffers/ ...)")
    from azr.io import check_out_dir

    out = check_out_dir(Path(args.out) if args.out else run_dir / "report", "--out")

    from azr.report import build_report

    path = build_report(run_dir, out)
    print(f"report written: {path}")
    print(f"open it with: xdg-open {path}  (or file://{path.resolve()})")
    return 0
