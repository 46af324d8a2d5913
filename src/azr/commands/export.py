"""`azr export RUN_DIR OUT_DIR [--step N]`: a run's checkpoint as a consolidated Hugging Face directory.

Full fine-tuning: weights + config + tokenizer, loadable with `AutoModelForCausalLM.from_pretrained(OUT_DIR)`.
LoRA: a PEFT adapter directory (`PeftModel.from_pretrained(base, OUT_DIR)`) whose base model is the run's spec.
Sharded (DCP) checkpoints of multi-rank runs are consolidated in this one process; no process group is needed.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR", help="run directory written by `azr train`")
    parser.add_argument("out_dir", metavar="OUT_DIR", help="directory to write the Hugging Face model into")
    parser.add_argument("--step", type=int, default=None, help="checkpoint step (default: the latest)")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from azr.cli import UserError

    run_dir, out = Path(args.run_dir), Path(args.out_dir)
    if not (run_dir / "checkpoints").is_dir():
        raise UserError(f"{run_dir} is not a run directory with checkpoints")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UserError(f"{out} exists and is not an empty directory")
    from azr.dist.checkpoint import export
    from azr.models import ModelError

    try:
        path, step = export(run_dir, out, args.step)
    except (FileNotFoundError, ModelError) as e:
        raise UserError(str(e)) from e
    print(f"exported {path} (step {step}) -> {out}")
    return 0
