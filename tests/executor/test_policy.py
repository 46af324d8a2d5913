"""Static policy: named rejection reasons, and the official filter's bypasses closed."""

from __future__ import annotations

import pytest

from azr.executor.policy import check, check_call, mutates_shared_state


@pytest.mark.parametrize(
    "code, reason",
    [
        ("import time", "forbidden import: time"),
        ("from time import sleep", "forbidden import: time"),
        ("import os.path", "forbidden import: os"),  # dotted names (official bug: never matched)
        ("from os import path", "forbidden import: os"),
        ("import os as o", "forbidden import: os"),  # aliases
        ("import sys", "forbidden import: sys"),
        ("import numpy.random", "forbidden import: numpy"),
        ("import importlib", "forbidden import: importlib"),
        ("import builtins", "forbidden import: builtins"),
        ("import shutil, subprocess", "forbidden import: shutil"),
        ("from . import x", "forbidden import: relative import"),
        ("x = __import__('ti' + 'me')", "forbidden call: __import__"),  # dynamic import
        ("e = eval\ne('1')", "forbidden call: eval"),  # use, not only call
        ("exec('1')", "forbidden call: exec"),
        ("compile('1', '', 'eval')", "forbidden call: compile"),
        ("getattr(__builtins__, 'ev' + 'al')", "forbidden call: getattr"),
        ("b = __builtins__", "forbidden name: __builtins__"),
        ("open('/etc/passwd')", "forbidden call: open"),
        ("().__class__.__bases__[0].__subclasses__()", "forbidden attribute: __subclasses__"),
        ("def f(): pass\nf.__globals__", "forbidden attribute: __globals__"),
        ("import typing\ntyping.sys.modules", "forbidden attribute: sys"),  # re-exported module
        ("def f(:", "syntax error: invalid syntax (line 1)"),
        ("x = 1\n" * 60_000, "too long: program longer than 100000 characters"),
    ],
)
def test_rejections(code, reason):
    assert check(code) == reason


@pytest.mark.parametrize(
    "code",
    [
        "def f(x):\n    return sorted(x)",
        "import math, collections\nfrom typing import List\ndef f(a: List[int]):\n    return math.fsum(a)",
        "def f(input):\n    return input + 1",  # CRUXEval sample_782 binds `input` as a parameter
        "class A:\n    def __init__(self):\n        super().__init__()\n        self.time = 1\ndef f():\n    return A().time",
        "import re\ndef f(s):\n    return re.sub('a', 'b', s)",
    ],
)
def test_allowed(code):
    assert check(code) is None


def test_input_texts_are_checked():
    assert check_call("1, [2, 3], 'a,b'") is None
    assert check_call("dict(a=1, b=2)") is None
    assert check_call("__import__('os').system('x')") == "forbidden call: __import__"
    assert check_call("1)(2") == "syntax error: input is not call arguments"
    assert check_call("1) + (2").startswith("syntax error")


def test_mutation_heuristic():
    assert mutates_shared_state("import math\ndef f():\n    math.pi = 3\n    return 1")
    assert mutates_shared_state("def f():\n    list.x = 1")
    assert not mutates_shared_state("class A:\n    pass\ndef f():\n    a = A()\n    a.x = 1\n    return a.x")


def test_first_rule_broken_in_source_order_is_reported():
    # One flat traversal replaced the recursive visitor: the order of reasons must stay the source order.
    assert check("def f(x):\n    y = x.__class__.__bases__\n    import os\n    return eval(y)") == (
        "forbidden attribute: __bases__"
    )
    assert check("import math\ndef f(x):\n    return [eval(x), math.sys]") == "forbidden call: eval"
    assert check("def f(x):\n    return (lambda: open)(), getattr") == "forbidden call: open"
    assert check_call("[1, {'a': (2, vars)}], __import__") == "forbidden call: vars"


def test_long_programs_are_checked_without_recursion():
    # The deepest nesting the parser accepts, and thousands of statements: no dependence on the recursion limit.
    deep = "def f(x):\n    return " + "abs(" * 150 + "[" * 40 + "x" + "]" * 40 + ")" * 150
    assert check(deep) is None
    assert check(deep.replace("x]", "vars]")) == "forbidden call: vars"
    body = "\n".join(f"    x{i} = x + {i}" for i in range(3000))
    assert check(f"def f(x):\n{body}\n    return x") is None
    assert check(f"def f(x):\n{body}\n    return exec") == "forbidden call: exec"
