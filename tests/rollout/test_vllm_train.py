"""`azr train` with `rollout.backend=vllm`, end to end on a tiny random Qwen2 written to disk (needs vLLM: run by
`make test-vllm`, skipped elsewhere).

The learner recomputes the rollout's log-probs before its one optimizer step, so `update/approx_kl` (mean of
pi_old - pi_theta over the step's tokens) is ~0 only when the engine sampled with the learner's current weights:
at step 2 that needs the weight sync after step 1 to have worked.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from azr.config import load_config, resolve_preset
from azr.io import read_jsonl
from azr.models import tiny_random

pytest.importorskip("vllm", reason="vLLM is not installed here; `make test-vllm` runs this in .venv-vllm")
pytestmark = pytest.mark.vllm


@pytest.mark.parametrize("lora", [False, True])
def test_train_two_steps_on_vllm_keeps_rollout_and_learner_log_probs_equal(tmp_path: Path, lora: bool) -> None:
    from rich.console import Console

    from azr.trainer import train

    model, tok = tiny_random(seed=0, heads=2)
    model.save_pretrained(tmp_path / "tiny")
    tok.save_pretrained(tmp_path / "tiny")
    cfg = load_config(
        resolve_preset("debug"),
        [
            f"model.spec={tmp_path / 'tiny'}",
            f"model.lora={str(lora).lower()}",
            "rollout.backend=vllm",
            "rollout.enforce_eager=true",
            "rollout.kv_cache_gb=0.0625",
            "rollout.max_prompt_tokens=2048",
            "rollout.max_new_tokens=12",
            "selfplay.batch_size=1",
            "trainer.steps=2",
            "trainer.samples_per_step=1",
        ],
    )
    result = train(cfg, tmp_path / "run", console=Console(file=open("/dev/null", "w")))  # noqa: SIM115
    assert result.step == 2
    rows = list(read_jsonl(tmp_path / "run" / "metrics.jsonl"))
    assert [r["step"] for r in rows] == [1, 2]
    for r in rows:
        assert "update/grad_norm" in r and r["update/tokens"] > 0
        assert abs(r["update/approx_kl"]) < 1e-5, r["update/approx_kl"]
