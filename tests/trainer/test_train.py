"""The trainer end to end: scripted steps, a tiny-model update, exact resume, a kill mid-checkpoint, oversight stop."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from rich.console import Console

from azr import checkpoint as ck
from azr.config import Config, load_config, resolve_preset
from azr.io import read_jsonl
from azr.trainer import TrainError, train

QUIET = Console(file=open("/dev/null", "w"), width=120)  # noqa: SIM115 - lives for the test session
VOLATILE = ("time", "timing/", "rollout/tokens_per_s")


def cfg(*overrides: str) -> Config:
    return load_config(resolve_preset("debug"), ["trainer.samples_per_step=1", *overrides])


def scripted(*overrides: str) -> Config:
    return cfg("rollout.backend=scripted", *overrides)


def rows(run_dir: Path) -> list[dict]:
    return [{k: v for k, v in r.items() if not k.startswith(VOLATILE)} for r in read_jsonl(run_dir / "metrics.jsonl")]


def buffers(run_dir: Path) -> dict[str, list[dict]]:
    return {p.name: list(read_jsonl(p)) for p in sorted((run_dir / "buffers").glob("*.jsonl"))}


def test_scripted_steps_end_to_end(tmp_path: Path) -> None:
    result = train(scripted("trainer.steps=2"), tmp_path / "r", console=QUIET)
    run = tmp_path / "r"
    assert result.step == 2 and not result.stopped
    assert result.checkpoint == run / "checkpoints" / "step_000002"
    assert (run / "report" / "index.html").is_file() and list(
        (run / "report").glob("*.png")
    )  # every run ends with its report
    metrics = list(read_jsonl(run / "metrics.jsonl"))
    assert [m["step"] for m in metrics] == [1, 2]
    for key in (
        "deduction/propose/valid_rate",
        "induction/solve/solve_rate",
        "abduction/propose/count",
        "timing/generate",
        "timing/executor",
        "timing/update",
        "timing/other",
        "timing/total",
        "buffer/deduction",
        "deduction/propose/adv_abs_mean",
        "abduction/solve/adv_std",
        "induction/solve/adv_zero_frac",
        "adv/degenerate_groups",
        "rollout/tokens",
    ):
        assert key in metrics[-1], key
    assert (
        abs(
            sum(metrics[-1][f"timing/{p}"] for p in ("generate", "executor", "update", "other"))
            - metrics[-1]["timing/total"]
        )
        < 1e-6
    )
    assert not any(k.startswith("update/") for k in metrics[-1])  # no learner with scripted rollouts
    assert (run / "samples" / "step_000002.jsonl").is_file()
    assert load_config(run / "config.yaml") == scripted("trainer.steps=2")
    assert result.first["step"] == 1 and result.last["step"] == 2


def test_fresh_run_refuses_an_existing_run_dir(tmp_path: Path) -> None:
    train(scripted("trainer.steps=1"), tmp_path / "r", console=QUIET)
    with pytest.raises(TrainError, match="--resume"):
        train(scripted("trainer.steps=1"), tmp_path / "r", console=QUIET)
    with pytest.raises(TrainError, match="nothing to resume"):
        train(scripted("trainer.steps=1"), tmp_path / "missing", resume=True, console=QUIET)


@pytest.mark.parametrize("backend", ["scripted", "hf", "hf-lora"])
def test_resume_reproduces_the_next_step(tmp_path: Path, backend: str) -> None:
    small = ["selfplay.batch_size=1", "rollout.max_new_tokens=12"] if backend != "scripted" else []  # CPU time
    if backend == "hf-lora":  # the CPU presets' default: LoRA adapter, bf16 base weights
        backend, small = "hf", [*small, "model.lora=true", "model.dtype=bf16", "model.lora_r=4"]
    c2 = cfg(f"rollout.backend={backend}", "trainer.steps=2", *small)
    c1 = cfg(f"rollout.backend={backend}", "trainer.steps=1", *small)
    train(c2, tmp_path / "straight", console=QUIET)
    train(c1, tmp_path / "resumed", console=QUIET)
    train(c2, tmp_path / "resumed", resume=True, console=QUIET)
    a, b = tmp_path / "straight", tmp_path / "resumed"
    assert rows(a) == rows(b) and len(rows(b)) == 2
    assert buffers(a) == buffers(b)
    assert (a / "samples" / "step_000002.jsonl").read_text() == (b / "samples" / "step_000002.jsonl").read_text()
    if backend == "hf" and c2.model.lora:
        from safetensors.torch import load_file

        model_dir = a / "checkpoints" / "step_000002" / "model"
        assert not (model_dir / "model.safetensors").exists()  # only the adapter is saved
        wa = load_file(model_dir / "adapter_model.safetensors")
        wb = load_file(b / "checkpoints" / "step_000002" / "model" / "adapter_model.safetensors")
        assert wa and all("lora_" in k and torch.equal(wa[k], wb[k]) for k in wa)
        assert any(k.endswith("lora_B.weight") and wa[k].abs().sum() > 0 for k in wa)  # the adapter trained
        opt = torch.load(b / "checkpoints" / "step_000002" / "optimizer.pt", weights_only=False)
        assert all(m is None for m in opt["masters"])  # fp32 adapter: no master copies, none of frozen weights
    elif backend == "hf":
        assert "update/grad_norm" in rows(b)[-1]
        from safetensors.torch import load_file

        from azr.models import tiny_random

        wa = load_file(a / "checkpoints" / "step_000002" / "model" / "model.safetensors")
        wb = load_file(b / "checkpoints" / "step_000002" / "model" / "model.safetensors")
        assert all(torch.equal(wa[k], wb[k]) for k in wa)
        # and the updates moved every weight away from the initial tiny model
        initial = dict(tiny_random()[0].named_parameters())
        assert all(not torch.equal(wa[k], initial[k].detach()) for k in wa if k in initial)


def test_kill_during_checkpoint_write_keeps_the_previous_one(tmp_path: Path, monkeypatch) -> None:
    run = tmp_path / "r"
    train(scripted("trainer.steps=1"), run, console=QUIET)

    def killed(*a, **k):
        raise KeyboardInterrupt("killed while writing the checkpoint")

    monkeypatch.setattr(ck, "save_config", killed)
    with pytest.raises(KeyboardInterrupt):
        train(scripted("trainer.steps=2"), run, resume=True, console=QUIET)
    monkeypatch.undo()
    assert ck.latest_checkpoint(run).name == "step_000001"
    assert ck.load_checkpoint(ck.latest_checkpoint(run)).step == 1
    # step 2's metrics line was written before the failed checkpoint; resuming drops it and redoes the step
    train(scripted("trainer.steps=2"), run, resume=True, console=QUIET)
    train(scripted("trainer.steps=2"), tmp_path / "straight", console=QUIET)
    assert rows(run) == rows(tmp_path / "straight")


def test_oversight_stop_checkpoints_and_halts(tmp_path: Path, monkeypatch) -> None:
    from azr.oversight import Flag, Monitor

    def scan(self, text, *, step, task_type, role, rejection=None):
        return [Flag(step, str(task_type), str(role), "test-rule", "v0", "high", text[:20])] if step == 2 else []

    monkeypatch.setattr(Monitor, "scan", scan)
    result = train(scripted("trainer.steps=4", "oversight.high=stop"), tmp_path / "r", console=QUIET)
    assert result.stopped and result.step == 2
    assert ck.latest_checkpoint(tmp_path / "r").name == "step_000002"
    assert "oversight stopped the run" in result.message
    flags = list(read_jsonl(tmp_path / "r" / "oversight.jsonl"))
    assert flags and all(f["step"] == 2 and f["rule"] == "test-rule" for f in flags)


def test_command_line(tmp_path: Path, capsys) -> None:
    from azr.cli import main

    # invalid values fail before anything loads: one line, exit 2
    assert main(["train", "--config", "debug", "--out", str(tmp_path / "x"), "selfplay.batch_size=0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "selfplay.batch_size" in err[0]
    assert not (tmp_path / "x").exists()
    assert (
        main(
            ["train", "--config", "debug", "--out", str(tmp_path / "r"), "rollout.backend=scripted", "trainer.steps=1"]
        )
        == 0
    )
    assert main(["train", "--resume", str(tmp_path / "r"), "trainer.steps=2"]) == 0
    assert [r["step"] for r in read_jsonl(tmp_path / "r" / "metrics.jsonl")] == [1, 2]
    saved = json.loads(json.dumps(load_config(tmp_path / "r" / "config.yaml").to_dict()))
    assert saved["trainer"]["steps"] == 2 and saved["rollout"]["backend"] == "scripted"
    assert main(["train", "--resume", str(tmp_path / "r"), "--config", "debug"]) == 2


def test_periodic_eval_is_logged(tmp_path: Path, monkeypatch) -> None:
    import azr.eval

    calls = []

    def periodic(rollout, render, executor, benchmarks, limit, data_dir, *, cfg=None):
        calls.append((tuple(benchmarks), limit))
        return {"eval/cruxeval-o/score": 12.5}

    monkeypatch.setattr(azr.eval, "periodic", periodic)
    train(scripted("trainer.steps=2", "trainer.eval_every=2", "trainer.eval_limit=3"), tmp_path / "r", console=QUIET)
    metrics = list(read_jsonl(tmp_path / "r" / "metrics.jsonl"))
    assert "eval/cruxeval-o/score" not in metrics[0] and metrics[1]["eval/cruxeval-o/score"] == 12.5
    assert calls == [(("cruxeval-o", "cruxeval-i"), 3)]
    assert json.loads((tmp_path / "r" / "eval" / "step_000002.json").read_text())["eval/cruxeval-o/score"] == 12.5


def test_tensorboard_writer(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    train(scripted("trainer.steps=1", "trainer.tensorboard=true"), tmp_path / "r", console=QUIET)
    assert list((tmp_path / "r" / "tensorboard").glob("events.out.tfevents.*"))
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tags = set(EventAccumulator(str(tmp_path / "r" / "tensorboard")).Reload().Tags()["scalars"])
    # a dead learning signal is visible there too
    assert {"adv/degenerate_groups", "deduction/solve/adv_zero_frac", "induction/propose/adv_abs_mean"} <= tags


def test_oversight_counts_are_logged_every_step(tmp_path: Path) -> None:
    train(scripted("trainer.steps=2"), tmp_path / "r", console=QUIET)
    for row in rows(tmp_path / "r"):
        assert row["oversight/flags"] == row["oversight/low"] + row["oversight/medium"] + row["oversight/high"]


def test_model_driven_seeding_grows_the_buffers_before_step_one(tmp_path: Path) -> None:
    train(scripted("trainer.steps=1", "selfplay.seed_size=6", "selfplay.batch_size=2"), tmp_path / "r", console=QUIET)
    seeded = {t: [b for b in bs if b.get("source") == "seeding"] for t, bs in buffers(tmp_path / "r").items()}
    for t in ("deduction", "abduction"):
        assert len(seeded[f"{t}.jsonl"]) >= 5, t  # the identity triplet + seeding until the buffer holds 6 tasks
        assert all(b["step"] == 0 for b in seeded[f"{t}.jsonl"])


def test_seeding_stops_after_seed_rounds_even_when_short(tmp_path: Path) -> None:
    over = ("trainer.steps=1", "selfplay.seed_size=1000", "selfplay.seed_rounds=1", "selfplay.batch_size=2")
    train(scripted(*over), tmp_path / "r", console=QUIET)
    seeded = [b for b in buffers(tmp_path / "r")["deduction.jsonl"] if b.get("source") == "seeding"]
    assert 0 < len(seeded) <= 4  # one round of B=2 proposals per proposing type (deduction and abduction)


def test_progress_is_printed_as_lines_when_stderr_is_not_a_terminal(tmp_path: Path, capsys) -> None:
    """Under nohup or a pipe a live bar prints nothing until the end: seeding and steps print lines with an ETA."""
    train(scripted("trainer.steps=3", "selfplay.seed_size=4", "selfplay.batch_size=2"), tmp_path / "r", console=QUIET)
    err = capsys.readouterr().err.splitlines()
    steps = [ln for ln in err if ln.startswith("steps: ")]
    assert [ln.split()[1] for ln in steps] == ["0/3", "1/3", "2/3", "3/3"]
    assert "eta" in steps[1] and "eta" in steps[2] and "eta" not in steps[-1]
    assert "/step" in steps[1] or "steps/s" in steps[1]
    seeding = [ln for ln in err if ln.startswith("seeding: ")]
    assert seeding and seeding[0].startswith("seeding: 3/12") and seeding[-1].startswith("seeding: 12/12")


def test_progress_display_does_not_change_what_is_generated(tmp_path: Path, monkeypatch) -> None:
    """The bar follows the backend's callback: one backend call per phase, with or without a terminal, and the
    same metrics either way (a wrapper that re-chunked calls changed both)."""
    from azr.rollout.scripted import ScriptedBackend

    calls: list[int] = []
    real = ScriptedBackend.generate

    def counted(self, prompts, params, n=1):
        calls.append(len(prompts))
        return real(self, prompts, params, n)

    monkeypatch.setattr(ScriptedBackend, "generate", counted)
    c = scripted("trainer.steps=2", "selfplay.batch_size=4", "rollout.micro_batch_size=2")
    train(c, tmp_path / "lines", console=QUIET)
    assert len(calls) == 6  # proposals, Monte-Carlo tries, solver prompts; per step
    tty = Console(file=open("/dev/null", "w"), force_terminal=True, width=120)  # noqa: SIM115
    train(c, tmp_path / "bars", console=tty)
    assert len(calls) == 12
    assert rows(tmp_path / "lines") == rows(tmp_path / "bars")
