"""`azr exec`: run programs in the sandboxed executor, JSON lines in, JSON lines out.

Each stdin line is ``{"code": "<program defining f>", "inputs": ["<call-argument text>", ...], "timeout"?: s}``;
each line gets exactly one stdout line, in input order: ``{"results": [{"status", "output", "error"}, ...]}``,
or ``{"error": "..."}`` for a line that is not such a request (blank, not UTF-8, not JSON, nested too deeply,
wrong fields, a timeout outside (0, 86400] s); processing continues after it. Lines are batched (up to --batch
requests at a time) so grouped programs run concurrently. ``--info`` prints the isolation layers active on this
machine and exits.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--info", action="store_true", help="print the active isolation layers as JSON and exit")
    parser.add_argument("--timeout", type=float, default=None, help="default per-input timeout in seconds")
    parser.add_argument("--workers", type=int, default=None, help="concurrent children (default: CPU cores)")
    parser.add_argument("--memory-mb", type=int, default=None, help="address-space limit per child (MiB)")
    parser.add_argument(
        "--sandbox",
        choices=("auto", "bwrap", "seccomp"),
        default=None,
        help="isolation: auto (strongest available), bwrap (required) or seccomp (no namespaces)",
    )
    parser.add_argument(
        "--unsafe",
        action="store_true",
        help="run WITHOUT bubblewrap/seccomp/Landlock (separate process + rlimits only); loudly logged",
    )
    parser.add_argument("--batch", type=int, default=64, help="requests read before running them together")


def _parse_line(raw: bytes):
    """One stdin line -> ExecRequest, or the one-line error text answered for it."""
    from azr.executor import ExecRequest
    from azr.executor.types import timeout_problem

    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        return f"line is not UTF-8: {e.reason} at byte {e.start}"
    if not line.strip():
        return "empty line: expected one JSON request per line"
    try:
        obj = json.loads(line)
    except ValueError as e:
        return f"invalid JSON: {e}"
    except RecursionError:
        return "invalid JSON: nested too deeply"
    if not isinstance(obj, dict):
        return "a request must be a JSON object"
    code, inputs, timeout = obj.get("code"), obj.get("inputs"), obj.get("timeout")
    if not isinstance(code, str):
        return "'code' must be a string"
    if not isinstance(inputs, list) or not all(isinstance(i, str) for i in inputs):
        return "'inputs' must be a list of strings"
    if timeout is not None and (why := timeout_problem(timeout)) is not None:
        return f"'timeout' {why}"
    return ExecRequest(code, tuple(inputs), float(timeout) if timeout is not None else None)


def run(args: argparse.Namespace) -> int:
    import dataclasses
    import logging

    from azr.cli import UserError
    from azr.config import ConfigError, ExecutorConfig
    from azr.executor import Executor

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    overrides = {
        k: v
        for k, v in (
            ("timeout", args.timeout),
            ("workers", args.workers),
            ("memory_mb", args.memory_mb),
            ("sandbox", args.sandbox),
        )
        if v is not None
    }
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

        for raw, more in _lines(sys.stdin.buffer.fileno()):
            pending.append(_parse_line(raw))
            # Flush at the batch size, or when no more input is waiting, so interactive use gets answers.
            if len(pending) >= args.batch or not more:
                flush()
        flush()
    return 0


def _lines(fd: int) -> Iterator[tuple[bytes, bool]]:
    """Raw stdin lines (bytes: a line that is not UTF-8 is one bad request, not a dead stream), each with
    whether more input is already waiting. A last line without a newline counts; an empty stream yields none."""
    import select

    buf = bytearray()
    eof = False
    while not eof:
        chunk = os.read(fd, 1 << 16)
        eof = not chunk
        buf += chunk
        if not eof and b"\n" not in chunk:
            continue  # split only when a line ended: linear in the input, however long one line is
        lines = buf.split(b"\n")
        buf = bytearray(lines.pop())  # the unfinished tail
        if eof and buf:
            lines.append(bytes(buf))
        for i, line in enumerate(lines):
            waiting = i + 1 < len(lines) or bool(buf) or eof
            if not waiting:
                try:
                    waiting = bool(select.select([fd], [], [], 0)[0])
                except (OSError, ValueError):
                    waiting = False
            yield bytes(line), waiting
