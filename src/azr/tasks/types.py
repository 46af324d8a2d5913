"""The task record shared by the three task types, and the names used for them.

Paper names and the official code's names (used in logs and metric keys on request):
deduction = `code_o` (predict the output), abduction = `code_i` (predict an input),
induction = `code_f` (predict the function); propose = `gen`, solve = `pred`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any


class TaskType(str, Enum):
    DEDUCTION = "deduction"
    ABDUCTION = "abduction"
    INDUCTION = "induction"

    @property
    def code_name(self) -> str:
        return {"deduction": "code_o", "abduction": "code_i", "induction": "code_f"}[self.value]


class Role(str, Enum):
    PROPOSE = "propose"
    SOLVE = "solve"

    @property
    def code_name(self) -> str:
        return {"propose": "gen", "solve": "pred"}[self.value]


@dataclass(frozen=True)
class Task:
    """One task (p, i, o) or, for induction, (p, inputs[N], outputs[N], message).

    `inputs` are call-argument texts (`f(<input>)`, several comma-separated arguments allowed);
    `outputs` are the `repr` of the values the program returned, as produced by the executor.
    Deduction and abduction tasks hold exactly one input and one output.
    """

    type: TaskType
    program: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    message: str = ""
    imports: tuple[str, ...] = ()
    step: int = 0
    """Self-play step at which the task entered a buffer (0 = seed)."""
    source: str = "proposed"
    """Provenance: `zero` (the identity triplet), `seed:<file>`, `seeding`, `proposed`."""
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def input(self) -> str:
        return self.inputs[0]

    @property
    def output(self) -> str:
        return self.outputs[0]

    def with_type(self, type_: TaskType) -> Task:
        return replace(self, type=type_)

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type.value,
            "program": self.program,
            "inputs": list(self.inputs),
            "outputs": list(self.outputs),
            "message": self.message,
            "imports": list(self.imports),
            "step": self.step,
            "source": self.source,
            "meta": self.meta,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Task:
        return cls(
            type=TaskType(d["type"]),
            program=d["program"],
            inputs=tuple(d["inputs"]),
            outputs=tuple(d["outputs"]),
            message=d.get("message", ""),
            imports=tuple(d.get("imports", ())),
            step=int(d.get("step", 0)),
            source=d.get("source", "proposed"),
            meta=dict(d.get("meta", {})),
        )
