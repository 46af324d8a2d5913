"""`azr eval` takes the config system of `azr train` (issue 11): `--config`, dotted overrides, flags as aliases;
and `--rescore` re-judges an output dir from its recorded responses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from azr.cli import build_parser, main
from azr.commands.eval import ALIASES, resolve
from azr.config import ConfigError


def _cfg(*argv: str):
    return resolve(build_parser().parse_args(["eval", *argv]))


def test_flags_are_aliases_of_config_keys() -> None:
    flags = _cfg("--model", "oracle", "--dtype", "bf16", "--max-new-tokens", "64", "--batch-size", "4",
                 "--prefill-answer", "--limit", "3", "--benchmarks", "code,cruxeval-o", "--temperature", "0.5",
                 "--samples", "2", "--equality", "strict", "--code-policy")  # fmt: skip
    dotted = _cfg("model.spec=oracle", "model.dtype=bf16", "eval.max_new_tokens=64", "eval.batch_size=4",
                  "rollout.micro_batch_size=4", "rollout.prefill_answer=true", "eval.limit=3",
                  "eval.benchmarks=[code, cruxeval-o]", "eval.temperature=0.5", "eval.samples=2",
                  "eval.equality=strict", "eval.code_policy=true")  # fmt: skip
    assert flags == dotted
    assert flags.model.dtype == "bf16" and flags.rollout.prefill_answer and flags.rollout.micro_batch_size == 4
    assert flags.eval.benchmarks == ("code", "cruxeval-o") and flags.eval.sampling() == (0.5, 0.95)
    # defaults: greedy, official CRUXEval equality, the reasoning group
    default = _cfg()
    assert default.eval.sampling() == (0.0, 1.0) and default.eval.equality == "official"
    assert set(ALIASES) <= {a.dest for a in build_parser()._subparsers._group_actions[0].choices["eval"]._actions}


def test_precedence_config_file_then_flags_then_overrides(tmp_path: Path) -> None:
    f = tmp_path / "ev.yaml"
    f.write_text("model: {dtype: bf16}\nrollout: {backend: vllm}\neval: {limit: 7, max_new_tokens: 99}\n")
    cfg = _cfg("--config", str(f), "--limit", "5", "eval.max_new_tokens=11")
    assert (cfg.model.dtype, cfg.rollout.backend, cfg.eval.limit, cfg.eval.max_new_tokens) == ("bf16", "vllm", 5, 11)
    assert _cfg("--dtype", "fp32", "model.dtype=bf16").model.dtype == "bf16"


@pytest.mark.parametrize(
    "argv",
    [["eval.bogus=1"], ["model.dtyp=bf16"], ["--limit", "0"], ["eval.equality=loose"], ["--benchmarks", "nope"],
     ["rollout.backend=tpu"], ["eval.samples=2", "eval.temperature=0"], ["--config", "/no/such.yaml"]],
)  # fmt: skip
def test_bad_keys_and_values_are_one_line_errors(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ConfigError):
        _cfg(*argv)
    assert main(["eval", "--model", "oracle", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("azr eval: error: ") and "\n" not in err


def test_both_forms_run_the_same_eval(tmp_path: Path, data_dir: Path) -> None:
    common = ["--data-dir", str(data_dir), "--quiet"]
    assert main(["eval", "--model", "oracle", "--benchmarks", "cruxeval-o", "--limit", "2", "--batch-size", "1",
                 "--out", str(tmp_path / "a"), *common]) == 0  # fmt: skip
    assert main(["eval", "model.spec=oracle", "eval.benchmarks=[cruxeval-o]", "eval.limit=2", "eval.batch_size=1",
                 "--out", str(tmp_path / "b"), *common]) == 0  # fmt: skip
    a, b = (json.loads((tmp_path / d / "results.json").read_text()) for d in "ab")
    assert a["settings"] == b["settings"] and a["benchmarks"] == b["benchmarks"]
    assert a["benchmarks"]["cruxeval-o"]["equality"] == "official" and a["settings"]["equality"] == "official"
    assert main(["eval", "model.spec=oracle", "eval.benchmarks=[cruxeval-o]", "eval.limit=2",
                 "rollout.backend=scripted", *common]) == 0  # fmt: skip  # oracle needs no backend


def test_rescore_rejudges_recorded_responses(tmp_path: Path, data_dir: Path) -> None:
    """An eval dir judged under one equality is re-judged under another from its stored responses (no model), and
    a resume into a dir judged by other rules is refused with the way out named."""
    out = tmp_path / "ev"
    common = ["--data-dir", str(data_dir), "--quiet"]
    assert main(["eval", "--model", "oracle", "--benchmarks", "cruxeval-o", "--limit", "3", "--out", str(out),
                 *common]) == 0  # fmt: skip
    rec_file = out / "records" / "cruxeval-o.jsonl"
    recs = [json.loads(x) for x in rec_file.read_text().splitlines()]
    typed = {  # sample_0..2: type-changed values Python == accepts, and the restated call (output == input)
        "sample_0": "[(4.0, 1), (4, 1), (4, 1), (4, 1), (2, 3), (2, 3)]",
        "sample_1": "{1.0: None, 2: None}",
        "sample_2": "f('hbtofdeiequ')",
    }
    for r in recs:
        r["responses"] = [r["responses"][0].replace(r["gold"], typed[r["id"]])]
    rec_file.write_text("".join(json.dumps(r) + "\n" for r in recs))
    assert main(["eval", "--rescore", str(out), "eval.equality=strict", *common]) == 0
    res = json.loads((out / "results.json").read_text())
    b = res["benchmarks"]["cruxeval-o"]
    assert b["equality"] == "strict" and res["rescored_from"] == str(out) and res["model"] == "oracle"
    assert [r["verdicts"][0]["correct"] for r in b["records"]] == [False, False, False]
    assert b["records"][2]["verdicts"][0]["reason"] == "uses_program"
    assert json.loads((out / "meta.json").read_text())["fingerprint"]["equality"] == "strict"
    # resuming under the other rule is refused and names --rescore
    assert main(["eval", "--model", "oracle", "--benchmarks", "cruxeval-o", "--limit", "3", "--out", str(out),
                 *common]) == 2  # fmt: skip
    assert main(["eval", "--rescore", str(out), "--out", str(tmp_path / "official"), *common]) == 0
    res = json.loads((tmp_path / "official" / "results.json").read_text())
    assert [r["verdicts"][0]["correct"] for r in res["benchmarks"]["cruxeval-o"]["records"]] == [True, True, False]
    assert res["benchmarks"]["cruxeval-o"]["score"] == pytest.approx(200 / 3)
    assert main(["eval", "--rescore", str(tmp_path / "nothing"), *common]) == 2
    assert main(["eval", "--rescore", str(out), "--model", "oracle"]) == 2
