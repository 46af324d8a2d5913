"""`azr` command line: one sub-command per job, each in `azr.commands.<name>` and imported only when used.

A command module defines `add_arguments(parser)` and `run(args) -> int`. User errors (bad config, missing
files, unreadable input, an unusable output directory or damaged run file) raise `UserError`, `ConfigError` or
`azr.io.FileError` and end as one line on stderr with exit 2. A command whose parser has a positional
`overrides` list takes its `key=value` items anywhere on the line, before, between or after the options.
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


def parse(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """`parse_args`, except that `key=value` overrides may follow options: argparse fills a `nargs="*"`
    positional from the first run of positionals only and calls the rest unrecognized."""
    args, extra = parser.parse_known_args(argv)
    if extra and isinstance(getattr(args, "overrides", None), list):
        overrides = [a for a in extra if not a.startswith("-")]
        args.overrides += overrides
        extra = [a for a in extra if a.startswith("-")]
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def main(argv: list[str] | None = None) -> int:
    from azr.config import ConfigError
    from azr.io import FileError

    parser = build_parser()
    args = parse(parser, argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        return int(args._module.run(args) or 0)
    except (UserError, ConfigError, FileError) as e:
        print(f"azr {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"azr {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
