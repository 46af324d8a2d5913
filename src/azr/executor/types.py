"""Executor data model: requests in, results out. Results are data; user-code failures never raise."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

MAX_TIMEOUT = 86_400.0
"""Largest per-input timeout in seconds (one day). Timeouts are checked against it wherever they enter
(`executor.timeout`, `ExecRequest`, `azr exec` lines) and the zygote clamps to it: far above it, `select`
overflows (~2,147,484 s) and kills the zygote."""


def timeout_problem(value: object) -> str | None:
    """Why `value` is not a usable timeout, or None: a number of seconds, finite, in (0, MAX_TIMEOUT]."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "must be a number of seconds"
    if not (math.isfinite(value) and 0 < value <= MAX_TIMEOUT):
        return f"must be a finite number of seconds in (0, {MAX_TIMEOUT:.0f}], got {value!r}"
    return None


class Status(str, Enum):
    OK = "ok"
    ERROR = "error"
    """The program raised; `error` holds `<ExceptionType>: <message>`."""
    TIMEOUT = "timeout"
    MEMORY = "memory"
    CRASHED = "crashed"
    """Killed by a signal or exited the interpreter (os._exit); `error` names the signal or exit code."""
    OUTPUT_LIMIT = "output_limit"
    """The result was not plain data within the depth/size caps, or the child wrote too much."""
    POLICY_REJECTED = "policy_rejected"
    """The static policy check refused the program before it ran; `error` names the rule."""
    SANDBOX_ERROR = "sandbox_error"
    """The executor itself failed (zygote died or hung); the program's behaviour is unknown."""


@dataclass(frozen=True)
class ExecRequest:
    code: str
    """Program text defining `f` (imports at the top)."""
    inputs: tuple[str, ...]
    """Call-argument texts; each is run as `f(<input>)` with fresh globals."""
    timeout: float | None = None
    """Per-input wall-clock limit in seconds, in (0, MAX_TIMEOUT]; None uses the executor's configured timeout."""

    def __post_init__(self) -> None:
        if self.timeout is not None and (why := timeout_problem(self.timeout)) is not None:
            raise ValueError(f"ExecRequest.timeout {why}")


@dataclass(frozen=True)
class ExecResult:
    status: Status
    output: str | None = None
    """`repr` of the returned value (re-validated in the trainer as plain data), when status is OK."""
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is Status.OK

    def to_json(self) -> dict:
        return {"status": self.status.value, "output": self.output, "error": self.error}
