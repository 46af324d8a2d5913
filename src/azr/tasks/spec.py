"""The one table where the three task types differ.

Prompts, parsers, validation, verification and the buffers loop over task types and look up what differs here:
which buffer a proposer's references come from, what a proposer writes, what the solver sees, and which fenced
block holds the solver's answer. Nothing in this module runs code or builds text.
"""

from __future__ import annotations

from dataclasses import dataclass

from azr.tasks.types import Role, TaskType


@dataclass(frozen=True)
class TaskSpec:
    type: TaskType
    title: str
    """Paper name, used in prompt headings (`Propose a deduction task`)."""
    proposer_writes_program: bool
    """Deduction/abduction proposers write a program and one input; the induction proposer is *given* a program
    and writes N inputs plus a message."""
    reference_types: tuple[TaskType, ...]
    """Buffers the proposer's references are drawn from (induction: one program from the union of the deduction
    and abduction buffers, as in the paper and the official code)."""
    answer_fence: str
    """Fence tag of the solver's answer: the output, an input, or a program."""
    solver_sees: str
    """What the solver prompt shows besides the task text: `program+input`, `program+output` or `pairs+message`."""
    propose_skeleton: str
    """Opening of the proposer's answer block, prefilled when `rollout.prefill_answer` is on."""
    solve_skeleton: str
    """Opening of the solver's answer block, prefilled when `rollout.prefill_answer` is on."""

    def references(self, k: int) -> int:
        """How many references a proposer prompt shows (K for deduction/abduction, always 1 program for induction)."""
        return k if self.proposer_writes_program else 1

    def skeleton(self, role: Role) -> str:
        return self.propose_skeleton if role is Role.PROPOSE else self.solve_skeleton


SPECS: dict[TaskType, TaskSpec] = {
    TaskType.DEDUCTION: TaskSpec(
        type=TaskType.DEDUCTION,
        title="deduction",
        proposer_writes_program=True,
        reference_types=(TaskType.DEDUCTION,),
        answer_fence="output",
        solver_sees="program+input",
        propose_skeleton="```python\ndef f(",
        solve_skeleton="```output\n",
    ),
    TaskType.ABDUCTION: TaskSpec(
        type=TaskType.ABDUCTION,
        title="abduction",
        proposer_writes_program=True,
        reference_types=(TaskType.ABDUCTION,),
        answer_fence="input",
        solver_sees="program+output",
        propose_skeleton="```python\ndef f(",
        solve_skeleton="```input\n",
    ),
    TaskType.INDUCTION: TaskSpec(
        type=TaskType.INDUCTION,
        title="induction",
        proposer_writes_program=False,
        reference_types=(TaskType.DEDUCTION, TaskType.ABDUCTION),
        answer_fence="python",
        solver_sees="pairs+message",
        propose_skeleton="```input\n",
        solve_skeleton="```python\ndef f(",
    ),
}


def spec(task_type: TaskType) -> TaskSpec:
    return SPECS[TaskType(task_type)]


def split_visible(task_inputs: tuple[str, ...]) -> tuple[int, int]:
    """Induction: the first half of the pairs is shown to the solver, the second half is hidden (paper §3.2;
    the 6-input identity task splits 3/3). Returns (visible_count, hidden_count)."""
    visible = len(task_inputs) // 2
    return visible, len(task_inputs) - visible
