"""Bad input at the executor's edges (issue 13 req 9): timeouts, `azr exec` lines, `azr validate` files.

Each case once broke a whole batch or the zygote: a timeout of 1e7 s or Infinity made `select` overflow in the
zygote (22/22 requests of a batch lost), NaN passed validation, one deeply nested or non-UTF-8 line ended
`azr exec`, blank lines were dropped from the one-line-per-request contract, and `azr validate` printed a
traceback for a deeply nested line.
"""

from __future__ import annotations

import json
import math
import subprocess

import pytest
from executor_helpers import assert_benign_ok, azr_command

from azr.cli import main
from azr.config import ConfigError, ExecutorConfig
from azr.executor import ExecRequest
from azr.executor.types import MAX_TIMEOUT

BAD_TIMEOUTS = [0, -1.0, math.nan, math.inf, -math.inf, MAX_TIMEOUT * 1.01, 1e7, True]


@pytest.mark.parametrize("timeout", BAD_TIMEOUTS)
def test_bad_timeouts_are_refused_at_every_edge(timeout):
    with pytest.raises(ConfigError, match="executor.timeout"):
        ExecutorConfig(timeout=timeout)
    with pytest.raises(ValueError, match="timeout"):
        ExecRequest("def f():\n    return 1", ("",), timeout=timeout)


def test_largest_timeout_is_accepted():
    assert ExecutorConfig(timeout=MAX_TIMEOUT).timeout == MAX_TIMEOUT
    assert ExecRequest("def f():\n    return 1", ("",), timeout=MAX_TIMEOUT).timeout == MAX_TIMEOUT


def test_zygote_survives_timeouts_that_bypass_the_edges(ex):
    """Defence in depth: requests sent straight to a zygote with huge/non-finite timeouts. Too large is clamped
    (the program runs), non-finite is answered as a bad request; the zygote itself never dies."""
    [pid] = ex.info()["pids"]
    z = ex._zygote(0)
    code = "def f():\n    return 7"
    items = [
        {"key": k, "code": code, "inputs": [""], "timeout": t, "group": False}
        for k, t in enumerate([1e7, 1e300, math.inf, math.nan, -1.0])
    ]
    got = z.run(items)
    assert got[0] == got[1] == [["ok", "7", None]]
    for k in (2, 3, 4):
        [[status, _, error]] = got[k]
        assert status == "sandbox_error" and error.startswith("BadRequest: timeout"), got[k]
    assert ex.info()["pids"] == [pid] and ex.info()["restarts"] == 0
    assert_benign_ok(ex)


# ---- azr exec: one answer line per input line, whatever the line holds ---------------------------------------


def _exec(stdin: bytes, *args: str) -> list[dict]:
    p = subprocess.run([*azr_command(), "exec", *args], input=stdin, capture_output=True, timeout=120)
    assert p.returncode == 0, p.stderr.decode()
    return [json.loads(line) for line in p.stdout.decode().splitlines()]


def _req(value: int, **extra) -> bytes:
    return json.dumps({"code": f"def f():\n    return {value}", "inputs": [""], **extra}).encode()


def test_huge_timeouts_then_benign_requests():
    """The issue's reproduction: two requests with timeout 1e7, then 20 benign ones (was 22/22 sandbox_error)."""
    lines = [_req(1, timeout=1e7)] * 2 + [_req(2)] * 20
    out = _exec(b"\n".join(lines) + b"\n")
    assert len(out) == 22
    assert all("timeout" in o["error"] and "86400" in o["error"] for o in out[:2]), out[:2]
    assert all(o == {"results": [{"status": "ok", "output": "2", "error": None}]} for o in out[2:])


def test_every_bad_line_gets_one_error_line_and_processing_continues():
    lines = [
        _req(1),
        b"[" * 100_000 + b"]" * 100_000,  # RecursionError in the JSON decoder
        b"\xff\xfe not utf-8",
        b"",
        b"   \t",
        b'{"code": "def f():\\n    return 1", "inputs": [""], "timeout": NaN}',
        b'{"code": "def f():\\n    return 1", "inputs": [""], "timeout": Infinity}',
        _req(3) + b"\r",  # CRLF line ending
        _req(4),  # the last line has no newline
    ]
    out = _exec(b"\n".join(lines), "--batch", "3")
    assert len(out) == len(lines)
    ok = {"status": "ok", "error": None}
    assert out[0] == {"results": [dict(ok, output="1")]}
    assert out[1] == {"error": "invalid JSON: nested too deeply"}
    assert out[2]["error"].startswith("line is not UTF-8")
    assert out[3] == out[4] == {"error": "empty line: expected one JSON request per line"}
    assert "timeout" in out[5]["error"] and "nan" in out[5]["error"]
    assert "timeout" in out[6]["error"] and "inf" in out[6]["error"]
    assert out[7] == {"results": [dict(ok, output="3")]} and out[8] == {"results": [dict(ok, output="4")]}


def test_empty_stdin_gives_no_lines():
    assert _exec(b"") == []


# ---- azr validate: one line, exit 2, no traceback ------------------------------------------------------------


def test_validate_deeply_nested_json_is_one_line_error(tmp_path, capsys):
    f = tmp_path / "deep.jsonl"
    good = json.dumps({"snippet": "def f(x):\n    return x", "input": "1", "output": "1"})
    f.write_text(good + "\n" + "[" * 100_000 + "]" * 100_000 + "\n")
    assert main(["validate", str(f)]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "azr validate: error: deep.jsonl line 2: not JSON (nested too deeply)"
