"""Two gloo ranks against one process, piece by piece (tests/dist/rank_checks.py runs under torchrun once):
the FSDP2 learner's gradient, metrics and weights (fp32, LoRA, KL reference, gradient checkpointing with LoRA,
bf16 mixed precision), sharded
generation, the weight sync into the rollout copy, the sharded executor, a DCP round trip, a collective timeout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ranks(tmp_path_factory) -> list[dict]:
    out = tmp_path_factory.mktemp("ranks")
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node=2",
        str(HERE / "rank_checks.py"),
        str(out),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-4000:]
    return [json.loads((out / f"rank_{r}.json").read_text()) for r in (0, 1)]


def rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-12)


@pytest.mark.parametrize("case", ["fp32", "lora", "kl", "checkpointing"])
def test_fsdp_learner_equals_one_process(ranks, case) -> None:
    for r in ranks:
        res = r[case]
        for step in res["metrics"]:
            for name, (dist_value, one_value) in step.items():
                assert rel(dist_value, one_value) <= 1e-5, (case, name, dist_value, one_value)
        assert res["moved"] > 1e-3  # the weights did change
        # AdamW's first steps are ~lr * sign(grad): float noise in a near-zero gradient moves a weight by up to
        # ~lr * noise / eps, so compare at 1e-5 for lr 1e-3 (the end-to-end run at lr 1e-4 meets 1e-6)
        assert res["max_param_diff"] <= 1e-5 and res["rel_update_diff"] <= 1e-3
    assert ranks[0]["lora"]["trainable"] == 8  # only the adapter (q, v of two layers, A and B)


def test_bf16_mixed_precision_has_the_hand_made_masters_semantics(ranks) -> None:
    # FSDP2 accumulates the bf16 gradients in fp32, the single process in bf16: same semantics, bf16-level noise
    for r in ranks:
        res = r["bf16"]
        for step in res["metrics"]:
            assert rel(*step["loss"]) <= 1e-3 and rel(*step["grad_norm"]) <= 1e-3
        assert res["moved"] > 1e-3 and res["rel_update_diff"] <= 0.05


def test_sharded_generation_reproduces_one_process(ranks) -> None:
    for r in ranks:
        assert all(all(row) for row in r["rollout"]["same"])  # 6 prompts x 2 samples: same tokens and text
        assert r["rollout"]["max_logprob_diff"] < 1e-5  # batch composition only (fp32 rounding)


def test_weight_sync_and_executor_and_checkpoint(ranks) -> None:
    for rank, r in enumerate(ranks):
        assert r["sync"]["diff"] == 0.0
        assert all(all(row) for row in r["executor"]["same"])
        assert r["executor"]["outputs"][2] == ["4", "'abab'"]
        assert r["checkpoint"]["equal"] and r["checkpoint"]["rng"] == rank and r["checkpoint"]["steps"] == 2
        assert r["checkpoint"]["loss"][0] == r["checkpoint"]["loss"][1]
    assert ranks[0]["executor"] == ranks[1]["executor"]


def test_an_engine_backend_gets_torchrun_data_parallel_and_the_gathered_weights(ranks) -> None:
    for r in ranks:
        for case in ("full", "lora"):
            e = r["engine"][case]
            assert e["kwargs"] == {"distributed_executor_backend": "external_launcher", "data_parallel_size": 2}
            assert not e["model_given"] and e["syncs"] == 2 and e["equal"]  # at start and after the update
        assert r["engine"]["full"]["adapter_keys"] == 0 and r["engine"]["lora"]["adapter_keys"] > 0


def test_a_one_process_checkpoint_continues_on_two_ranks(ranks) -> None:
    # The second AdamW step needs the loaded moments: without them (measured) the update differs by 68 % (bf16
    # LoRA) and 86 % (fp32); with them 5.9 % and 1.2e-6. bf16: gradients accumulate in fp32 under FSDP, in bf16 in
    # one process (see the bf16 test above).
    for r in ranks:
        for case, tol, update_tol in (("single_fp32", 1e-5, 1e-4), ("single_bf16_lora", 5e-3, 0.15)):
            res = r[case]
            assert rel(*res["loss"]) <= tol and rel(*res["grad_norm"]) <= tol, (case, res)
            assert res["steps"] == 2 and res["rel_update_diff"] <= update_tol, (case, res)


def test_a_collective_nobody_joins_times_out_with_a_clear_error(ranks) -> None:
    t = ranks[0]["timeout"]
    assert t["raised"].startswith("test all_reduce failed on rank 0:") and "Timed out" in t["raised"]
    assert 2.5 <= t["seconds"] < 10
