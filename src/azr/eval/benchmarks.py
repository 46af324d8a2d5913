"""Benchmark registry and loaders: local data files first, the public hub dataset as a fallback.

Every benchmark becomes a list of `Item`s with a stable `id` (records and resume are keyed on it) and
the gold answer the oracle model replays. The data file's sha256 goes into the results so two runs can
be compared.
"""

from __future__ import annotations

import ast
import gzip
import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from azr.eval.mathans import last_boxed


@dataclass(frozen=True)
class Benchmark:
    name: str
    kind: str
    """`cruxeval-o`, `cruxeval-i`, `code` (EvalPlus) or `math`."""
    domain: str
    """`reasoning`, `code` or `math`: the group it belongs to."""
    file: str
    """Path under the data dir."""
    hub: tuple[str, str | None, str]
    """(dataset name, config, split) for `datasets.load_dataset` when the file is missing."""
    in_table1: bool = True
    """Counted in the code/math averages as in the paper's Table 1 (CAvg, MAvg)."""


BENCHMARKS: dict[str, Benchmark] = {
    b.name: b
    for b in (
        Benchmark(
            "cruxeval-o",
            "cruxeval-o",
            "reasoning",
            "cruxeval/cruxeval.jsonl",
            ("cruxeval-org/cruxeval", None, "test"),
            False,
        ),
        Benchmark(
            "cruxeval-i",
            "cruxeval-i",
            "reasoning",
            "cruxeval/cruxeval.jsonl",
            ("cruxeval-org/cruxeval", None, "test"),
            False,
        ),
        Benchmark(
            "humaneval+", "code", "code", "evalplus/HumanEvalPlus.jsonl.gz", ("evalplus/humanevalplus", None, "test")
        ),
        Benchmark("mbpp+", "code", "code", "evalplus/MbppPlus.jsonl.gz", ("evalplus/mbppplus", None, "test")),
        Benchmark("gsm8k", "math", "math", "gsm8k/test.jsonl", ("openai/gsm8k", "main", "test"), False),
        Benchmark("math500", "math", "math", "math/math500.jsonl", ("HuggingFaceH4/MATH-500", None, "test")),
        Benchmark("aime24", "math", "math", "math/aime24.jsonl", ("HuggingFaceH4/aime_2024", None, "train")),
        Benchmark("aime25", "math", "math", "math/aime25.jsonl", ("yentinglin/aime_2025", None, "train")),
        Benchmark("amc23", "math", "math", "math/amc23.jsonl", ("math-ai/amc23", None, "test")),
        Benchmark("minerva", "math", "math", "math/minerva_math.jsonl", ("math-ai/minervamath", None, "test")),
        Benchmark(
            "olympiadbench",
            "math",
            "math",
            "math/olympiadbench.jsonl",
            ("Hothan/OlympiadBench", "OE_TO_maths_en_COMP", "train"),
        ),
    )
}

GROUPS: dict[str, tuple[str, ...]] = {
    "reasoning": ("cruxeval-o", "cruxeval-i"),
    "code": ("humaneval+", "mbpp+"),
    "math": ("gsm8k", "math500", "aime24", "aime25", "amc23", "minerva", "olympiadbench"),
}
GROUPS["all"] = GROUPS["reasoning"] + GROUPS["code"] + GROUPS["math"]


KNOWN_UNSOLVABLE: dict[str, dict[str, str]] = {
    "cruxeval-i": {
        "sample_135": "f takes no arguments, so the gold input is the empty argument list; the training answer "
        "parser (azr.tasks.parse) refuses an empty ```input block, so no answer in the training format can state it",
    },
    "mbpp+": {
        "Mbpp/255": "plus input #88 (5 colours, n=77) makes the reference return 1,663,740 tuples of 77 items "
        "(~128 M values); reference outputs cross the sandbox boundary as source text, which does not fit the "
        "sandbox's memory/time limits (EvalPlus compares in-process). The item counts as failed for every model",
    },
}
"""Items that even the gold answer cannot pass, with the reason (the oracle scores 100 % on everything else)."""


@dataclass(frozen=True)
class Item:
    benchmark: str
    id: str
    gold: str
    """CRUXEval-O: the output literal; -I: the input text; code: the full reference program; math: the answer."""
    question: str = ""
    """The problem text shown to the model (math question, EvalPlus prompt)."""
    data: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    """Kind-specific fields (CRUXEval code/input/output; EvalPlus entry point, inputs, atol)."""


def expand_benchmarks(spec: str | list[str] | tuple[str, ...]) -> list[str]:
    """`"code,cruxeval-o"` -> the benchmark names in registry order, groups expanded, duplicates dropped."""
    names = [s.strip() for s in (spec.split(",") if isinstance(spec, str) else spec) if s.strip()]
    if not names:
        raise ValueError("no benchmarks given")
    wanted: set[str] = set()
    for name in names:
        key = name.lower()
        if key in GROUPS:
            wanted.update(GROUPS[key])
        elif key in BENCHMARKS:
            wanted.add(key)
        else:
            valid = ", ".join([*BENCHMARKS, *GROUPS])
            raise ValueError(f"unknown benchmark {name!r} (valid: {valid})")
    return [b for b in BENCHMARKS if b in wanted]


