"""`azr train [--config FILE] [--out RUN_DIR] [--resume RUN_DIR] [key=value ...]`: Absolute Zero self-play.

The config is the preset (`cpu-demo` by default, a name from configs/ or a YAML path) plus dotted overrides; with
`--resume` it is the run's saved config.yaml plus the new overrides (typically `trainer.steps=N`). Every value,
and the run directory, is checked before any model is loaded. A run directory without a checkpoint (a run killed
before its first) starts again from scratch with `--out` and with `--resume`. Exit status: 0 done, 2 user error,
3 halted by oversight.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

DEFAULT_PRESET = "cpu-demo"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE", help=f"preset name or YAML file (default: {DEFAULT_PRESET})")
    parser.add_argument("--out", metavar="RUN_DIR", help="run directory (default: runs/<timestamp>)")
    parser.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR from its latest checkpoint")
    parser.add_argument(
        "overrides", nargs="*", metavar="key=value", help="dotted config overrides, e.g. trainer.steps=2"
    )


def resolve(args: argparse.Namespace) -> tuple[object, Path, bool]:
    """(config, run dir, resume?) from the command line; raises ConfigError/UserError before anything loads."""
    from azr.cli import UserError
    from azr.config import load_config, resolve_preset
    from azr.io import check_out_dir

    if args.resume:
        if args.config:
            raise UserError("--resume continues a run with its saved config; pass changes as key=value, not --config")
        if args.out and Path(args.out) != Path(args.resume):
            raise UserError("--out and --resume name different run directories")
        run_dir = Path(args.resume)
        saved = run_dir / "config.yaml"
        if not saved.is_file():
            raise UserError(f"{run_dir} is not a run directory (no config.yaml)")
        cfg = load_config(saved, list(args.overrides))
        return cfg, check_out_dir(run_dir, "--resume"), True
    preset = resolve_preset(args.config or DEFAULT_PRESET)
    cfg = load_config(preset, list(args.overrides))
    run_dir = Path(args.out) if args.out else Path("runs") / time.strftime("%Y%m%d-%H%M%S")
    return cfg, check_out_dir(run_dir, "--out"), False


def run(args: argparse.Namespace) -> int:
    from azr.cli import UserError

    cfg, run_dir, resume = resolve(args)
    from azr.trainer import TrainError, train

    try:
        result = train(cfg, run_dir, resume=resume)  # type: ignore[arg-type]
    except TrainError as e:
        raise UserError(str(e)) from e
    except Exception as e:
        from azr.models import ModelError

        if isinstance(e, ModelError):
            raise UserError(str(e)) from e
        raise
    return 3 if result.stopped else 0
