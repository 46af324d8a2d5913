"""One real self-play step on the packaged Qwen2.5-Coder-0.5B-Instruct (slow; CI runs it with `make test`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from azr.config import load_config, resolve_preset
from azr.io import read_jsonl
from azr.trainer import train


@pytest.mark.slow
def test_one_real_step_of_the_cpu_demo(tmp_path: Path) -> None:
    from azr.models import PACKAGED, ModelError
    from azr.models.packaged import part_paths

    try:
        part_paths(PACKAGED["qwen2.5-coder-0.5b-instruct"])
    except ModelError as e:  # the `models` extra is not installed on this machine
        pytest.skip(str(e))
    # the demo config, shrunk to one proposal and one answer per task type with short responses
    cfg = load_config(
        resolve_preset("cpu-demo"),
        ["trainer.steps=1", "selfplay.batch_size=1", "rollout.max_new_tokens=48", "selfplay.mc_samples=2"],
    )
    result = train(cfg, tmp_path / "run", console=Console(file=open("/dev/null", "w")))  # noqa: SIM115
    assert result.step == 1
    m = next(iter(read_jsonl(tmp_path / "run" / "metrics.jsonl")))
    for t in ("deduction", "abduction", "induction"):
        assert m[f"{t}/propose/count"] == 1 and m[f"{t}/solve/count"] == 1
    assert m["update/sequences"] == 6 and m["update/grad_norm"] > 0
    # the cpu-demo trains a LoRA adapter: the checkpoint is a PEFT adapter directory, small (issue 10: <= 200 MB)
    ck = tmp_path / "run" / "checkpoints" / "step_000001"
    assert (ck / "model" / "adapter_model.safetensors").is_file() and (ck / "model" / "adapter_config.json").is_file()
    assert not (ck / "model" / "model.safetensors").exists()
    assert sum(f.stat().st_size for f in ck.rglob("*") if f.is_file()) <= 200 * 2**20
