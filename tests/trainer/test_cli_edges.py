"""Bad input at the edge ends in one error line and exit 2 with nothing written: non-finite config values, an
unusable `--out` (train, eval, report); options and `key=value` overrides mix in any order."""

from __future__ import annotations

import dataclasses
import math
import typing
from pathlib import Path

import pytest

from azr.cli import main
from azr.config import Config, ConfigError, load_config


def _float_keys(cls: type = Config, prefix: str = "") -> list[tuple[str, bool]]:
    """(dotted key, is a tuple) of every float field of the schema."""
    keys = []
    for f in dataclasses.fields(cls):
        tp = typing.get_type_hints(cls)[f.name]
        if dataclasses.is_dataclass(tp):
            keys += _float_keys(tp, f"{prefix}{f.name}.")
        elif tp is float or float in typing.get_args(tp):
            keys.append((f"{prefix}{f.name}", typing.get_origin(tp) is tuple))
    return keys


FLOAT_KEYS = _float_keys()


def test_the_schema_has_float_fields_of_both_kinds() -> None:
    assert {"optim.lr", "selfplay.format_penalty", "rollout.temperature"} <= {k for k, _ in FLOAT_KEYS}
    assert ("optim.betas", True) in FLOAT_KEYS


@pytest.mark.parametrize("bad", [".nan", ".inf", "-.inf", "nan", "inf"])
@pytest.mark.parametrize(("key", "is_tuple"), FLOAT_KEYS)
def test_every_float_field_rejects_non_finite_values(key: str, is_tuple: bool, bad: str) -> None:
    if is_tuple:
        good = getattr(getattr(Config(), key.split(".")[0]), key.split(".")[1])
        value = "[" + ", ".join([bad, *map(str, good[1:])]) + "]"
    else:
        value = bad
    with pytest.raises(ConfigError) as e:
        load_config(None, [f"{key}={value}"])
    assert key in str(e.value) and "\n" not in str(e.value)


def test_non_finite_values_are_rejected_however_the_config_is_built() -> None:
    cfg = Config()
    with pytest.raises(ConfigError, match="optim.lr must be a finite number"):
        dataclasses.replace(cfg, optim=dataclasses.replace(cfg.optim, lr=math.inf))
    with pytest.raises(ConfigError, match="selfplay.format_penalty"):
        dataclasses.replace(cfg, selfplay=dataclasses.replace(cfg.selfplay, format_penalty=math.nan))


def _one_line(capsys: pytest.CaptureFixture[str], *words: str) -> None:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert all(w in err[0] for w in words), err[0]


def test_non_finite_lr_fails_before_anything_is_written(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--config", "debug", "--out", str(tmp_path / "x"), "optim.lr=.inf"]) == 2
    _one_line(capsys, "optim.lr", "finite")
    assert not (tmp_path / "x").exists()


def _unusable_outs(tmp_path: Path) -> list[tuple[Path, str]]:
    a_file = tmp_path / "a-file"
    a_file.write_text("not a directory")
    return [(a_file, "is a file"), (a_file / "sub", "is not a directory"), (Path("/proc/azr-out"), "not writable")]


def test_train_out_that_cannot_be_a_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for out, words in _unusable_outs(tmp_path):
        assert main(["train", "--config", "debug", "--out", str(out), "rollout.backend=scripted"]) == 2
        _one_line(capsys, "--out", str(out), words)
        assert not out.is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]
    assert (tmp_path / "a-file").read_text() == "not a directory"


def test_eval_and_report_out_that_cannot_be_a_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    assert main(["train", "--config", "debug", "--out", str(run), "rollout.backend=scripted", "trainer.steps=1"]) == 0
    capsys.readouterr()
    for out, words in _unusable_outs(tmp_path):
        assert main(["report", str(run), "--out", str(out)]) == 2
        _one_line(capsys, "--out", words)
        assert main(["eval", "--model", "oracle", "--benchmarks", "cruxeval-o", "--out", str(out)]) == 2
        _one_line(capsys, "--out", words)
        assert not out.is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "run"]


def test_options_and_overrides_in_any_order(tmp_path: Path) -> None:
    from azr.io import read_jsonl

    run = tmp_path / "r"
    argv = [
        "train",
        "rollout.backend=scripted",
        "--config",
        "debug",
        "trainer.steps=1",
        "--out",
        str(run),
        "trainer.seed=3",
    ]
    assert main(argv) == 0
    saved = load_config(run / "config.yaml")
    assert saved.trainer.steps == 1 and saved.trainer.seed == 3 and saved.rollout.backend == "scripted"
    assert main(["train", "trainer.steps=2", "--resume", str(run)]) == 0
    assert [r["step"] for r in read_jsonl(run / "metrics.jsonl")] == [1, 2]


def test_an_unknown_option_after_overrides_is_still_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["train", "trainer.steps=1", "--no-such-option"])
    assert e.value.code == 2
    assert "unrecognized arguments: --no-such-option" in capsys.readouterr().err


def test_resume_and_out_on_a_directory_without_a_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from azr.io import read_jsonl

    run = tmp_path / "r"
    run.mkdir()
    (run / "metrics.jsonl").write_text('{"step": 1, "stale": 1.0}\n')  # a dead run's row, no checkpoint
    base = ["--config", "debug", "rollout.backend=scripted", "trainer.steps=1"]
    assert main(["train", "--out", str(run), *base]) == 0
    assert [r.get("stale") for r in read_jsonl(run / "metrics.jsonl")] == [None]
    for p in (run / "checkpoints").iterdir():
        if p.name.startswith("step_"):
            import shutil

            shutil.rmtree(p)
    assert main(["train", "--resume", str(run), "trainer.steps=1"]) == 0  # starts it again from its saved config
    assert "starting it from scratch" in capsys.readouterr().out
    assert [r["step"] for r in read_jsonl(run / "metrics.jsonl")] == [1]
