"""Executor API contract (docs/ARCHITECTURE.md), failure recovery, and the `azr exec` CLI."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from executor_helpers import assert_benign_ok, azr_command

from azr.config import ExecutorConfig
from azr.executor import ExecRequest, ExecResult, Executor, Status, process


def test_batch_order_and_statuses(ex):
    reqs = [
        ExecRequest("def f(a, b):\n    return a + b", ("1, 2", "'a,b', 'c'", "[1], (2,)", "(1, ), (1, 2)")),
        ExecRequest("import os\ndef f():\n    return 1", ("", "")),
        ExecRequest("def f(x):\n    return x", ()),
        ExecRequest("def f(x):\n    return {x: [x, (x,)]}", ("__import__('os')", "3")),
    ]
    res = ex.run(reqs)
    assert [r.status for r in res[0]] == [Status.OK, Status.OK, Status.ERROR, Status.OK]
    assert [r.output for r in res[0]] == ["3", "'a,bc'", None, "(1, 1, 2)"]
    assert res[0][2].error == 'TypeError: can only concatenate list (not "tuple") to list'
    assert res[1] == [ExecResult(Status.POLICY_REJECTED, error="forbidden import: os")] * 2
    assert res[2] == []
    assert res[3][0] == ExecResult(Status.POLICY_REJECTED, error="forbidden call: __import__")
    assert res[3][1] == ExecResult(Status.OK, output="{3: [3, (3,)]}")
    assert ex.run([]) == []


def test_fresh_globals_per_input_in_a_group(ex):
    code = "seen = []\ndef f(x):\n    seen.append(x)\n    return len(seen)"
    [res] = ex.run([ExecRequest(code, ("1", "2", "3"))])
    assert [r.output for r in res] == ["1", "1", "1"]


def test_group_continues_after_a_crashing_input(raw_ex):
    code = "import os\ndef f(x):\n    if x == 2:\n        os._exit(9)\n    return x * 10"
    [res] = raw_ex.run([ExecRequest(code, ("1", "2", "3"))])
    assert [r.status for r in res] == [Status.OK, Status.CRASHED, Status.OK]
    assert res[2].output == "30" and res[1].error == "exit code 9"


def test_per_request_timeout_and_timeout_inside_group(ex):
    code = "def f(x):\n    while x:\n        pass\n    return 0"
    t = time.monotonic()
    [res] = ex.run([ExecRequest(code, ("0", "1", "0"), timeout=0.3)])
    assert [r.status for r in res] == [Status.OK, Status.TIMEOUT, Status.OK]
    assert time.monotonic() - t < 3


def test_error_text_and_syntax_errors(ex):
    res = ex.run(
        [
            ExecRequest("def f(d):\n    return d['k']", ("{}",)),
            ExecRequest("def f(:", ("1",)),
            ExecRequest("def f(x):\n    return x", ("1)(2",)),
        ]
    )
    assert res[0][0].error == "KeyError: 'k'"
    assert res[1][0].status is Status.POLICY_REJECTED and res[1][0].error.startswith("syntax error:")
    assert res[2][0].error == "syntax error: input is not call arguments"


def test_info_reports_layers(ex):
    info = ex.info()
    assert info["workers"] >= 1 and info["pids"]
    assert info["seccomp"] and not info["unsafe"]
    assert info["mode"] in ("bwrap", "seccomp")
    assert any("rlimits" in layer for layer in info["layers"])
    if info["mode"] == "bwrap":
        assert info["zygote_ready"]["pid"] != info["pids"][0]  # own pid namespace


def _descendants(pid: int) -> list[int]:
    kids: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            kids.setdefault(ppid, []).append(int(d.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def test_zygote_death_gives_sandbox_error_then_recovers():
    with Executor(ExecutorConfig(timeout=5.0)) as e:
        [pid] = e.info()["pids"]
        threading.Timer(0.5, os.killpg, (pid, signal.SIGKILL)).start()
        t = time.monotonic()
        [[r]] = e.run([ExecRequest("def f():\n    while True:\n        pass", ("",))])
        assert r.status is Status.SANDBOX_ERROR and time.monotonic() - t < 4
        assert_benign_ok(e)
        assert e.info()["restarts"] == 1 and e.info()["pids"] != [pid]


def test_hung_zygote_is_detected(monkeypatch):
    monkeypatch.setattr(process, "STALL_SLACK", 0.5)
    with Executor(ExecutorConfig(timeout=0.5)) as e:
        [pid] = e.info()["pids"]
        tree = _descendants(pid)
        for p in tree:
            os.kill(p, signal.SIGSTOP)
        try:
            t = time.monotonic()
            [[r]] = e.run([ExecRequest("def f():\n    return 1", ("",))])
            assert r.status is Status.SANDBOX_ERROR and time.monotonic() - t < 5
        finally:
            for p in tree:
                try:
                    os.kill(p, signal.SIGCONT)
                except ProcessLookupError:
                    pass
        assert_benign_ok(e)


def test_close_stops_processes():
    e = Executor(ExecutorConfig(timeout=1.0)).start()
    tree = _descendants(e.info()["pids"][0])
    e.close()
    time.sleep(0.2)
    alive = [p for p in tree if Path(f"/proc/{p}").exists() and "Z" not in Path(f"/proc/{p}/stat").read_text()]
    assert alive == []


def test_unsafe_is_explicit_and_loud(caplog):
    with caplog.at_level(logging.WARNING, logger="azr.executor"):
        with Executor(ExecutorConfig(unsafe=True, timeout=1.0)) as e:
            assert e.info()["unsafe"] and e.info()["mode"] == "unsafe"
            assert_benign_ok(e)
    assert "UNSAFE" in caplog.text


def _cli(stdin: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*azr_command(), "exec", *args], input=stdin, capture_output=True, text=True, timeout=60)


def test_cli_json_lines():
    lines = [
        json.dumps({"code": "def f(a, b):\n    return a * b", "inputs": ["2, 3", "'ab', 2"]}),
        "{not json",
        json.dumps({"code": "def f():\n    while True: pass", "inputs": [""], "timeout": 0.3}),
        json.dumps({"code": 1, "inputs": []}),
        json.dumps({"code": "import socket\ndef f(): pass", "inputs": [""]}),
    ]
    p = _cli("\n".join(lines) + "\n")
    assert p.returncode == 0, p.stderr
    out = [json.loads(line) for line in p.stdout.splitlines()]
    assert len(out) == 5
    assert out[0] == {
        "results": [{"status": "ok", "output": "6", "error": None}, {"status": "ok", "output": "'abab'", "error": None}]
    }
    assert "error" in out[1] and "error" in out[3]
    assert out[2]["results"][0]["status"] == "timeout"
    assert out[4]["results"][0] == {"status": "policy_rejected", "output": None, "error": "forbidden import: socket"}


def test_cli_info():
    p = _cli("", "--info")
    assert p.returncode == 0, p.stderr
    info = json.loads(p.stdout)
    assert info["seccomp"] and info["layers"]


@pytest.mark.parametrize("args", [["--batch", "0"], ["--memory-mb", "1"]])
def test_cli_user_errors(args):
    p = _cli("", *args)
    assert p.returncode == 2 and "error" in p.stderr


def test_concurrent_callers(ex):
    """Several trainer threads may share one executor (each call is serialized per zygote, never mixed up)."""
    out: dict[int, list] = {}

    def work(i: int) -> None:
        reqs = [ExecRequest("def f(x):\n    return x * 2", (str(i), str(i + 100)))]
        out[i] = ex.run_checked(reqs) if i % 2 else ex.run(reqs)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert {i: [r.output for r in res[0]] for i, res in out.items()} == {
        i: [str(2 * i), str(2 * (i + 100))] for i in range(6)
    }


@pytest.mark.parametrize("text", ["[" * 5000 + "]" * 5000, "-" * 100_000 + "1", "(" * 300 + ")" * 300])
def test_pathological_input_texts_never_raise(ex, text):
    [[r]] = ex.run([ExecRequest("def f(x):\n    return 1", (text,))])
    assert r.status in (Status.POLICY_REJECTED, Status.ERROR, Status.OK)
