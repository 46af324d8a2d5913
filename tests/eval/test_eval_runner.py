"""Runner: oracle 100 % / junk 0 % on every benchmark (fast subsets through the real sandbox), aggregation,
Table-1 averages, results JSON contents, resume from per-item records, and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from azr.config import load_config
from azr.eval.benchmarks import BENCHMARKS, KNOWN_UNSOLVABLE
from azr.eval.fake import ScriptedEvalBackend
from azr.eval.prompts import render_plain
from azr.eval.runner import EvalSettings, averages, evaluate, summary_table

ALL = tuple(BENCHMARKS)


def _render(msgs: list[dict[str, str]]) -> str:
    return render_plain(msgs, None)


@pytest.fixture(scope="module")
def executor():
    from azr.config import ExecutorConfig
    from azr.executor import Executor

    with Executor(ExecutorConfig(max_output_chars=20_000_000)) as ex:
        yield ex


@pytest.fixture(scope="module")
def code_executor():
    """As the CLI: HumanEval+/MBPP+ programs run in the sandbox without the training AST policy."""
    from azr.config import ExecutorConfig
    from azr.executor import Executor

    with Executor(ExecutorConfig(max_output_chars=20_000_000), static_policy=False) as ex:
        yield ex


@pytest.fixture(autouse=True)
def _cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AZR_CACHE", str(tmp_path / "cache"))  # reference outputs are cached there


@pytest.mark.parametrize("template", ["azr", "plain"])
def test_oracle_is_perfect_and_junk_is_zero_on_every_benchmark(
    template: str, executor, code_executor, data_dir: Path
) -> None:
    settings = EvalSettings(benchmarks=ALL, limit=3, template=template)
    oracle = evaluate("oracle", _render, executor, settings, data_dir=data_dir, code_executor=code_executor)
    junk = evaluate("junk", _render, executor, settings, data_dir=data_dir, code_executor=code_executor)
    for name in ALL:
        assert oracle["benchmarks"][name]["score"] == 100.0, (name, oracle["benchmarks"][name]["records"][0])
        assert junk["benchmarks"][name]["score"] == 0.0, name
        assert oracle["benchmarks"][name]["n"] == 3
    assert oracle["averages"] == {"code_avg": 100.0, "math_avg": 100.0, "reasoning_avg": 100.0, "overall_avg": 100.0}
    assert junk["averages"]["overall_avg"] == 0.0


def test_code_benchmarks_under_the_training_policy(executor, data_dir: Path) -> None:
    """With `code_policy` (the trainer's periodic eval) the harness imports nothing the AST policy forbids."""
    settings = EvalSettings(benchmarks=("humaneval+", "mbpp+"), limit=2, code_policy=True)
    oracle = evaluate("oracle", _render, executor, settings, data_dir=data_dir)
    assert oracle["averages"]["code_avg"] == 100.0


def test_oracle_fits_the_prefilled_answer_skeleton(executor, data_dir: Path) -> None:
    from azr.config import load_config

    settings = EvalSettings(benchmarks=("reasoning",), limit=3)
    cfg = load_config(None, ["rollout.prefill_answer=true"])
    res = evaluate("oracle", _render, executor, settings, cfg=cfg, data_dir=data_dir)
    assert res["averages"]["reasoning_avg"] == 100.0 and res["settings"]["prefill_answer"] is True
    first = res["benchmarks"]["cruxeval-o"]["records"][0]["responses"][0]
    assert first.startswith("<think>\n</think>\n<answer>\n```output\n")


def test_known_unsolvable_items_are_documented(data_dir: Path) -> None:
    for name, items in KNOWN_UNSOLVABLE.items():
        assert name in BENCHMARKS
        assert all(reason.strip() for reason in items.values())


def test_averages_follow_table1() -> None:
    scores = {"humaneval+": 80.0, "mbpp+": 70.0, "math500": 60.0, "aime24": 10.0, "gsm8k": 90.0, "cruxeval-o": 50.0}
    avg = averages(scores)
    assert avg["code_avg"] == 75.0
    assert avg["math_avg"] == 35.0  # gsm8k is reported but, as in Table 1, not part of MAvg
    assert avg["overall_avg"] == 55.0
    assert avg["reasoning_avg"] == 50.0
    assert "overall_avg" not in averages({"math500": 1.0})


class _Counting(ScriptedEvalBackend):
    def __init__(self, answers: dict[str, str]):
        super().__init__(answers)
        self.prompts: list[str] = []

    def generate(self, prompts, params, n=1):
        self.prompts.extend(prompts)
        return super().generate(prompts, params, n)


def test_results_json_and_resume(tmp_path: Path, data_dir: Path) -> None:
    out = tmp_path / "ev"
    settings = EvalSettings(benchmarks=("gsm8k",), limit=4, batch_size=2, samples=2, temperature=0.5)
    res = evaluate("oracle", _render, None, settings, data_dir=data_dir, out_dir=out, model_spec="oracle")
    saved = json.loads((out / "results.json").read_text())
    assert saved["benchmarks"]["gsm8k"]["pass@k"] == {"1": 100.0, "2": 100.0} == res["benchmarks"]["gsm8k"]["pass@k"]
    for key in ("model", "version", "prompt_version", "settings", "seed", "config", "averages"):
        assert key in saved
    assert saved["benchmarks"]["gsm8k"]["data"].startswith("sha256:")
    rec = saved["benchmarks"]["gsm8k"]["records"][0]
    assert rec["verdicts"][0]["correct"] and rec["verdicts"][0]["answer"] == rec["gold"] and len(rec["responses"]) == 2

    # interrupt after the first batch: keep 2 of 4 records, then resume with a backend that counts its prompts
    rec_file = out / "records" / "gsm8k.jsonl"
    lines = rec_file.read_text().splitlines()
    rec_file.write_text("\n".join(lines[:2]) + "\n" + lines[2][:10])  # plus a torn line, as a crash leaves
    backend = _Counting({})
    res2 = evaluate(backend, _render, None, settings, data_dir=data_dir, out_dir=out, model_spec="oracle")
    assert len(backend.prompts) == 2  # only the two unrecorded items were generated
    assert res2["benchmarks"]["gsm8k"]["n"] == 4
    assert res2["benchmarks"]["gsm8k"]["score"] == 50.0  # 2 oracle records kept + 2 junk answers

    with pytest.raises(ValueError, match="different eval"):
        evaluate("oracle", _render, None, EvalSettings(benchmarks=("gsm8k",), limit=4, seed=9), data_dir=data_dir,
                 out_dir=out, model_spec="oracle")  # fmt: skip


def test_partial_credit_pass_at_k(tmp_path: Path, data_dir: Path) -> None:
    """Two samples, one right: pass@1 = 50 %, pass@2 = 100 % (hand-computed)."""

    class Half(ScriptedEvalBackend):
        def generate(self, prompts, params, n=1):
            outs = super().generate(prompts, params, n)
            return [[cs[0], cs[1].__class__(**{**cs[1].__dict__, "text": "\\boxed{-1}"})] for cs in outs]

    from azr.eval.benchmarks import load_items
    from azr.eval.fake import gold_response

    settings = EvalSettings(benchmarks=("aime24",), limit=2, samples=2, temperature=1.0, template="plain")
    items = load_items("aime24", data_dir, 2)[0]
    from azr.config import Config
    from azr.eval.prompts import messages

    backend = Half({_render(messages(it, "plain", Config())): gold_response(it, "plain") for it in items})
    res = evaluate(backend, _render, None, settings, data_dir=data_dir)
    assert res["benchmarks"]["aime24"]["pass@k"] == {"1": 50.0, "2": 100.0}
    table = summary_table(res)
    assert table.row_count == 2  # aime24 + math average


def test_cli(tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from azr.cli import main

    out = tmp_path / "cli"
    rc = main(["eval", "--model", "oracle", "--benchmarks", "cruxeval-i,gsm8k", "--limit", "2", "--out", str(out),
               "--data-dir", str(data_dir), "--quiet"])  # fmt: skip
    assert rc == 0
    assert json.loads((out / "results.json").read_text())["averages"]["reasoning_avg"] == 100.0
    assert "cruxeval-i" in capsys.readouterr().out
    assert main(["eval", "--model", "oracle", "--benchmarks", "nope"]) == 2
    assert main(["eval", "--model", "oracle", "--limit", "0"]) == 2
    assert main(["eval", "--model", "oracle", "--data-dir", str(tmp_path / "missing")]) == 2
    assert "error" in capsys.readouterr().err


def test_progress_is_printed_as_lines_when_stderr_is_not_a_terminal(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Under nohup or a pipe a live bar prints nothing until the end; a log must still show how far the eval is."""
    from azr.cli import main

    rc = main(["eval", "--model", "oracle", "--benchmarks", "gsm8k", "--limit", "20", "--batch-size", "2",
               "--out", str(tmp_path / "ev"), "--data-dir", str(data_dir)])  # fmt: skip
    assert rc == 0
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("gsm8k: ")]
    assert lines[0].startswith("gsm8k: 0/20") and lines[-1].startswith("gsm8k: 20/20")
    assert 3 <= len(lines) <= 12  # a line per tenth, not one per batch of 2
    assert "items/s" in lines[-1]


@pytest.mark.parametrize(
    "template, prefill, expected", [("azr", False, "</think>"), ("azr", True, ""), ("plain", False, "")]
)
def test_the_azr_template_stops_only_at_an_answer_after_the_reasoning(
    executor, data_dir: Path, template: str, prefill: bool, expected: str
) -> None:
    """An `</answer>` drafted inside <think> must not end an eval response either (`SamplingParams.stop_after`)."""
    seen = []

    class Recording(ScriptedEvalBackend):
        def generate(self, prompts, params, n=1):
            seen.append(params.stop_after)
            return super().generate(prompts, params, n)

    backend = Recording({})  # junk answers: only the sampling parameters matter here
    settings = EvalSettings(benchmarks=("cruxeval-o",), limit=2, template=template)
    cfg = load_config(None, [f"rollout.prefill_answer={str(prefill).lower()}"])
    evaluate(backend, _render, executor, settings, cfg=cfg, data_dir=data_dir)
    assert seen and set(seen) == {expected}
