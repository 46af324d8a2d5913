"""HumanEval+ / MBPP+ checking as EvalPlus does it, with every program run in the sandboxed executor.

EvalPlus ships inputs but no outputs: expected outputs come from running the canonical solution on
every base and plus input (`ground_truth`), then a candidate passes when its output on every input
matches (`==`, or `allclose(rtol=1e-7, atol)` for floats; atol is the data's, 1e-6 for float outputs
when the data says 0), plus EvalPlus's per-task special oracles. Both steps are programs built here
from pure data and sent to `Executor.run`; nothing is executed in this process. Values cross the
process boundary as Python source text, because `repr` of inf/nan/sets is not a literal.

Candidates run as a module import would (`__name__` is not `"__main__"`, as under EvalPlus's `exec`), so an
`if __name__ == "__main__":` self-test is never run.

Time limits: EvalPlus limits each input to max(1 s, 4 x the reference's time) (the AZR scripts use
10 s and 8x). Here each sandbox call (a chunk of inputs) gets max(min_timeout, factor x reference time + 1 s),
since one failing input fails the task anyway; the reference time includes converting its output to the text
that crosses the sandbox boundary, because the candidate's check pays the same conversion.
"""

from __future__ import annotations

import ast
import math
import re
from typing import Any

from azr.executor.values import parse_quietly

# EvalPlus (evalplus/data/mbpp.py, evalplus/eval/__init__.py) special cases, kept verbatim by name
MBPP_OUTPUT_SET_EQ_TASKS = (
    "similar_elements", "find_char_long", "common_in_nested_lists", "extract_singly",
    "larg_nnum", "intersection_array", "find_dissimilar", "Diff",
)  # fmt: skip
MBPP_OUTPUT_NOT_NONE_TASKS = ("check_str", "text_match_three", "text_starta_endb")
MODULE_NAME = "builtins"
"""`__name__` of a candidate: EvalPlus `exec`s it in an empty dict, where the name resolves to the builtins
module's; anything but `"__main__"` keeps a candidate's own `if __name__ == "__main__":` block from running."""


def _all_tuples(x: Any) -> Any:
    return tuple(_all_tuples(v) for v in x) if isinstance(x, list) else x


def deserialize_inputs(benchmark: str, task_id: str, inputs: list) -> list:
    """Restore the Python types JSON lost (EvalPlus `mbpp_deserialize_inputs`); HumanEval+ needs none."""
    if benchmark != "mbpp+":
        return inputs
    n = int(task_id.split("/")[-1])
    if n in (
        2,
        116,
        132,
        143,
        222,
        261,
        273,
        394,
        399,
        421,
        424,
        429,
        470,
        560,
        579,
        596,
        616,
        630,
        726,
        740,
        744,
        809,
    ):
        return [[tuple(lst) for lst in inp] for inp in inputs]
    if n in (63, 64, 70, 94, 120, 237, 272, 299, 400, 409, 417, 438, 473, 614, 780):
        return [[[tuple(lst) for lst in lst_lst] for lst_lst in inp] for inp in inputs]
    if n in (75, 413, 444, 753):
        return [[[tuple(lst) for lst in inp[0]]] + [inp[1]] for inp in inputs]
    if n in (106, 750):
        return [[inp[0]] + [tuple(inp[1])] for inp in inputs]
    if n == 115:
        return [[[set(item) if isinstance(item, list) and len(item) else {} for item in inp[0]]] for inp in inputs]
    if n == 124:
        return [(float(inp[0]), complex(inp[1])) for inp in inputs]
    if n in (250, 405, 446, 617, 720, 763, 808):
        return [[tuple(inp[0])] + [inp[1]] for inp in inputs]
    if n in (259, 401, 445):
        mod = [[[tuple(lst) for lst in lst_lst] for lst_lst in inp] for inp in inputs]
        return [[tuple(lst) for lst in inp] for inp in mod]
    if n == 278:
        mod = [[[tuple(item) if isinstance(item, list) else item for item in inp[0]]] for inp in inputs]
        return [[tuple(lst) for lst in inp] for inp in mod]
    if n == 307:
        return [[tuple(inp[0])] + [inp[1], inp[2]] for inp in inputs]
    if n == 722:
        return [[{k: tuple(v) for k, v in inp[0].items()}] + inp[1:] for inp in inputs]
    if n == 252:
        return [[complex(inp[0])] for inp in inputs]
    if n in (580, 615, 791):
        return [_all_tuples(inp) for inp in inputs]
    return inputs


