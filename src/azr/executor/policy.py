"""Static AST policy applied before any program or input runs: a named rejection reason, or None.

What it covers
    * Imports of forbidden modules, matched on *every* dotted component of the module path (so
      ``import os.path``, ``from os import path``, ``import numpy.random`` and ``import os as o`` are all
      caught; the official filter's dotted entries such as ``os.sys`` never matched anything). Relative
      imports are refused. The list starts from the paper's (App. B, Fig. 10) and adds modules that
      reach the OS, the interpreter internals or nondeterminism.
    * Uses (not only calls) of dangerous builtins: ``f = eval; f(...)`` is caught as ``forbidden call: eval``.
    * Dunder attributes that lead out of a restricted namespace (``__subclasses__``, ``__globals__``,
      ``__builtins__``, frame/code attributes, ...), and the names ``__builtins__``/``__loader__``/...
What it does not cover
    It is a filter for honest mistakes and cheap escapes, not the security boundary: string tricks that the
    AST cannot see (e.g. ``str.format`` reading attributes) are left to the sandbox (bubblewrap, seccomp,
    Landlock, rlimits), which must hold even for code that passes this check.

Rule names are stable (callers count rejections by the text before the colon): ``syntax error``,
``too long``, ``forbidden import``, ``forbidden call``, ``forbidden name``, ``forbidden attribute``.
"""

from __future__ import annotations

import ast
from collections.abc import Set
from functools import lru_cache

from azr.executor.values import parse_quietly

MAX_CODE_CHARS = 100_000
MAX_INPUT_CHARS = 100_000

# The paper's list (App. B, Fig. 10; dotted entries reduced to their module) ...
PAPER_FORBIDDEN = frozenset(
    "logging random multiprocessing pebble subprocess threading datetime time hashlib hmac bcrypt "
    "os sys calendar".split()
)
# ... plus modules that reach processes, files, the network, interpreter internals or entropy.
EXTRA_FORBIDDEN = frozenset(
    """
    shutil socket ctypes importlib builtins signal pty tty termios fcntl resource posix nt pwd grp spwd
    io pathlib tempfile glob fileinput filecmp mmap select selectors asyncio concurrent _thread
    gc inspect types code codeop dis marshal pickle shelve dbm copyreg sysconfig site platform runpy
    pkgutil zipimport zipfile tarfile gzip bz2 lzma zlib atexit faulthandler tracemalloc trace traceback
    pdb bdb cProfile profile pstats timeit sched uuid secrets ssl http urllib ftplib smtplib poplib imaplib
    telnetlib socketserver xmlrpc webbrowser email mailbox ipaddress wsgiref venv ensurepip distutils
    setuptools pip weakref ast tokenize unittest doctest warnings locale getpass crypt readline
    rlcompleter sqlite3 csv configparser netrc plistlib sysconfig posixpath ntpath genericpath
    _posixsubprocess _io _signal _socket _ctypes _pickle _imp imp __future__ multiprocess dill cloudpickle psutil requests
    numpy scipy torch pandas sympy
    """.split()
)
FORBIDDEN_MODULES = PAPER_FORBIDDEN | EXTRA_FORBIDDEN

# Builtins whose use gives code execution or arbitrary attribute access by string: refused wherever the
# name appears, even if the program also binds it (a binding in one scope does not shadow another scope).
FORBIDDEN_CALLS = frozenset(
    "eval exec compile globals locals vars __import__ breakpoint getattr setattr delattr".split()
)
# Builtins that only touch files/console/interpreter exit: refused unless the program binds the name
# itself (CRUXEval has `def f(input): ...`); the sandbox blocks what they could do anyway.
SHADOWABLE_CALLS = frozenset("open input exit quit help copyright credits license".split())
FORBIDDEN_NAMES = frozenset("__builtins__ __loader__ __spec__ __import__ __build_class__".split())
# Attributes that walk from an ordinary object to modules, frames, code or the builtins.
FORBIDDEN_ATTRS = frozenset(
    """
    __subclasses__ __globals__ __builtins__ __code__ __closure__ __bases__ __base__ __mro__ __dict__
    __getattribute__ __reduce__ __reduce_ex__ __loader__ __spec__ __import__ __func__ __self__ __traceback__
    __module__ __qualname__ __class_getitem__ __init_subclass__ __setattr__ __delattr__ __getstate__
    __setstate__ __objclass__ __wrapped__ __defaults__ __kwdefaults__ __annotations__ mro
    f_globals f_locals f_builtins f_back f_code tb_frame tb_next gi_frame gi_code cr_frame cr_code
    ag_frame ag_code co_code co_consts
    """.split()
)


_FUNC_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_STORE = (ast.Store, ast.Del)


def _preorder(tree: ast.AST) -> list[ast.AST]:
    """Every node, in the order a recursive visitor meets them (so the first rule broken is the one reported);
    iterative, so nesting depth cannot overflow the interpreter stack. One traversal serves every rule: the
    policy runs on every program and input the model writes, and AST walking is most of its cost."""
    out: list[ast.AST] = []
    stack = [tree]
    pop, push, append = stack.pop, stack.append, out.append
    while stack:
        node = pop()
        append(node)
        fields = node._fields
        for name in reversed(fields):
            value = getattr(node, name, None)
            if isinstance(value, ast.AST):
                push(value)
            elif isinstance(value, list):
                for item in reversed(value):
                    if isinstance(item, ast.AST):
                        push(item)
    return out