def default_data_dir(explicit: str | None = None) -> Path | None:
    """`--data-dir`, else `$AZR_DATA_DIR`, else `<repo>/../shared/data` if it exists, else None (hub)."""
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get("AZR_DATA_DIR")
    if env:
        return Path(env).expanduser()
    repo = Path(__file__).resolve().parents[3]
    cand = repo.parent / "shared" / "data"
    return cand if cand.is_dir() else None


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _read_records(path: Path) -> list[dict[str, Any]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _hub_records(bench: Benchmark) -> list[dict[str, Any]]:
    name, config, split = bench.hub
    try:
        import datasets  # optional: only users with a dataset hub need it
    except ImportError as e:
        raise FileNotFoundError(
            f"{bench.name}: data file {bench.file} not found and the `datasets` package is not installed "
            f"for the hub fallback ({name}); pass --data-dir"
        ) from e
    ds = datasets.load_dataset(name, config, split=split)
    return [dict(r) for r in ds]


def load_records(bench: Benchmark, data_dir: Path | None) -> tuple[list[dict[str, Any]], str]:
    """The benchmark's raw records and a provenance string (`sha256:<hex>` of the file, or `hub:<name>`)."""
    if data_dir is not None:
        path = data_dir / bench.file
        if path.is_file():
            return _read_records(path), f"sha256:{file_sha256(path)}"
    return _hub_records(bench), f"hub:{bench.hub[0]}"


def _first(rec: dict[str, Any], *keys: str) -> Any:
    for k in keys:
        if rec.get(k) not in (None, ""):
            return rec[k]
    raise KeyError(f"record has none of the fields {keys} (has {sorted(rec)})")


def _olympiad_answer(raw: Any) -> str:
    # stored as the text of a Python list ("['2']"); several answers are joined as a tuple would be
    if isinstance(raw, list):
        parts = raw
    else:
        try:
            parts = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            parts = [raw]
        if not isinstance(parts, list):
            parts = [parts]
    return ", ".join(str(p).strip().strip("$") for p in parts)


def _math_item(name: str, i: int, rec: dict[str, Any]) -> Item:
    question = str(_first(rec, "problem", "question"))
    if name == "gsm8k":
        gold = str(rec["answer"]).split("####")[-1].strip().replace(",", "")
    elif name == "olympiadbench":
        gold = _olympiad_answer(_first(rec, "final_answer", "answer"))
    elif name == "minerva" and not rec.get("answer"):
        gold = last_boxed(str(rec["solution"])) or ""
    else:
        gold = str(_first(rec, "answer"))
    item_id = str(rec.get("unique_id") or rec.get("id") or rec.get("idx") or i)
    return Item(name, item_id, gold.strip(), question, {})


def _cruxeval_item(name: str, i: int, rec: dict[str, Any]) -> Item:
    code, inp, out = rec["code"], rec["input"], rec["output"]
    gold = out if name == "cruxeval-o" else inp
    return Item(name, str(rec.get("id", i)), gold, "", {"code": code, "input": inp, "output": out})


def _evalplus_item(name: str, rec: dict[str, Any]) -> Item:
    from azr.eval.codecheck import deserialize_inputs

    tid = rec["task_id"]
    prompt, canon = rec["prompt"], rec["canonical_solution"]
    # HumanEval canonical solutions are function bodies completing the prompt; MBPP's are whole programs
    gold = prompt + canon if name == "humaneval+" else canon
    data = {
        "entry_point": rec["entry_point"],
        # Mbpp/793 stores its (empty) plus inputs as `{}`
        "base_input": deserialize_inputs(name, tid, list(rec["base_input"] or [])),
        "plus_input": deserialize_inputs(name, tid, list(rec["plus_input"] or [])),
        "atol": float(rec.get("atol") or 0),
        "reference": prompt + canon,
    }
    if name == "mbpp+":
        # the MBPP prompt's docstring shows one original assertion, which names the function to write
        data["test_example"] = (rec.get("assertion") or "").strip().splitlines()[0] if rec.get("assertion") else ""
    return Item(name, tid, gold, prompt, data)


def load_items(name: str, data_dir: Path | None, limit: int | None = None) -> tuple[list[Item], str]:
    """The first `limit` items of a benchmark (all when None) and the data provenance string."""
    bench = BENCHMARKS[name]
    records, source = load_records(bench, data_dir)
    if limit is not None:
        records = records[:limit]
    if bench.kind in ("cruxeval-o", "cruxeval-i"):
        items = [_cruxeval_item(name, i, r) for i, r in enumerate(records)]
    elif bench.kind == "code":
        items = [_evalplus_item(name, r) for r in records]
    else:
        items = [_math_item(name, i, r) for i, r in enumerate(records)]
    ids = [it.id for it in items]
    if len(set(ids)) != len(ids):
        # ids key the resume records, so they must be unique; fall back to the position
        items = [Item(it.benchmark, f"{i}:{it.id}", it.gold, it.question, it.data) for i, it in enumerate(items)]
    return items, source


def slug(name: str) -> str:
    """A file-name-safe benchmark name (`humaneval+` -> `humaneval_plus`)."""
    return re.sub(r"[^a-z0-9_-]", "_", name.replace("+", "_plus"))
