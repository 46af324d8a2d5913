"""Held-out evaluation tasks: a fixed, disjoint selection from the AZR seed files that no buffer ever takes in."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from envhelpers import data_path, small_cfg

from azr.buffer import ZERO_PROGRAM, TaskBuffers, normalize_program
from azr.eval.heldout import HeldOutError, evaluate_heldout, load_heldout, scores
from azr.rollout.base import Completion
from azr.seeds import load_seed_files
from azr.tasks.types import TaskType
from azr.validate import validate_tasks

DATA = data_path()


def heldout_cfg(size: int = 8, *overrides: str):
    return small_cfg(f"trainer.heldout_size={size}", f"trainer.data_dir={DATA}", *overrides)


@pytest.fixture(scope="module")
def held(executor):
    return load_heldout(heldout_cfg(8), executor, DATA)


def test_selection_is_fixed_disjoint_and_in_the_training_format(held, executor) -> None:
    assert held.sizes() == {"deduction": 8, "abduction": 8, "induction": 8}
    progs = {t: {normalize_program(it.task.program) for it in held.items[t]} for t in held.items}
    assert not progs[TaskType.DEDUCTION] & progs[TaskType.ABDUCTION]  # never the same program in two sets
    assert normalize_program(ZERO_PROGRAM) not in held.programs  # every buffer starts with the identity program
    assert all(it.task.type is t for t, items in held.items.items() for it in items)
    assert all(len(it.task.inputs) == small_cfg().selfplay.induction_inputs for it in held.items[TaskType.INDUCTION])
    assert len({it.id for items in held.items.values() for it in items}) == 24
    again = load_heldout(heldout_cfg(8), executor, DATA)
    assert [it.id for it in again.items[TaskType.ABDUCTION]] == [it.id for it in held.items[TaskType.ABDUCTION]]
    smaller = load_heldout(heldout_cfg(3), executor, DATA)
    for t in held.items:  # a smaller held-out set is a prefix of a larger one
        assert [it.id for it in smaller.items[t]] == [it.id for it in held.items[t][:3]]
    assert set(held.sources) == {"7b_coder_seed_io.jsonl", "7b_coder_code_f_seed_io.jsonl"}


def test_bad_input_is_one_line(executor, tmp_path: Path) -> None:
    with pytest.raises(HeldOutError, match="larger than 7b_coder_seed_io.jsonl provides") as e:
        load_heldout(heldout_cfg(500), executor, DATA)
    assert "\n" not in str(e.value)
    with pytest.raises(HeldOutError, match="not found"):
        load_heldout(heldout_cfg(4), executor, tmp_path)
    (tmp_path / "azr_seeds").mkdir()
    (tmp_path / "azr_seeds" / "7b_coder_seed_io.jsonl").write_text("{}\n")
    with pytest.raises(HeldOutError, match="not an AZR seed"):
        load_heldout(heldout_cfg(4), executor, tmp_path)


def test_buffers_refuse_heldout_tasks_from_every_source(held, executor, tmp_path: Path) -> None:
    cfg = heldout_cfg(8, f"selfplay.seed_files=[{DATA / 'azr_seeds' / '7b_coder_seed_io.jsonl'}]")
    buffers = TaskBuffers(tmp_path, cfg, exclude=held.programs)
    # seed files: the very file the held-out tasks come from loads everything else
    load_seed_files(buffers, list(cfg.selfplay.seed_files), executor, cfg)
    stored = {normalize_program(t.program) for tt in TaskType for t in buffers.tasks(tt)}
    assert not stored & held.programs and buffers.refused >= 16 and len(stored) > 100
    # proposals (and model-driven seeding, which goes through `add` too)
    task = held.items[TaskType.DEDUCTION][0].task
    assert buffers.add([task.with_type(TaskType.ABDUCTION), task]) == []
    assert buffers.contains(task.with_type(TaskType.INDUCTION))
    # a proposal that reproduces a held-out program is rejected (so it is never solved or trained on)
    (v,) = validate_tasks([task], executor, buffers.contains, 1, cfg)
    assert v.reason == "duplicate"
    # references and solver batches come from the buffers only
    import random

    rng = random.Random(0)
    for t in TaskType:
        refs = [r for _ in range(20) for r in buffers.sample_references(t, 4, rng)]
        batch = buffers.solver_batch(t, [], 16, rng, 1)
        assert not {normalize_program(x.program) for x in refs + batch} & held.programs


def test_a_run_whose_buffers_hold_a_now_heldout_task_refuses_to_resume(held, tmp_path: Path) -> None:
    buffers = TaskBuffers(tmp_path, small_cfg())
    buffers.add([held.items[TaskType.INDUCTION][0].task])
    with pytest.raises(ValueError, match="now held out"):
        TaskBuffers(tmp_path, small_cfg(), exclude=held.programs)


def test_training_never_sees_heldout_programs(tmp_path: Path) -> None:
    from rich.console import Console

    from azr.io import read_jsonl
    from azr.trainer import train

    seeds = DATA / "azr_seeds" / "7b_coder_seed_io.jsonl"
    cfg = heldout_cfg(8, "trainer.steps=1", f"selfplay.seed_files=[{seeds}]")
    train(cfg, tmp_path / "r", console=Console(file=open("/dev/null", "w")))  # noqa: SIM115
    from azr.executor import Executor

    with Executor(cfg.executor) as ex:
        programs = load_heldout(cfg, ex, DATA).programs
    seen = set()
    for p in (tmp_path / "r" / "buffers").glob("*.jsonl"):
        seen |= {normalize_program(r["program"]) for r in read_jsonl(p) if "program" in r}
    for line in (tmp_path / "r" / "samples").glob("*.jsonl"):
        for r in read_jsonl(line):
            if r.get("task"):
                seen.add(normalize_program(r["task"]["program"]))
    assert len(seen) > 100 and not seen & programs


class Answering:
    """A backend that answers every held-out solver prompt right, except the items in `wrong`."""

    def __init__(self, held, wrong: frozenset[str] = frozenset()) -> None:
        self.answers = []  # (a text only that task's prompt holds, the answer block)
        self.calls = 0
        for t, items in held.items.items():
            for it in items:
                task = it.task
                block = {TaskType.DEDUCTION: f"```output\n{task.output}\n```",
                         TaskType.ABDUCTION: f"```input\n{task.input}\n```",
                         TaskType.INDUCTION: f"```python\n{task.program}\n```"}[t]  # fmt: skip
                key = task.program if t is not TaskType.INDUCTION else task.message
                self.answers.append((key, "```output\nNone\n```" if it.id in wrong else block))

    def generate(self, prompts, params, n=1):
        self.calls += 1
        out = []
        for p in prompts:
            block = next(a for k, a in self.answers if k in p)
            out.append([Completion(p, f"ok\n</think>\n<answer>\n{block}\n</answer>", (1,), (2,), (0.0,))])
        return out


def test_evaluation_scores_and_resumes(held, executor, tmp_path: Path) -> None:
    cfg = heldout_cfg(8)
    wrong = {held.items[TaskType.ABDUCTION][0].id}
    render = lambda m: m[0]["content"] + m[-1]["content"]  # noqa: E731
    recs = evaluate_heldout(held, Answering(held, wrong), render, executor, cfg, max_new_tokens=8, batch_size=3,
                            records_dir=tmp_path)  # fmt: skip
    assert scores(recs) == {"heldout-deduction": 100.0, "heldout-abduction": 87.5, "heldout-induction": 100.0}
    assert [r["id"] for r in recs["heldout-induction"]] == [it.id for it in held.items[TaskType.INDUCTION]]
    lines = (tmp_path / "heldout-abduction.jsonl").read_text().splitlines()
    assert len(lines) == 8 and json.loads(lines[0])["correct"] is False
    again = Answering(held)
    assert evaluate_heldout(held, again, render, executor, cfg, max_new_tokens=8, records_dir=tmp_path) == recs
    assert again.calls == 0  # everything was already recorded