def _module_reason(path: str) -> str | None:
    for part in path.split("."):
        if part in FORBIDDEN_MODULES:
            return f"forbidden import: {part}"
    return None


def _node_reason(node: ast.AST, imported: Set[str], bound: Set[str]) -> str | None:
    if isinstance(node, ast.Name):
        if node.id in FORBIDDEN_CALLS or (node.id in SHADOWABLE_CALLS and node.id not in bound):
            return f"forbidden call: {node.id}"
        if node.id in FORBIDDEN_NAMES:
            return f"forbidden name: {node.id}"
    elif isinstance(node, ast.Attribute):
        if node.attr in FORBIDDEN_ATTRS:
            return f"forbidden attribute: {node.attr}"
        if node.attr in FORBIDDEN_MODULES and isinstance(node.value, ast.Name) and node.value.id in imported:
            # `typing.sys`, `re.enum.sys`: allowed modules re-export forbidden ones as attributes.
            return f"forbidden attribute: {node.attr}"
    elif isinstance(node, ast.Import):
        for alias in node.names:
            if reason := _module_reason(alias.name):
                return reason
    elif isinstance(node, ast.ImportFrom):
        if node.level:
            return "forbidden import: relative import"
        if reason := _module_reason(node.module or ""):
            return reason
        for alias in node.names:  # `from collections import os`-style names are harmless, but `from x import *`
            if alias.name in FORBIDDEN_MODULES:  # of a package re-exporting a module is caught here
                return f"forbidden import: {alias.name}"
    elif isinstance(node, ast.Global):
        for name in node.names:
            if name in FORBIDDEN_NAMES:
                return f"forbidden name: {name}"
    return None


def _imported_names(nodes: list[ast.AST]) -> set[str]:
    names: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.update(a.asname or a.name for a in node.names)
    return names


def _bound_names(nodes: list[ast.AST]) -> set[str]:
    names: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, _STORE):
                names.add(node.id)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, _FUNC_DEFS):
            names.add(node.name)
    return names


def _check_nodes(nodes: list[ast.AST], imported: Set[str]) -> str | None:
    bound = _bound_names(nodes)
    for node in nodes:
        if reason := _node_reason(node, imported, bound):
            return reason
    return None


def check(code: str) -> str | None:
    """Rejection reason for a program (e.g. ``forbidden import: os``), or None if it may run."""
    if not isinstance(code, str):
        return "syntax error: program is not text"
    return analyze(code)[0]


@lru_cache(maxsize=8192)
def analyze(code: str) -> tuple[str | None, bool]:
    """(rejection reason or None, may-mutate-shared-state) from one parse. Cached: a pure function of the text,
    and AZR runs the same program many times (validation, determinism run, solver checks)."""
    if len(code) > MAX_CODE_CHARS:
        return f"too long: program longer than {MAX_CODE_CHARS} characters", True
    try:
        tree = parse_quietly(code, "exec")
    except SyntaxError as e:
        return f"syntax error: {e.msg} (line {e.lineno})", True
    except (ValueError, MemoryError, RecursionError, SystemError) as e:
        return f"syntax error: {type(e).__name__}", True
    nodes = _preorder(tree)
    imported = _imported_names(nodes)
    reason = _check_nodes(nodes, imported)
    return reason, True if reason else _mutates(nodes, imported)


def check_call(args_text: str) -> str | None:
    """Rejection reason for the call-argument text of ``f(<args_text>)``, or None (inputs are code too)."""
    if not isinstance(args_text, str):
        return "syntax error: input is not text"
    return _check_call(args_text)


@lru_cache(maxsize=65536)
def _check_call(args_text: str) -> str | None:
    if len(args_text) > MAX_INPUT_CHARS:
        return f"too long: input longer than {MAX_INPUT_CHARS} characters"
    try:
        tree = parse_quietly(f"f({args_text}\n)", "eval")
    except SyntaxError as e:
        return f"syntax error: input: {e.msg}"
    except (ValueError, MemoryError, RecursionError, SystemError) as e:
        return f"syntax error: input: {type(e).__name__}"
    call = tree.body
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "f"):
        return "syntax error: input is not call arguments"
    if call.func.col_offset != 0 or call.func.end_col_offset != 1:
        return "syntax error: input is not call arguments"
    return _check_nodes(_preorder(call), frozenset())  # an expression cannot import


def mutates_shared_state(code: str) -> bool:
    """Heuristic: may this program change state that outlives one input? Such programs get one forked child
    per input instead of one child for the whole group (see `_mutates`)."""
    return analyze(code)[1] if isinstance(code, str) else True


# Builtin types a program could patch (`int.x = 1`): attribute stores on them outlive one input.
_BUILTIN_TYPES = frozenset("int str list dict set tuple float object type bool bytes frozenset complex".split())


def _mutates(nodes: list[ast.AST], imported: set[str]) -> bool:
    """Attribute stores/deletes whose base is an imported module or a builtin type name (`math.pi = 3`,
    `collections.Counter.x = ...`). Instance attributes (`self.x = 1`) are per-input and fine. The child also
    checks the builtins dict after every input and asks for a fresh child if it changed."""
    bases = imported | _BUILTIN_TYPES
    for node in nodes:
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, _STORE):
            base = node.value
            while isinstance(base, ast.Attribute):
                base = base.value
            if isinstance(base, ast.Name) and base.id in bases:
                return True
    return False
