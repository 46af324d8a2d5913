"""Buffers: zero tasks, sampling, de-duplication, the cap, solver batches, persistence and exact resume."""

from __future__ import annotations

import json
import random
from collections import Counter

from envhelpers import small_cfg

from azr.buffer import TaskBuffers, zero_tasks
from azr.tasks.identity import task_key
from azr.tasks.types import Task, TaskType

D, A, IND = TaskType.DEDUCTION, TaskType.ABDUCTION, TaskType.INDUCTION


def prog(i: int, step: int = 1, t: TaskType = D) -> Task:
    return Task(t, f"def f(a):\n    return a + {i}", ("1",), (str(1 + i),), step=step)


def test_starts_with_the_zero_tasks():
    b = TaskBuffers(None, small_cfg())
    assert b.sizes() == {"deduction": 1, "abduction": 1, "induction": 1}
    (ind,) = b.tasks(IND)
    assert len(ind.inputs) == 6 and ind.inputs == ind.inputs and b.tasks(D)[0].input == '"Hello world"'


def test_references_without_replacement_within_a_prompt():
    b = TaskBuffers(None, small_cfg())
    b.add([prog(i) for i in range(10)])
    rng = random.Random(0)
    for _ in range(50):
        refs = b.sample_references(D, 6, rng)
        assert len(refs) == 6 and len({task_key(t) for t in refs}) == 6
    assert len(b.sample_references(D, 100, rng)) == 11  # capped at the buffer size
    assert b.sample_references(D, 0, rng) == []
    ind_refs = b.sample_references(IND, 6, rng)  # induction: one program from deduction + abduction
    assert len(ind_refs) == 1 and ind_refs[0].type in (D, A)


def test_recency_sampling_prefers_recent_tasks():
    b = TaskBuffers(None, small_cfg("selfplay.reference_sampling=recency"))
    b.add([prog(i, step=0 if i < 5 else 50) for i in range(10)])
    rng = random.Random(1)
    picks = Counter(t.step for _ in range(300) for t in b.sample_references(D, 1, rng))
    assert picks[50] > 5 * picks[0]


def test_deduplicates_by_normalised_program_and_input():
    b = TaskBuffers(None, small_cfg())
    same = Task(D, "def f(a):   # comment\n    return (a)", ("'Hello world'",), ("'Hello world'",))
    assert b.add([same]) == [] and b.size(D) == 1


def test_cap_evicts_oldest_non_seed_and_never_drops_new(tmp_path):
    b = TaskBuffers(tmp_path, small_cfg("selfplay.buffer_cap=4"))
    b.add([prog(i, step=1) for i in range(3)])  # zero + 3 = 4
    added = b.add([prog(10, step=2), prog(11, step=2)])
    assert len(added) == 2
    programs = [t.program for t in b.tasks(D)]
    assert programs[0] == zero_tasks()[0].program  # the zero triplet is never evicted
    assert programs[1:] == [prog(i).program for i in (2, 10, 11)]
    log = [json.loads(x) for x in (tmp_path / "buffers" / "deduction.jsonl").read_text().splitlines()]
    assert [r["event"] for r in log].count("evict") == 2


def test_reload_is_exact_including_evictions(tmp_path):
    cfg = small_cfg("selfplay.buffer_cap=5")
    b = TaskBuffers(tmp_path, cfg)
    for s in range(1, 5):
        b.add([prog(10 * s + i, step=s) for i in range(2)] + [prog(10 * s, step=s, t=A)])
    again = TaskBuffers(tmp_path, cfg)
    assert again.resumed
    for t in TaskType:
        assert again.tasks(t) == b.tasks(t)
    again.add([prog(99, step=5)])
    assert TaskBuffers(tmp_path, cfg).tasks(D) == again.tasks(D)


def test_resume_drops_steps_after_the_checkpoint(tmp_path):
    cfg = small_cfg()
    b = TaskBuffers(tmp_path, cfg)
    b.add([prog(1, step=1)])
    snapshot = b.tasks(D)
    b.add([prog(2, step=2)])  # the step that was in progress when the process died
    resumed = TaskBuffers(tmp_path, cfg, upto_step=1)
    assert resumed.tasks(D) == snapshot
    resumed.add([prog(3, step=2)])
    assert [t.program for t in TaskBuffers(tmp_path, cfg).tasks(D)] == [t.program for t in snapshot] + [prog(3).program]


def test_solver_batch_same_step_fills_from_the_buffer():
    b = TaskBuffers(None, small_cfg())
    b.add([prog(i, step=1) for i in range(5)])
    new = [prog(100 + i, step=2) for i in range(2)]
    b.add(new)
    rng = random.Random(0)
    batch = b.solver_batch(D, new, 4, rng, step=2)
    assert batch[:2] == new and len(batch) == 4 and all(t.step < 2 for t in batch[2:])
    many = [prog(200 + i, step=2) for i in range(10)]
    assert set(map(task_key, b.solver_batch(D, many, 4, rng, step=2))) <= set(map(task_key, many))


def test_solver_batch_previous_step_rule():
    b = TaskBuffers(None, small_cfg("selfplay.solver_batch=previous_step"))
    b.add([prog(i, step=1) for i in range(3)] + [prog(10 + i, step=2) for i in range(3)])
    batch = b.solver_batch(D, [], 3, random.Random(0), step=3)
    assert sorted(t.program for t in batch) == sorted(prog(10 + i).program for i in range(3))
    first = b.solver_batch(D, [], 2, random.Random(0), step=1)  # step 1 solves the seeds (step 0)
    assert first[0].source == "zero"


def test_tiny_buffer_repeats_tasks_to_fill_the_batch():
    b = TaskBuffers(None, small_cfg())
    assert len(b.solver_batch(D, [], 3, random.Random(0), step=1)) == 3
