"""Per-task-type buffers: seeding, reference sampling, solver batches, de-duplication, cap, persistence.

Decisions (docs/environment.md):
- Initial content: the identity "zero triplet" (`f(a) = a` on `"Hello world"`) in the deduction and abduction
  buffers, and the identity induction task with 6 inputs in the induction buffer (paper Fig. 5). Seed files are
  loaded by `azr.seeds.load_seed_files` (validated, then added like any task).
- De-duplication: a task whose identity (`azr.tasks.identity.task_key`: normalised program and inputs) is
  already buffered is not added again (the official code never de-duplicates).
- Cap [BUG fixed]: the official cap keeps the *first* 16384 tasks and silently drops new ones. Here, when a
  buffer exceeds `selfplay.buffer_cap`, the oldest non-seed tasks (insertion order, never the ones being added)
  are evicted. Seeds and the zero tasks are never evicted, so a cap smaller than the seeds plus one step's
  proposals is exceeded rather than dropping new tasks.
- Persistence: every add and evict is appended to `RUN_DIR/buffers/<type>.jsonl` (`Task.to_json()` + `event`,
  `seq`). Reopening replays the log exactly; `upto_step` drops events of steps after the resumed checkpoint and
  rewrites the log atomically, so a step that was in progress when the process died leaves no trace.
- Solver batches [DIFF]: `same_step` (paper, default) solves this step's valid proposals, filled uniformly from
  the buffer when short; `previous_step` (official code) solves tasks added at the previous step, filled the same
  way. When the buffer has fewer than B tasks (the first steps), tasks repeat so the batch still has B.

This module does not validate tasks (see `validate`) and does not read task files (see `azr.seeds`).
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Collection, Hashable, Sequence
from pathlib import Path
from typing import Any

from azr.config import Config, SelfPlayConfig
from azr.io import append_jsonl, atomic_write_text, read_jsonl
from azr.tasks.identity import normalize_program, task_key
from azr.tasks.spec import spec
from azr.tasks.types import Task, TaskType

ZERO_PROGRAM = "def f(a):\n    return a"
ZERO_INDUCTION_INPUTS = (
    '"Hello world"',
    "1",
    "dict(a=1, b=2)",
    "(1.1, 1.2, 1.3)",
    '"[[1, 0, 0], [0, 0, 0], [0, 0, 0]]"',
    "1001101100010001",
)
ZERO_INDUCTION_OUTPUTS = (
    "'Hello world'",
    "1",
    "{'a': 1, 'b': 2}",
    "(1.1, 1.2, 1.3)",
    "'[[1, 0, 0], [0, 0, 0], [0, 0, 0]]'",
    "1001101100010001",
)


def zero_tasks() -> list[Task]:
    """The identity tasks every run starts from (paper Fig. 5)."""
    triplet = Task(TaskType.DEDUCTION, ZERO_PROGRAM, ('"Hello world"',), ("'Hello world'",), source="zero")
    return [
        triplet,
        triplet.with_type(TaskType.ABDUCTION),
        Task(
            type=TaskType.INDUCTION,
            program=ZERO_PROGRAM,
            inputs=ZERO_INDUCTION_INPUTS,
            outputs=ZERO_INDUCTION_OUTPUTS,
            message="Write a function that returns its input unchanged.",
            source="zero",
        ),
    ]


def is_seed(task: Task) -> bool:
    return task.source == "zero" or task.source.startswith("seed")


class TaskBuffers:
    """The three buffers. `cfg` is the run `Config` (or its `selfplay` section)."""

    def __init__(
        self,
        run_dir: str | Path | None,
        cfg: Config | SelfPlayConfig,
        upto_step: int | None = None,
        exclude: Collection[str] = (),
    ):
        """`exclude`: normalised programs (`normalize_program`) that must never enter a buffer, e.g. the held-out
        evaluation tasks (`azr.eval.heldout`): `add` refuses them and `contains` reports them as present, so a
        proposal reproducing one is rejected as a duplicate. Reopening a run whose logs hold one is an error."""
        self.cfg: SelfPlayConfig = cfg.selfplay if isinstance(cfg, Config) else cfg
        self.exclude = frozenset(exclude)
        self.refused = 0
        """Tasks `add` refused because their program is excluded."""
        self.dir = Path(run_dir) / "buffers" if run_dir is not None else None
        self._tasks: dict[TaskType, dict[int, Task]] = {t: {} for t in TaskType}
        self._keys: dict[TaskType, dict[Hashable, int]] = {t: {} for t in TaskType}
        self._next_seq: dict[TaskType, int] = {t: 0 for t in TaskType}
        self.resumed = self.dir is not None and any((self.dir / f"{t.value}.jsonl").exists() for t in TaskType)
        if self.resumed:
            for t in TaskType:
                self._replay(t, upto_step)
            leaked = [t for buf in self._tasks.values() for t in buf.values() if self._excluded(t)]
            if leaked:
                raise ValueError(
                    f"{self.dir} holds {len(leaked)} task(s) that are now held out (first: {leaked[0].program[:40]!r}); "
                    "the held-out set changed since the run started: keep its trainer.heldout_* settings"
                )
        else:
            self.add(zero_tasks())

    # ---- queries -------------------------------------------------------------------------------------------

    def tasks(self, task_type: TaskType) -> list[Task]:
        """Buffered tasks in insertion order."""
        return list(self._tasks[TaskType(task_type)].values())

    def size(self, task_type: TaskType) -> int:
        return len(self._tasks[TaskType(task_type)])

    def sizes(self) -> dict[str, int]:
        return {t.value: len(v) for t, v in self._tasks.items()}

    def contains(self, task: Task) -> bool:
        return task_key(task) in self._keys[task.type] or self._excluded(task)

    def _excluded(self, task: Task) -> bool:
        return bool(self.exclude) and normalize_program(task.program) in self.exclude

    # ---- sampling ------------------------------------------------------------------------------------------

    def sample_references(self, task_type: TaskType, k: int, rng: random.Random) -> list[Task]:
        """K references for a proposer prompt, without replacement within the prompt, from the type's reference
        buffers (induction: the union of deduction and abduction). `uniform` (paper) or `recency` weights
        step + 1 (paper D.3)."""
        sp = spec(task_type)
        pool = [t for rt in sp.reference_types for t in self._tasks[rt].values()]
        k = min(sp.references(k), len(pool))
        if k <= 0:
            return []
        if self.cfg.reference_sampling == "uniform":
            return rng.sample(pool, k)
        # Weighted sampling without replacement (Efraimidis-Spirakis keys u^(1/w)).
        keyed = sorted(pool, key=lambda t: rng.random() ** (1.0 / (t.step + 1)), reverse=True)
        return keyed[:k]

    def solver_batch(
        self, task_type: TaskType, new: Sequence[Task], b: int, rng: random.Random, step: int | None = None
    ) -> list[Task]:
        """B solver tasks for this step. `new` are this step's valid proposals of the type; `step` is the current
        step (needed by the `previous_step` rule)."""
        task_type = TaskType(task_type)
        if self.cfg.solver_batch == "previous_step":
            if step is None:
                raise ValueError("solver_batch=previous_step needs the current step")
            candidates = [t for t in self._tasks[task_type].values() if t.step == step - 1]
        else:
            candidates = [t for t in new if t.type is task_type]
        if len(candidates) >= b:
            return rng.sample(candidates, b)
        chosen = {id(t) for t in candidates}
        rest = [t for t in self._tasks[task_type].values() if id(t) not in chosen]
        if step is not None:  # the fill comes from the buffer as it was before this step's additions
            rest = [t for t in rest if t.step < step]
        batch = list(candidates) + rng.sample(rest, min(b - len(candidates), len(rest)))
        pool = batch or rest or self.tasks(task_type)
        while len(batch) < b and pool:
            batch.append(rng.choice(pool))
        return batch

    # ---- growth --------------------------------------------------------------------------------------------

    def add(self, tasks: Sequence[Task]) -> list[Task]:
        """Add tasks (skipping duplicates), evict over the cap, and log both. Returns the tasks actually added."""
        added: dict[TaskType, list[tuple[int, Task]]] = {t: [] for t in TaskType}
        for task in tasks:
            key = task_key(task)
            if key in self._keys[task.type]:
                continue
            if self._excluded(task):
                self.refused += 1
                continue
            seq = self._insert(task, key)
            added[task.type].append((seq, task))
        for t, items in added.items():
            if not items:
                continue
            records: list[dict[str, Any]] = [{**task.to_json(), "event": "add", "seq": seq} for seq, task in items]
            step = max(task.step for _, task in items)
            for seq in self._evictions(t, protected={seq for seq, _ in items}):
                self._remove(t, seq)
                records.append({"event": "evict", "seq": seq, "step": step, "type": t.value})
            if self.dir is not None:
                append_jsonl(self.dir / f"{t.value}.jsonl", records)
        return [task for items in added.values() for _, task in items]

    def snapshot(self) -> dict[str, Any]:
        """The in-memory content (tasks, de-duplication keys, sequence numbers): picklable, for other ranks."""
        return {"tasks": self._tasks, "keys": self._keys, "next_seq": self._next_seq}

    def restore(self, snapshot: dict[str, Any]) -> None:
        """Adopt another instance's `snapshot` (a data-parallel rank taking rank 0's replayed buffers). Nothing is
        logged: the instance that persists (rank 0's) already holds these tasks."""
        snap = copy.deepcopy(snapshot)
        self._tasks, self._keys, self._next_seq = snap["tasks"], snap["keys"], snap["next_seq"]

    # ---- internals -----------------------------------------------------------------------------------------

    def _insert(self, task: Task, key: Hashable, seq: int | None = None) -> int:
        if seq is None:
            seq = self._next_seq[task.type]
        self._next_seq[task.type] = max(self._next_seq[task.type], seq + 1)
        self._tasks[task.type][seq] = task
        self._keys[task.type][key] = seq
        return seq

    def _remove(self, task_type: TaskType, seq: int) -> None:
        task = self._tasks[task_type].pop(seq)
        self._keys[task_type].pop(task_key(task), None)

    def _evictions(self, task_type: TaskType, protected: set[int]) -> list[int]:
        over = len(self._tasks[task_type]) - self.cfg.buffer_cap
        if over <= 0:
            return []
        old = [seq for seq, t in self._tasks[task_type].items() if seq not in protected and not is_seed(t)]
        return old[:over]

    def _replay(self, task_type: TaskType, upto_step: int | None) -> None:
        path = self.dir / f"{task_type.value}.jsonl"  # type: ignore[operator]
        kept: list[dict[str, Any]] = []
        dropped = False
        for rec in read_jsonl(path):
            if upto_step is not None and int(rec.get("step", 0)) > upto_step:
                dropped = True
                continue
            kept.append(rec)
            if rec.get("event") == "evict":
                if rec["seq"] in self._tasks[task_type]:
                    self._remove(task_type, rec["seq"])
            else:
                task = Task.from_json(rec)
                self._insert(task, task_key(task), seq=int(rec["seq"]))
        if dropped:
            text = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in kept)
            atomic_write_text(path, text)
