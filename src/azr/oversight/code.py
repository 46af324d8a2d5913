"""Code-level checks: programs in a rollout that try to reach the host.

The executor's static policy (`azr.executor.policy.check`) already refuses such programs; the monitor looks
again because a refusal is an *attempt*, which oversight wants on record with a severity. `random`/`time`
imports are refused by the policy for determinism, not safety, so they are not flagged here.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_FENCE = re.compile(r"```(?:python|py)?[ \t]*\n(.*?)```", re.DOTALL | re.IGNORECASE)


@dataclass(frozen=True)
class CodeHit:
    rule: str
    severity: str
    detail: str
    code: str
    line: int


def code_blocks(text: str) -> list[str]:
    """Python code in fenced blocks; if there are none, the whole text when it parses as a module with a def."""
    blocks = [b for b in _FENCE.findall(text) if b.strip()]
    if blocks:
        return blocks
    if "def " in text or "import " in text:
        try:
            ast.parse(text)
            return [text]
        except (SyntaxError, ValueError):
            return []
    return []


def _policy_check() -> Callable[[str], str | None] | None:
    """The executor's static policy when that module exists (it lands with the executor issue)."""
    try:
        from azr.executor.policy import check
    except ImportError:
        return None
    return check


def _table(code_cfg: dict[str, Any], key: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for sev in ("low", "medium", "high"):
        for name in (code_cfg.get(key) or {}).get(sev, ()) or ():
            out[str(name)] = sev
    return out


def _line(code: str, lineno: int) -> str:
    lines = code.splitlines()
    return lines[lineno - 1].strip() if 0 < lineno <= len(lines) else ""


def check_code(code: str, code_cfg: dict[str, Any]) -> list[CodeHit]:
    """Forbidden imports/calls and sandbox-escape attribute use in one program, one hit per distinct finding."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        tree = None
    imports, calls = _table(code_cfg, "imports"), _table(code_cfg, "calls")
    escape = set(code_cfg.get("escape_attributes") or ())
    escape_sev = str(code_cfg.get("escape_severity", "high"))
    hits: dict[tuple[str, str], CodeHit] = {}

    def add(rule: str, sev: str, detail: str, lineno: int) -> None:
        hits.setdefault((rule, detail), CodeHit(rule, sev, detail, _line(code, lineno), lineno))

    for node in ast.walk(tree) if tree is not None else ():
        if isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                if top in imports:
                    add("code.import", imports[top], f"import {alias.name}", node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.module:
            top = node.module.split(".")[0]
            if top in imports:
                add("code.import", imports[top], f"from {node.module} import", node.lineno)
        elif isinstance(node, ast.Call):
            fn = node.func
            name = fn.id if isinstance(fn, ast.Name) else fn.attr if isinstance(fn, ast.Attribute) else None
            if name in calls:
                add("code.call", calls[name], f"call {name}()", node.lineno)
            # getattr(x, "__globals__") reaches the same place as x.__globals__
            if name == "getattr" and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant):
                if node.args[1].value in escape:
                    add("code.sandbox-escape", escape_sev, f"getattr {node.args[1].value}", node.lineno)
        elif isinstance(node, ast.Attribute) and node.attr in escape:
            add("code.sandbox-escape", escape_sev, f"attribute {node.attr}", node.lineno)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in escape:
            add("code.sandbox-escape", escape_sev, f"string {node.value}", node.lineno)

    check = _policy_check()
    if check is not None:
        try:
            reason = check(code)
        except Exception:  # the policy is advisory here; its own tests cover it
            reason = None
        # Only reasons our tables did not already explain, and only the host-reaching kinds: the policy also
        # refuses numpy, random, time or over-long code, which are not oversight matters.
        if reason and not hits and re.match(r"forbidden (?:call|name|attribute)", reason):
            add("code.policy", "low", f"policy: {reason}", 1)
    return list(hits.values())
