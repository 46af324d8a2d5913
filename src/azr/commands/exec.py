"""`azr exec`: run programs in the sandboxed executor, JSON lines in, JSON lines out.

Each stdin line is ``{"code": "<program defining f>", "inputs": ["<call-argument text>", ...], "timeout"?: s}``;
each gets exactly one stdout line ``{"results": [{"status", "output", "error"}, ...]}`` in input order, or
``{"error": "..."}`` for a line that is not such an object (and processing continues). Lines are batched
(up to --batch requests at a time) so grouped programs run concurrently. ``--info`` prints the isolation
layers active on this machine and exits.
"""

from __future__ import annotations

import argparse
import json
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--info", action="store_true", help="print the active isolation layers as JSON and exit")
    parser.add_argument("--timeout", type=float, default=None, help="default per-input timeout in seconds")
    parser.add_argument("--workers", type=int, default=None, help="concurrent children (default: CPU cores)")
    parser.add_argument("--memory-mb", type=int, default=None, help="address-space limit per child (MiB)")
    parser.add_argument("--sandbox", choices=("auto", "bwrap", "seccomp"), default=None,
                        help="isolation: auto (strongest available), bwrap (required) or seccomp (no namespaces)")
    parser.add_argument("--unsafe", action="store_true",
                        help="run WITHOUT bubblewrap/seccomp/Landlock (separate process + rlimits only); loudly logged")
    parser.add_argument("--batch", type=int, default=64, help="requests read before running them together")


def _parse_line(line: str):
    from azr.executor import ExecRequest

    try:
        obj = json.loads(line)
    except ValueError as e:
        return f"invalid JSON: {e}"
    if not isinstance(obj, dict):
        return "a request must be a JSON object"
    code, inputs, timeout = obj.get("code"), obj.get("inputs"), obj.get("timeout")
    if not isinstance(code, str):
        return "'code' must be a string"
    if not isinstance(inputs, list) or not all(isinstance(i, str) for i in inputs):
        return "'inputs' must be a list of strings"
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0):
        return "'timeout' must be a positive number"
    return ExecRequest(code, tuple(inputs), float(timeout) if timeout is not None else None)


def run(args: argparse.Namespace) -> int:
    import dataclasses
    import logging

    from azr.cli import UserError
    from azr.config import ConfigError, ExecutorConfig
    from azr.executor import Executor

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    overrides = {k: v for k, v in (("timeout", args.timeout), ("workers", args.workers),
                                   ("memory_mb", args.memory_mb), ("sandbox", args.sandbox)) if v is not None}
    if args.unsafe:
        overrides["unsafe"] = True
    if args.batch < 1:
        raise UserError("--batch must be >= 1")
    try:
        cfg = dataclasses.replace(ExecutorConfig(), **overrides)
    except ConfigError as e:
        raise UserError(str(e)) from None
    try:
        ex = Executor(cfg).start()
    except RuntimeError as e:
        raise UserError(str(e)) from None
    out = sys.stdout
    with ex:
        if args.info:
            out.write(json.dumps(ex.info(), indent=2) + "\n")
            return 0
        pending: list = []

        def flush() -> None:
            reqs = [p for p in pending if not isinstance(p, str)]
            results = iter(ex.run(reqs)) if reqs else iter(())
            for p in pending:
                if isinstance(p, str):
                    out.write(json.dumps({"error": p}) + "\n")
                else:
                    out.write(json.dumps({"results": [r.to_json() for r in next(results)]}) + "\n")
            out.flush()
            pending.clear()

        for line in sys.stdin:
            if not line.strip():
                continue
            pending.append(_parse_line(line))
            # Flush at the batch size, or when no more input is waiting, so interactive use gets answers.
            if len(pending) >= args.batch or not _more_input():
                flush()
        flush()
    return 0


def _more_input() -> bool:
    import select

    try:
        return bool(select.select([sys.stdin], [], [], 0)[0])
    except (OSError, ValueError):
        return False
