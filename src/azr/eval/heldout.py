"""Held-out in-distribution tasks: AZR seed programs that training never sees, solved with the training prompts.

Selection (deterministic, and a smaller size is a prefix of a larger one): the records of the deduction/abduction
seed file and of the induction seed file (`trainer.heldout_files`, under the data dir) are shuffled with a fixed
seed, validated through the executor in that order (outputs recomputed, as for any seed), and taken while valid:
repeated programs and the zero triplet's identity program (every buffer starts with it) are skipped. Valid
deduction/abduction records alternate between the two sets (1st, 3rd, ... -> deduction; 2nd, 4th, ... ->
abduction), so the sets never share a program. Induction tasks keep their first `selfplay.induction_inputs`
inputs, the format training uses (half shown, half hidden).

Exclusion: `HeldOut.programs` (normalised program texts) go to `TaskBuffers(exclude=...)`, which refuses them from
every source (proposals, model-driven seeding, seed files) and reports them as already present, so a proposal
that reproduces one is rejected as a duplicate: it is never solved, rewarded, trained on or shown as a reference.

Evaluation: the training solver prompt of each task (`azr.tasks.prompts.solver_messages`, same
`rollout.prefill_answer`), greedy unless a temperature is given, the training parser and verifier. One record per
item, appended per batch, so an interrupted evaluation resumes. This module does not train or load models.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from azr.buffer import ZERO_PROGRAM
from azr.config import Config
from azr.io import append_jsonl, read_jsonl
from azr.rollout.base import SamplingParams
from azr.tasks.identity import normalize_program
from azr.tasks.types import Task, TaskType

HELDOUT_SEED = 20250506
"""Shuffle seed of the held-out selection (fixed: every run holds out the same tasks)."""
TYPES = (TaskType.DEDUCTION, TaskType.ABDUCTION, TaskType.INDUCTION)
_CHUNK = 32  # records validated per executor batch while selecting


class HeldOutError(ValueError):
    """The held-out set cannot be built (missing file, not enough valid tasks); the message is one line."""


@dataclass(frozen=True)
class HeldOutItem:
    id: str
    """`<type>:<file>:<line>`, stable across runs."""
    task: Task


@dataclass(frozen=True)
class HeldOut:
    items: dict[TaskType, list[HeldOutItem]]
    sources: dict[str, str]
    """File name -> `sha256:<hex>` of the seed files the tasks came from."""

    @property
    def programs(self) -> frozenset[str]:
        """Normalised programs of every held-out task: what the buffers must refuse."""
        return frozenset(normalize_program(it.task.program) for items in self.items.values() for it in items)

    def sizes(self) -> dict[str, int]:
        return {t.value: len(v) for t, v in self.items.items()}


def resolve_file(name: str, data_dir: Path | None) -> Path:
    path = Path(name).expanduser()
    if not path.is_absolute():
        if data_dir is None:
            raise HeldOutError(f"held-out seed file {name}: no data dir (set AZR_DATA_DIR or trainer.data_dir)")
        path = data_dir / name
    if not path.is_file():
        raise HeldOutError(f"held-out seed file {path} not found (set AZR_DATA_DIR or trainer.data_dir)")
    return path


def load_heldout(cfg: Config, executor: Any, data_dir: Path | None, size: int | None = None) -> HeldOut:
    """The held-out set of `size` (default `trainer.heldout_size`) tasks per type; see the module docstring."""
    from azr.eval.benchmarks import file_sha256
    from azr.tasks.records import TaskFileError, read_task_file

    size = cfg.trainer.heldout_size if size is None else size
    if size <= 0:
        raise HeldOutError("the held-out size must be > 0")
    io_name, ind_name = cfg.trainer.heldout_files
    out: dict[TaskType, list[HeldOutItem]] = {t: [] for t in TYPES}
    sources: dict[str, str] = {}
    for name, wanted in ((io_name, (TaskType.DEDUCTION, TaskType.ABDUCTION)), (ind_name, (TaskType.INDUCTION,))):
        path = resolve_file(name, data_dir)
        try:
            records = read_task_file(path)
        except TaskFileError as e:
            raise HeldOutError(str(e)) from None
        sources[path.name] = f"sha256:{file_sha256(path)}"
        kind = TaskType.INDUCTION if wanted == (TaskType.INDUCTION,) else TaskType.DEDUCTION
        if any(r.task.type is not kind for r in records):
            raise HeldOutError(f"{path.name} holds no {kind.value} seed records (expected an AZR *_seed_io file)")
        chosen = _select(records, executor, cfg, size, len(wanted), path.name)
        for i, (line, task) in enumerate(chosen):
            t = wanted[i % len(wanted)]
            out[t].append(HeldOutItem(f"{t.value}:{path.name}:{line}", task.with_type(t)))
    return HeldOut(out, sources)


def _select(
    records: Sequence[Any], executor: Any, cfg: Config, size: int, sets: int, name: str
) -> list[tuple[int, Task]]:
    """The first `size * sets` valid, distinct, non-identity records in the fixed shuffled order, as (line, task)."""
    from azr.validate import validate_tasks

    order = list(records)
    random.Random(HELDOUT_SEED).shuffle(order)
    n_inputs = cfg.selfplay.induction_inputs
    n = size * sets
    seen = {normalize_program(ZERO_PROGRAM)}
    chosen: list[tuple[int, Task]] = []
    for start in range(0, len(order), _CHUNK):
        batch = []
        for rec in order[start : start + _CHUNK]:
            task = rec.task
            if task.type is TaskType.INDUCTION:
                if len(task.inputs) < n_inputs:
                    continue
                task = replace(task, inputs=task.inputs[:n_inputs], outputs=task.outputs[:n_inputs])
            batch.append((rec.line, task))
        for (line, _), v in zip(batch, validate_tasks([t for _, t in batch], executor, None, 0, cfg)):
            if v.task is None or normalize_program(v.task.program) in seen:
                continue
            seen.add(normalize_program(v.task.program))
            chosen.append((line, replace(v.task, source=f"heldout:{name}")))
            if len(chosen) == n:
                return chosen
    raise HeldOutError(
        f"held-out size {size} per task type is larger than {name} provides ({len(chosen)} valid distinct tasks "
        f"for {sets} set(s) of {size}); lower trainer.heldout_size"
    )


# ---------------------------------------------------------------------------------------------------------------
# evaluation


def evaluate_heldout(
    heldout: HeldOut,
    backend: Any,
    render: Callable[[list[dict[str, str]]], str],
    executor: Any,
    cfg: Config,
    *,
    max_new_tokens: int,
    temperature: float = 0.0,
    seed: int = 0,
    batch_size: int = 16,
    records_dir: Path | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Solve every held-out task once; returns `heldout-<type>` -> records (in item order) with `id`, `correct`,
    `reason`, `response`, `finish`. With `records_dir`, records already in `heldout-<type>.jsonl` are reused."""
    from azr.tasks import parse, prompts
    from azr.verify import verify_answers

    params = SamplingParams(
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        top_p=cfg.rollout.top_p if temperature > 0 else 1.0,
        suppress_eos=cfg.rollout.suppress_eos,
    )
    out: dict[str, list[dict[str, Any]]] = {}
    for t in TYPES:
        name = f"heldout-{t.value}"
        items = heldout.items[t]
        path = records_dir / f"{name}.jsonl" if records_dir is not None else None
        done = {r["id"]: r for r in read_jsonl(path)} if path is not None and path.is_file() else {}
        todo = [it for it in items if it.id not in done]
        for start in range(0, len(todo), batch_size):
            batch = todo[start : start + batch_size]
            messages = [prompts.solver_messages(it.task, cfg) for it in batch]
            # the seed depends on the item, not on the batch, so a resumed evaluation samples the same answers
            call = replace(
                params, seed=seed * 1_000_003 + items.index(batch[0]), stop_after=prompts.stop_after(messages[0])
            )
            comps = backend.generate([render(m) for m in messages], call, n=1)
            texts = [prompts.response_prefix(m) + c[0].text for m, c in zip(messages, comps)]
            answers = [parse.parse_answer(t, text) for text in texts]
            verdicts = verify_answers([it.task for it in batch], answers, executor)
            recs = [
                {
                    "id": it.id,
                    "correct": bool(v.correct),
                    "reason": v.reason,
                    "response": text,
                    "finish": c[0].finish_reason,
                }  # fmt: skip
                for it, v, text, c in zip(batch, verdicts, texts, comps)
            ]
            if path is not None:
                append_jsonl(path, recs)
            done.update({r["id"]: r for r in recs})
            if progress is not None:
                progress(name, len(items) - len(todo) + start + len(batch), len(items))
        out[name] = [done[it.id] for it in items]
    return out


def scores(records: dict[str, list[dict[str, Any]]]) -> dict[str, float]:
    """Percent correct per held-out benchmark."""
    return {name: 100.0 * sum(r["correct"] for r in recs) / len(recs) for name, recs in records.items() if recs}
