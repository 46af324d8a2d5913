"""Sandboxed execution of model-written Python (see docs/executor.md).

`Executor` is imported lazily (PEP 562) so that the zygote process, which imports `azr.executor.zygote`,
does not load the trainer-side client (subprocess, threads, config) into the memory every fork copies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from azr.executor.types import ExecRequest, ExecResult, Status

if TYPE_CHECKING:
    from azr.executor.client import Executor

__all__ = ["Executor", "ExecRequest", "ExecResult", "Status"]


def __getattr__(name: str) -> Any:
    if name == "Executor":
        from azr.executor.client import Executor

        return Executor
    raise AttributeError(f"module 'azr.executor' has no attribute {name!r}")
