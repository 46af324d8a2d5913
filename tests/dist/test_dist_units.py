"""The distributed package's pure parts, in one process: shards, digests, error conversion, failure messages,
the learner's lockstep plan, unseeded sharded calls, config and CLI errors, buffer hand-over."""

from __future__ import annotations

import random
from types import SimpleNamespace

import pytest

from azr.buffer import TaskBuffers
from azr.cli import main as cli_main
from azr.config import ConfigError, DistConfig, load_config
from azr.dist import World, comm, launch
from azr.dist.executor import executor_config
from azr.rollout.base import SamplingParams, prompt_seeds
from azr.tasks.types import Task, TaskType


@pytest.mark.parametrize("size", [1, 2, 3, 5])
def test_shards_are_contiguous_balanced_and_cover_everything_in_order(size) -> None:
    for n in range(14):
        bounds = [comm.shard_bounds(n, r, size) for r in range(size)]
        assert [i for a, b in bounds for i in range(a, b)] == list(range(n))
        sizes = [b - a for a, b in bounds]
        assert max(sizes) - min(sizes) <= 1 and sizes == sorted(sizes, reverse=True)
        assert [x for r in range(size) for x in comm.local_shard(list(range(n)), r, size)] == list(range(n))
    with pytest.raises(ValueError):
        comm.shard_bounds(3, size, size)


def test_without_a_process_group_the_collectives_are_identities() -> None:
    assert comm.gather_shards([1, 2]) == [1, 2] and comm.broadcast({"a": 1}) == {"a": 1}
    assert comm.sum_values({"loss": 0.5}) == {"loss": 0.5}
    comm.barrier()
    comm.check_identical("x", "abc")


def test_digest_is_value_based() -> None:
    a = ["".join(["ab", "c"]) for _ in range(2)]  # two distinct str objects
    s = "abc"
    assert comm.digest(a) == comm.digest([s, s]) and comm.digest(a) != comm.digest(["abc", "abd"])


def test_check_identical_names_the_rank_that_disagrees(monkeypatch) -> None:
    monkeypatch.setattr(comm, "all_gather", lambda value, op="": ["aaaa", "aaaa", "bbbb"])
    with pytest.raises(comm.DistError, match="rank 0 has aaaa, rank 2 has bbbb"):
        comm.check_identical("buffers", "aaaa")


def test_guard_turns_communication_failures_into_one_line_rank_lost() -> None:
    text = (
        "[/x/gloo/transport/tcp/pair.cc:537] Read error [127.0.0.1]:33678: Connection reset by peer. This is "
        "typically caused by a remote worker hanging"
    )
    with pytest.raises(comm.RankLost) as e:
        with comm.guard("generate"):
            raise RuntimeError(text)
    assert str(e.value) == "generate failed on rank 0: Read error [127.0.0.1]:33678: Connection reset by peer"
    with pytest.raises(RuntimeError, match="shape mismatch"):  # a bug stays a bug
        with comm.guard("update"):
            raise RuntimeError("shape mismatch (2, 3) vs (3, 2)")
    with pytest.raises(ValueError):
        with comm.guard("update"):
            raise ValueError("gloo")


def test_torchrun_failures_are_described_per_rank(tmp_path) -> None:
    def failure(code: int, sig: str = "") -> SimpleNamespace:
        return SimpleNamespace(exitcode=code, signal_name=lambda: sig)

    text = launch.describe_failures({1: failure(-9, "SIGKILL"), 0: failure(1)})
    assert text == "rank 0 exited with status 1, rank 1 was killed by SIGKILL"
    assert launch.resume_hint(tmp_path, 2) == "the run stopped before its first checkpoint"
    step = tmp_path / "checkpoints" / "step_000003"
    step.mkdir(parents=True)
    (step / "state.json").write_text('{"step": 3}')
    (step / "rng.pt").write_bytes(b"")
    hint = launch.resume_hint(tmp_path, 2)
    assert hint == f"the run stopped; resume from step_000003 with: azr train --nproc 2 --resume {tmp_path}"


def test_lockstep_plan_gives_every_sample_once_and_equal_pass_counts(monkeypatch) -> None:
    import azr.dist.fsdp as fsdp
    from azr.learner.base import Sample
    from azr.rollout.base import Completion
    from azr.tasks.types import Role

    items = [
        (
            Sample(
                TaskType.DEDUCTION,
                Role.SOLVE,
                Completion("p", "", (1,) * (i % 3 + 1), (2,) * (i + 1), (0.0,) * (i + 1)),
                0.0,
                str(i),
            ),
            float(i),
        )
        for i in range(7)
    ]
    fake = SimpleNamespace(cfg=SimpleNamespace(optim=SimpleNamespace(micro_batch_size=2)))
    for size in (1, 2, 3):
        seen, passes = [], []
        for rank in range(size):
            monkeypatch.setattr(fsdp, "world", lambda r=rank, n=size: World(r, n))
            plan = list(fsdp.FSDPLearner._plan(fake, items))
            passes.append(len(plan))
            seen += [it[0].prompt_group for mb, w in plan if w == 1.0 for it in mb]
            assert all(w in (0.0, 1.0) for _, w in plan)
        assert sorted(seen) == sorted(str(i) for i in range(7)) and len(set(passes)) == 1