HARNESS_VERSION = 4
"""Bump when the reference-output encoding changes (it names the cache of reference outputs)."""
_BIG_INT = 10**4000
BIG_OUTPUT_CHARS = 1_000_000
"""Reference outputs whose source text is longer than this travel as a sha256 digest (`_azr_Big`)."""


def _float_src(x: float) -> str:
    if math.isnan(x):
        return 'float("nan")'
    if math.isinf(x):
        return 'float("inf")' if x > 0 else '-float("inf")'
    return repr(x)


def to_source(v: Any) -> str:
    """Python source text that evaluates to `v` (plain data incl. inf/nan, complex, sets)."""
    if isinstance(v, int) and not isinstance(v, bool) and abs(v) > _BIG_INT:
        return f"int({hex(v)!r}, 16)"  # decimal repr of huge ints is capped (sys.int_max_str_digits); hex is not
    if v is None or isinstance(v, (bool, int, str, bytes)):
        return repr(v)
    if isinstance(v, float):
        return _float_src(v)
    if isinstance(v, complex):
        return f"complex({_float_src(v.real)}, {_float_src(v.imag)})"
    if isinstance(v, list):
        return "[" + ", ".join(to_source(x) for x in v) + "]"
    if isinstance(v, tuple):
        return "(" + ", ".join(to_source(x) for x in v) + ("," if len(v) == 1 else "") + ")"
    if isinstance(v, (set, frozenset)):
        inner = "[" + ", ".join(to_source(x) for x in v) + "]"
        return f"{type(v).__name__}({inner})"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{to_source(k)}: {to_source(x)}" for k, x in v.items()) + "}"
    raise TypeError(f"cannot write {type(v).__name__} as source")


# Runs inside the sandbox: the same encoder as `to_source`, for the reference solution's outputs.
_SRC_HELPER = """
_AZR_BIG_INT = 10 ** 4000  # computed once: a power per call made 1M-element outputs time out

def _azr_fsrc(x):
    if x != x:
        return 'float("nan")'
    if x in (float("inf"), -float("inf")):
        return 'float("inf")' if x > 0 else '-float("inf")'
    return repr(x)


def _azr_src(v):
    t = type(v)
    if t is int and (v > _AZR_BIG_INT or v < -_AZR_BIG_INT):
        return "int(" + repr(hex(v)) + ", 16)"
    if v is None or t in (bool, int, str, bytes):
        return repr(v)
    if t is float:
        return _azr_fsrc(v)
    if t is complex:
        return "complex(" + _azr_fsrc(v.real) + ", " + _azr_fsrc(v.imag) + ")"
    if t is list:
        return "[" + ", ".join(_azr_src(x) for x in v) + "]"
    if t is tuple:
        return "(" + ", ".join(_azr_src(x) for x in v) + ("," if len(v) == 1 else "") + ")"
    if t in (set, frozenset):
        return t.__name__ + "([" + ", ".join(_azr_src(x) for x in v) + "])"
    if t is dict:
        return "{" + ", ".join(_azr_src(k) + ": " + _azr_src(x) for k, x in v.items()) + "}"
    # subclasses (collections.Counter, OrderedDict, defaultdict, namedtuple) compare equal to their base type
    for base in (dict, list, tuple, set, frozenset, str, int, float):
        if isinstance(v, base):
            return _azr_src(base(v.items()) if base is dict else base(v))
    raise TypeError("reference output of type " + t.__name__ + " is not plain data")
"""

# Runs inside the sandbox when digests are allowed (the AST policy forbids hashlib): outputs too long to ship
# (HumanEval/15 returns a 110 MB string) are compared by the sha256 of their source text.
_DIGEST_HELPER = """
import hashlib as _azr_hashlib


class _azr_Big:
    def __init__(self, digest):
        self.digest = digest


def _azr_digest(text):
    return _azr_hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
"""

