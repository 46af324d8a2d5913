"""Benchmark registry, loaders on the shared data, prompts per template, and the EvalPlus value encoding."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import pytest

from azr.config import Config
from azr.eval import prompts as eval_prompts
from azr.eval.benchmarks import BENCHMARKS, GROUPS, default_data_dir, expand_benchmarks, load_items, slug
from azr.eval.codecheck import deserialize_inputs, extract_code, to_source
from azr.eval.fake import _continuation, gold_response

SIZES = {
    "cruxeval-o": 800, "cruxeval-i": 800, "humaneval+": 164, "mbpp+": 378, "gsm8k": 1319, "math500": 500,
    "aime24": 30, "aime25": 30, "amc23": 40, "minerva": 272, "olympiadbench": 675,
}  # fmt: skip


def test_groups_expand_in_registry_order() -> None:
    assert expand_benchmarks("code") == ["humaneval+", "mbpp+"]
    assert expand_benchmarks("mbpp+, cruxeval-o,code") == ["cruxeval-o", "humaneval+", "mbpp+"]
    assert expand_benchmarks(["all"]) == list(BENCHMARKS)
    assert set(GROUPS["math"]) >= {"math500", "aime24", "aime25", "amc23", "minerva", "olympiadbench"}
    with pytest.raises(ValueError, match="unknown benchmark"):
        expand_benchmarks("humaneval")
    with pytest.raises(ValueError):
        expand_benchmarks(" , ")


def test_data_dir_resolution(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert default_data_dir(str(tmp_path)) == tmp_path
    monkeypatch.setenv("AZR_DATA_DIR", str(tmp_path / "x"))
    assert default_data_dir() == tmp_path / "x"


@pytest.mark.parametrize("name", list(BENCHMARKS))
def test_every_benchmark_loads_with_gold(name: str, data_dir: Path) -> None:
    items, source = load_items(name, data_dir)
    assert len(items) == SIZES[name]
    assert source.startswith("sha256:") and len(source) == 7 + 64
    assert len({it.id for it in items}) == len(items)
    # CRUXEval sample_135 calls a zero-argument f: its gold input is legitimately empty
    assert all(it.gold.strip() or it.id == "sample_135" for it in items), "every item needs a gold answer"
    assert load_items(name, data_dir, limit=3)[0] == items[:3]


def test_gold_fields(data_dir: Path) -> None:
    gsm = load_items("gsm8k", data_dir, 1)[0][0]
    assert gsm.gold == "18"
    oly = load_items("olympiadbench", data_dir, 1)[0][0]
    assert oly.gold == "2"  # stored as the text "['2']"
    minerva = load_items("minerva", data_dir, 1)[0][0]
    assert "boxed" not in minerva.gold and minerva.gold
    he = load_items("humaneval+", data_dir, 1)[0][0]
    assert he.gold.startswith(he.question) and he.data["entry_point"] == "has_close_elements"


def test_missing_file_without_hub_is_a_clear_error(tmp_path: Path) -> None:
    pytest.importorskip("azr")
    try:
        import datasets  # noqa: F401
    except ImportError:
        with pytest.raises(FileNotFoundError, match="--data-dir"):
            load_items("gsm8k", tmp_path)


def test_mbpp_inputs_get_their_python_types_back() -> None:
    assert deserialize_inputs("mbpp+", "Mbpp/2", [[[3, 4], [5]]]) == [[(3, 4), (5,)]]
    assert deserialize_inputs("mbpp+", "Mbpp/124", [[1, "1+2j"]]) == [(1.0, complex(1, 2))]
    assert deserialize_inputs("mbpp+", "Mbpp/580", [[[1, [2, 3]]]]) == [((1, (2, 3)),)]
    assert deserialize_inputs("humaneval+", "HumanEval/2", [[[1, 2]]]) == [[[1, 2]]]


def test_to_source_round_trips_plain_values() -> None:
    for v in [None, True, 3, -2.5, "a'b\"c", b"x", [1, (2,), {3: "x"}], (), [], {"k": [1.0, 2]}]:
        assert ast.literal_eval(to_source(v)) == v
    # values whose repr is not a literal become calls the sandboxed harness evaluates
    assert to_source(math.inf) == 'float("inf")' and to_source(-math.inf) == '-float("inf")'
    assert to_source(math.nan) == 'float("nan")'
    assert to_source(complex(1, -2)) == "complex(1.0, -2.0)"
    assert to_source({1}) == "set([1])" and to_source(frozenset()) == "frozenset([])"
    assert to_source((1,)) == "(1,)"
    with pytest.raises(TypeError):
        to_source(object())


def test_extract_code() -> None:
    text = "Here:\n```python\ndef g(x):\n    return x\n```\nand better:\n```python\ndef g(x):\n    return x + 1\n```"
    assert extract_code(text, "", "g") == "def g(x):\n    return x + 1"
    # a HumanEval body without its signature is completed with the prompt
    assert extract_code("```python\n    return 1\n```", "def g():\n", "g") == "def g():\n    return 1"
    assert extract_code("def g(): return 2", "", "g") == "def g(): return 2"


def test_extract_code_finds_what_evalplus_sanitize_finds() -> None:
    solution = "def g(x):\n    return x + 1"
    # a usage example after the solution does not replace it: the fence that defines the entry point wins
    usage = f"```python\n{solution}\n```\nUse it like this:\n```python\nprint(g(1))\n```"
    assert extract_code(usage, "", "g") == solution
    # an unclosed final fence (generation stopped) still counts, as in the training parser
    assert extract_code(f"Sure.\n```python\n{solution}\n", "", "g") == solution
    # no fence: prose before and after the code is dropped
    prose = f"Here is the function you asked for:\n\nimport math\n{solution}\n\nIt adds one to x."
    assert extract_code(prose, "", "g") == f"import math\n{solution}"
    # text that never becomes valid code is left as it is (and fails as a syntax error)
    assert extract_code("I cannot do that.", "", "g") == "I cannot do that."


@pytest.mark.parametrize("name", list(BENCHMARKS))
@pytest.mark.parametrize("template", eval_prompts.TEMPLATES)
def test_prompts_per_template(name: str, template: str, data_dir: Path) -> None:
    item = load_items(name, data_dir, 1)[0][0]
    msgs = eval_prompts.messages(item, template, Config())
    assert msgs[-1]["role"] == "assistant" and msgs[0]["role"] == "user"
    prefix = eval_prompts.response_prefix(msgs)
    if template == "azr":
        assert prefix.startswith("<think>") and "<answer>" in msgs[0]["content"]
    else:
        assert prefix == "" and "<think>" not in msgs[0]["content"]
    # the oracle's response continues the prompt's prefill
    rendered = eval_prompts.render_plain(msgs, None)
    full = gold_response(item, template)
    assert prefix + _continuation(rendered, full) == full


def test_slug() -> None:
    assert slug("humaneval+") == "humaneval_plus" and slug("cruxeval-o") == "cruxeval-o"