def test_unseeded_sharded_calls_draw_one_base_shared_by_every_rank() -> None:
    from azr.dist.rollout import ShardedRollout

    a, b = ShardedRollout(object(), seed=5), ShardedRollout(object(), seed=5)
    unseeded = SamplingParams()
    assert a._seeds(unseeded, 4) == b._seeds(unseeded, 4) != a._seeds(unseeded, 4)
    seeded = SamplingParams(seed=9)
    assert a._seeds(seeded, 3) == list(prompt_seeds(seeded, 3, 0))
    assert a._seeds(SamplingParams(seeds=(1, 2)), 2) == [1, 2]


def test_dist_config_is_validated() -> None:
    assert load_config(None, ["dist.timeout=30"]).dist == DistConfig(timeout=30.0)
    with pytest.raises(ConfigError, match="dist.backend must be one of auto, nccl, gloo"):
        load_config(None, ["dist.backend=mpi"])
    with pytest.raises(ConfigError, match="dist.timeout must be > 0"):
        load_config(None, ["dist.timeout=0"])


def test_nccl_without_cuda_is_a_config_error() -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ConfigError, match="dist.backend=nccl needs CUDA"):
        launch.backend_for(DistConfig(backend="nccl"))
    assert launch.backend_for(DistConfig()) == "gloo"


def test_executor_workers_split_between_the_ranks_of_a_node() -> None:
    cfg = load_config(None, []).executor
    assert executor_config(cfg, 1) is cfg
    assert executor_config(cfg, 2).workers >= 1
    fixed = load_config(None, ["executor.workers=3"]).executor
    assert executor_config(fixed, 4).workers == 3


def test_train_nproc_errors_are_one_line(capsys, monkeypatch, tmp_path) -> None:
    assert cli_main(["train", "--nproc", "0", "--config", "debug", "--out", str(tmp_path / "r")]) == 2
    assert capsys.readouterr().err.strip() == "azr train: error: --nproc must be >= 1"
    for k, v in {"RANK": "0", "WORLD_SIZE": "1", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "1"}.items():
        monkeypatch.setenv(k, v)
    assert cli_main(["train", "--nproc", "2", "--config", "debug", "--out", str(tmp_path / "r")]) == 2
    assert "leave it out when launching with torchrun" in capsys.readouterr().err


def test_buffer_snapshot_hands_rank_0s_buffers_to_another_rank(tmp_path) -> None:
    cfg = load_config(None, [])
    src = TaskBuffers(tmp_path, cfg)
    src.add(
        [
            Task(
                type=TaskType.DEDUCTION,
                program=f"def f(a):\n    return a + {k}",
                inputs=("1",),
                outputs=(str(1 + k),),
                step=1,
            )
            for k in range(3)
        ]
    )
    dst = TaskBuffers(None, cfg)
    dst.restore(src.snapshot())
    assert dst.sizes() == src.sizes() and dst.tasks(TaskType.DEDUCTION) == src.tasks(TaskType.DEDUCTION)
    new = Task(type=TaskType.DEDUCTION, program="def f(a):\n    return -a", inputs=("1",), outputs=("-1",), step=2)
    src.add([new])
    dst.add([new])
    assert dst.snapshot() == src.snapshot()  # same sequence numbers afterwards
    rng = random.Random(0)
    assert dst.sample_references(TaskType.DEDUCTION, 2, rng) == src.sample_references(
        TaskType.DEDUCTION, 2, random.Random(0)
    )


@pytest.mark.slow
def test_gpu_check_fsdp_runs_on_the_cpu(tmp_path) -> None:
    """benchmarks/gpu_check_fsdp.py --tiny: the code path a GPU session runs (1 rank, gloo), so it cannot rot."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_check_fsdp.py"
    proc = subprocess.run([sys.executable, str(script), "--tiny"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [json.loads(x) for x in proc.stdout.splitlines() if x.startswith("{")]
    info, update, sync, step, checkpoint = lines
    assert info["world"] == 1 and update["check"] == "update" and update["grad_norm"] > 0
    assert update["loss_rel_diff_vs_single"] < 1e-3 and sync["seconds"] >= 0
    assert step["trained_sequences"] > 0 and checkpoint["exact"]
    assert proc.stdout.strip().splitlines()[-1].startswith("gpu_check_fsdp: ok")
