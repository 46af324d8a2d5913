"""`azr` command line: one sub-command per job, each in `azr.commands.<name>` and imported only when used.

A command module defines `add_arguments(parser)` and `run(args) -> int`. User errors (bad config, missing
files, unreadable input) raise `UserError` or `ConfigError` and end as one line on stderr with exit 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from azr import __version__

COMMANDS: dict[str, str] = {
    "exec": "run programs in the sandboxed executor (JSON lines on stdin)",
    "validate": "validate task files (AZR seed or CRUXEval format) through the executor",
    "train": "run Absolute Zero self-play training",
    "eval": "evaluate a model on code and math benchmarks",
    "report": "write an HTML report of a run directory",
    "export": "write a run's checkpoint as a Hugging Face model (or PEFT adapter) directory",
}


class UserError(Exception):
    """An error caused by the user's input; printed as one line, exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="azr", description="Absolute Zero: self-play RL with zero external data")
    parser.add_argument("--version", action="version", version=f"azr {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        module = importlib.import_module(f"azr.commands.{name}")
        module.add_arguments(p)
        p.set_defaults(_module=module)
    return parser


def main(argv: list[str] | None = None) -> int:
    from azr.config import ConfigError

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        return int(args._module.run(args) or 0)
    except (UserError, ConfigError) as e:
        print(f"azr {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"azr {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
