"""benchmarks/gpu_check.py on the CPU (`--tiny`): the code path a GPU session runs, so it cannot rot unseen."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_check.py"


def gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["gpu_check"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_unknown_check_is_a_one_line_error(capsys) -> None:
    assert gpu_check().main(["--tiny", "--checks", "hf,nope"]) == 2
    assert capsys.readouterr().err.strip() == "gpu_check: unknown check(s) nope; choose from scripted, hf"


def test_real_config_is_the_packaged_models() -> None:
    config = json.loads((SCRIPT.parent / "configs" / "qwen2.5-coder-0.5b.json").read_text())
    assert (config["hidden_size"], config["num_hidden_layers"], config["vocab_size"]) == (896, 24, 151936)


@pytest.mark.slow
def test_tiny_run_makes_one_self_play_step_per_check(capsys) -> None:
    assert gpu_check().main(["--tiny"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    info, *checks = lines
    assert info["device"] == "cpu" and info["parameters_m"] > 0
    assert [c["check"] for c in checks] == ["scripted", "hf"]
    for c in checks:
        assert c["step_s"] > 0 and c["trained_sequences"] > 0 and c["peak_memory_gb"] > 0
    assert checks[1]["tokens"] > 0 and checks[1]["tokens_per_s"] > 0 and "tokens_per_s" not in checks[0]