# Runs inside the sandbox: EvalPlus's comparison (evalplus/eval/__init__.py `unsafe_execute`) and its special
# oracles (evalplus/eval/_special_oracle.py), in EvalPlus's order.
_MATCH_HELPER = """
import math as _azr_math


def _azr_surface_area(base_edge, height):  # Mbpp/581: the height is the pyramid's perpendicular height
    slant_height = _azr_math.sqrt((base_edge / 2) ** 2 + height**2)
    return round(base_edge**2 + 4 * (base_edge * slant_height) / 2)


def _azr_digit_distance(num1, num2):  # Mbpp/558: the shorter number is padded with leading zeros
    a, b = str(num1), str(num2)
    width = max(len(a), len(b))
    return sum(abs(int(x) - int(y)) for x, y in zip(a.zfill(width), b.zfill(width)))


def _azr_is_floats(x):
    if isinstance(x, float):
        return True
    if isinstance(x, (list, tuple)):
        return all(isinstance(i, float) for i in x)
    return False


def _azr_close(a, b, atol):
    if isinstance(b, (list, tuple)):
        return isinstance(a, (list, tuple)) and len(a) == len(b) and all(_azr_close(x, y, atol) for x, y in zip(a, b))
    if isinstance(a, (bool, int, float)) and isinstance(b, (bool, int, float)):
        return abs(a - b) <= atol + 1e-07 * abs(b)
    return False


def _azr_match(out, exp, atol, entry, dataset, inp):
    if dataset == "humaneval+" and entry == "find_zero":
        return abs(sum(c * out ** i for i, c in enumerate(inp[0]))) <= atol
    if _AZR_DIGESTS and type(exp) is _azr_Big:
        return _azr_digest(_azr_src(out)) == exp.digest
    exact = bool(out == exp)
    if dataset == "mbpp+":
        if entry == "are_equivalent":
            exact = True
        elif entry == "sum_div":
            exact = exact or out == 0
        elif entry == "surface_Area":
            exact = exact or abs(out - _azr_surface_area(*inp)) <= atol
        elif entry == "digit_distance_nums":
            exact = exact or out == _azr_digit_distance(*inp)
        elif entry in _AZR_SET_EQ:
            exact = set(out) == set(exp)
        elif entry in _AZR_NOT_NONE:
            exact = (out == exp) if isinstance(out, bool) else (exp == (out is not None))
    if atol == 0 and _azr_is_floats(exp):
        atol = 1e-6
    if not exact and atol != 0:
        if type(out) is not type(exp):
            return False
        return _azr_close(out, exp, atol)
    return exact
"""


def ground_truth_program(reference: str, entry: str, benchmark: str, digests: bool = True) -> str:
    """Program whose `f(inputs)` returns `[sources, seconds]`: the source text of the reference output on each
    argument tuple and (with `digests`, i.e. a policy-free executor that allows `time`/`hashlib`) the time each
    call and the conversion of its output took, which sets the candidate's time limit; an over-long text then becomes
    `_azr_Big("<sha256>")`. The reference runs as a module import would (`as_module`)."""
    not_none = benchmark == "mbpp+" and entry in MBPP_OUTPUT_NOT_NONE_TASKS
    conv = "(_out is not None)" if not_none else "_out"
    clock = "_azr_time.perf_counter()" if digests else "0.0"
    shrink = (
        f"        if len(_s) > {BIG_OUTPUT_CHARS}:\n"
        f"            _s = '_azr_Big(' + repr(_azr_digest(_s)) + ')'\n"
    ) if digests else ""  # fmt: skip
    return (
        f"{as_module(reference)}\n\n_azr_entry = {entry}\n"
        f"{_DIGEST_HELPER + 'import time as _azr_time' if digests else ''}\n{_SRC_HELPER}\n\n"
        f"def f(_inputs):\n"
        f"    _srcs, _times = [], []\n"
        f"    for _inp in _inputs:\n"
        f"        _t0 = {clock}\n"
        f"        _out = _azr_entry(*_inp)\n"
        f"        _s = _azr_src({conv})\n"
        f"{shrink}"
        f"        _times.append({clock} - _t0)\n"
        f"        _srcs.append(_s)\n"
        f"    return [_srcs, _times]\n"
    )


