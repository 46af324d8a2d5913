"""`azr train [--config FILE] [--out RUN_DIR] [--resume RUN_DIR] [--nproc N] [key=value ...]`: Absolute Zero
self-play.

The config is the preset (`cpu-demo` by default, a name from configs/ or a YAML path) plus dotted overrides; with
`--resume` it is the run's saved config.yaml plus the new overrides (typically `trainer.steps=N`). Every value,
and the run directory, is checked before any model is loaded. A run directory without a checkpoint (a run killed
before its first) starts again from scratch with `--out` and with `--resume`. `--nproc N` runs N data-parallel
ranks on this machine through torchrun; under torchrun (`torchrun ... -m azr train ...`) each worker joins the
process group itself (azr.dist). Exit status: 0 done, 1 a rank was lost (resume from the last checkpoint), 2 user
error, 3 halted by oversight.
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
        "--nproc",
        type=int,
        metavar="N",
        default=None,
        help="data-parallel ranks on this machine (starts torchrun; one per GPU, or CPU processes with gloo)",
    )
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
    cfg, run_dir, resume = resolve(args)
    if args.nproc is not None:
        return _launch(args, run_dir)
    from azr.dist.launch import under_torchrun

    if under_torchrun():
        return _worker(cfg, run_dir, resume)
    if resume and _is_dcp_run(run_dir):
        # a multi-rank run resumed in one process: a 1-rank group, so DCP re-shards it (azr.dist.checkpoint)
        return _worker(cfg, run_dir, resume, single=True)
    return _train(cfg, run_dir, resume)


def _train(cfg: object, run_dir: Path, resume: bool) -> int:
    from azr.cli import UserError
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


def _launch(args: argparse.Namespace, run_dir: Path) -> int:
    from azr.cli import UserError
    from azr.dist.launch import torchrun, under_torchrun

    if args.nproc < 1:
        raise UserError("--nproc must be >= 1")
    if under_torchrun():
        raise UserError("--nproc starts torchrun itself; leave it out when launching with torchrun")
    forward = ["--resume", str(run_dir)] if args.resume else ["--out", str(run_dir)]
    if args.config:
        forward += ["--config", args.config]
    return torchrun([*forward, *args.overrides], args.nproc, run_dir)


def _is_dcp_run(run_dir: Path) -> bool:
    from azr import checkpoint as ckpt
    from azr.dist.checkpoint import is_dcp

    latest = ckpt.latest_checkpoint(run_dir)
    return latest is not None and is_dcp(latest)


def _worker(cfg: object, run_dir: Path, resume: bool, single: bool = False) -> int:
    """One rank of a distributed run: join the group, train, and turn a lost peer into one line + status 1."""
    import sys

    from azr.cli import UserError
    from azr.dist import comm, launch

    with launch.process_group(cfg.dist, single=single) as w:  # type: ignore[attr-defined]
        run_dir = Path(comm.broadcast(str(run_dir)))  # rank 0's default timestamped directory for every rank
        try:
            return _train(cfg, run_dir, resume)
        except (comm.RankLost, comm.DistError) as e:
            print(f"azr train: error: {e}; {launch.resume_hint(run_dir, w.size)}", file=sys.stderr)
            return 1
        except UserError:
            if not w.main:
                return 2  # rank 0 prints the same one-line error
            raise
