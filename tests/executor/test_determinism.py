"""run_checked: two zygotes with different PYTHONHASHSEED (and ASLR) catch every nondeterminism source."""

from __future__ import annotations

import pytest

from azr.executor import ExecRequest, Status


@pytest.mark.parametrize(
    "code",
    [
        "def f():\n    return hash('abc')",
        "def f():\n    return id(object())",
        "def f():\n    return list({str(i) for i in range(30)})",
        "def f():\n    return repr({'x' + str(i) for i in range(30)})",
    ],
)
def test_nondeterminism_without_imports(ex, code):
    [[r]] = ex.run_checked([ExecRequest(code, ("",))])
    assert r.status is Status.ERROR and r.error.startswith("NonDeterministic:"), r


@pytest.mark.parametrize("mod, expr", [("random", "random.random()"), ("time", "time.time()"), ("os", "os.urandom(8)")])
def test_nondeterminism_sources(ex, raw_ex, mod, expr):
    code = f"import {mod}\ndef f():\n    return {expr}"
    assert ex.run_checked([ExecRequest(code, ("",))])[0][0].error == f"forbidden import: {mod}"
    [[r]] = raw_ex.run_checked([ExecRequest(code, ("",))])
    assert r.status is Status.ERROR and r.error.startswith("NonDeterministic:")


def test_deterministic_programs_pass(ex):
    reqs = [
        ExecRequest("def f(x):\n    return sorted(set(x))", ("[3, 1, 3]", "'cab'")),
        ExecRequest("def f(d):\n    return {k: v * 2 for k, v in d.items()}", ("{'a': 1}",)),
        ExecRequest("def f(x):\n    return 1 / x", ("0",)),
    ]
    res = ex.run_checked(reqs)
    assert [r.output for r in res[0]] == ["[1, 3]", "['a', 'b', 'c']"]
    assert res[1][0].output == "{'a': 2}"
    assert res[2][0].status is Status.ERROR and res[2][0].error == "ZeroDivisionError: division by zero"


def test_two_zygotes_differ_in_hash_seed(ex):
    ex.run_checked([ExecRequest("def f():\n    return 1", ("",))])
    assert len(ex.info()["pids"]) == 2