def check_program(candidate: str, entry: str, benchmark: str, atol: float, digests: bool = True) -> str:
    """Program whose `f(inputs, expected, offset)` returns the index (offset + position) of the first input whose
    output does not match, or -1 when all match. The candidate's entry point is bound before `f` is defined,
    so a candidate entry point that is itself named `f` still works. The candidate runs as a module import would
    (`as_module`)."""
    return (
        f"{as_module(candidate)}\n\n_azr_entry = {entry}\n"
        f"_AZR_SET_EQ = {MBPP_OUTPUT_SET_EQ_TASKS!r}\n_AZR_NOT_NONE = {MBPP_OUTPUT_NOT_NONE_TASKS!r}\n"
        f"_AZR_DIGESTS = {digests!r}\n{_DIGEST_HELPER + _SRC_HELPER if digests else ''}{_MATCH_HELPER}\n\n"
        f"def f(_inputs, _expected, _offset):\n"
        f"    for _i, _inp in enumerate(_inputs):\n"
        f"        try:\n"
        f"            _ok = _azr_match(_azr_entry(*_inp), _expected[_i], {atol!r}, {entry!r}, {benchmark!r}, _inp)\n"
        f"        except Exception:\n"
        f"            _ok = False\n"
        f"        if not _ok:\n"
        f"            return _offset + _i\n"
        f"    return -1\n"
    )


def as_module(code: str) -> str:
    """`code` with `__name__` set to `MODULE_NAME` before its first statement that may read it (after a docstring
    and `from __future__` imports, which must stay first). Code that does not parse is returned unchanged: it
    fails as the syntax error it is."""
    try:
        body = parse_quietly(code, "exec").body
    except (SyntaxError, ValueError, MemoryError, RecursionError, SystemError):
        return code
    at = 0
    for i, node in enumerate(body):
        docstring = i == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        if not (docstring or (isinstance(node, ast.ImportFrom) and node.module == "__future__")):
            break
        at = node.end_lineno or 0
    lines = code.split("\n")
    return "\n".join([*lines[:at], f"__name__ = {MODULE_NAME!r}", *lines[at:]])


_CODE_TAGS = ("python", "py", "python3", "")
_CODE_START = re.compile(r"^(?:def|async def|class|import|from|@)\b", re.MULTILINE)


def _defines(code: str, entry: str) -> bool:
    return re.search(rf"\bdef\s+{re.escape(entry)}\s*\(", code) is not None


def _parses(code: str) -> int | None:
    """None if `code` parses, else the line of the syntax error (0 when unknown)."""
    try:
        parse_quietly(code, "exec")
        return None
    except SyntaxError as e:
        return e.lineno or 0
    except (ValueError, MemoryError, RecursionError, SystemError):
        return 0


def _without_prose(text: str, max_cuts: int = 32) -> str:
    """Unfenced code after a line of prose (EvalPlus `sanitize` keeps the valid code lines): from the first line
    that starts a definition or an import, cut at each syntax error until the rest parses. Text with no such
    line, or that never parses, is returned unchanged (it then fails as it is)."""
    if _parses(text) is None:
        return text
    m = _CODE_START.search(text)
    if m is None:
        return text
    lines = text[m.start() :].split("\n")
    for _ in range(max_cuts):
        code = "\n".join(lines).rstrip()
        bad = _parses(code)
        if bad is None:
            return code if code else text
        if bad <= 1 or bad > len(lines):
            return text
        lines = lines[: bad - 1]
    return text


def extract_code(text: str, prompt: str, entry: str) -> str:
    """The candidate program in a completion, as EvalPlus's `sanitize` would find it where the training parser
    agrees: among the python (or untagged) fences, found as training finds them (`azr.tasks.parse.fences`, so an
    unclosed final fence counts), the last one that defines the entry point, else the last one; with no fence,
    the text without leading and trailing prose.

    A HumanEval answer that only writes the body (no `def <entry>`) is completed with the prompt, as
    EvalPlus does for completion-style models.
    """
    from azr.tasks.parse import fences

    blocks = [body for tag, body in fences(text) if tag in _CODE_TAGS and body.strip()]
    defining = [b for b in blocks if _defines(b, entry)]
    code = defining[-1] if defining else blocks[-1] if blocks else _without_prose(text)
    if not _defines(code, entry) and prompt and f"def {entry}" in prompt:
        code = prompt + code
    return code
