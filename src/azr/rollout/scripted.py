"""A scripted policy: canned completions for the six task x role prompts, no model.

It recognises the task from the prompt's `## Task: <Propose|Solve> a <type> task` heading and writes:
- proposals: a program from `rollout.library` with one of its inputs (deduction/abduction) or N inputs and its
  hint (induction), or a broken proposal (format error, missing input block, a program that raises, too few
  induction inputs);
- answers: correct ones for programs it knows (library programs, computed by running *our own* library code
  in-process, and the identity program), an identity guess for programs it does not know, deliberately wrong
  ones, or format errors.

Outcomes are drawn from fixed probabilities with an RNG seeded by `rollout.base.sample_seed(seed_i, j)` for sample j
of prompt i (the seeding contract of every backend; an unseeded call takes its base seed from (seed, call
number)), so a run is deterministic given the seed; a `script` maps (task type, role) to a list of outcome names
cycled in request order, which tests use to compute rewards by hand. Besides the drawn outcomes a script may name
`draft_correct`: a correct answer whose reasoning first drafts a wrong `<answer>...</answer>` (for the
`stop_after` rule). The stop rule of `SamplingParams` (`stop`, `stop_after`) is applied to the canned text as a
model backend applies it while generating. Token ids are the UTF-8 bytes of the text and log-probs a
constant: there is no distribution behind them.

It never runs text it reads from a prompt.
"""

from __future__ import annotations

import ast
import random
import re
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from azr.buffer import ZERO_PROGRAM, normalize_input, normalize_program
from azr.rollout.base import Completion, SamplingParams, mix, prompt_seeds, sample_seed, stop_end
from azr.rollout.library import GENERIC_INPUTS, IDENTITY_MESSAGE_HINT, LIBRARY, LibraryProgram
from azr.tasks.parse import fences

_HEADING = re.compile(r"## Task: (Propose|Solve) an? (deduction|abduction|induction) task")
_N_INPUTS = re.compile(r"Write (\d+) different inputs")

PROPOSE_OUTCOMES = {"valid": 0.7, "format_error": 0.1, "no_input": 0.1, "error": 0.1}
INDUCTION_PROPOSE_OUTCOMES = {"valid": 0.8, "format_error": 0.1, "wrong_count": 0.1}
SOLVE_OUTCOMES = {"correct": 0.6, "wrong": 0.25, "format_error": 0.15}
LOGPROB = -1.0


def _table(entry: LibraryProgram) -> dict[str, tuple[str, str]]:
    """normalised input -> (input text, repr(f(input))) for one library program, by running our own library
    code."""
    scope: dict[str, Any] = {}
    exec(compile(entry.program, "<library>", "exec"), scope)  # noqa: S102 - trusted library code only
    out = {}
    for text in entry.inputs:
        args = ast.literal_eval(f"({text},)")
        out[normalize_input(text)] = (text, repr(scope["f"](*args)))
    return out


class ScriptedBackend:
    """`RolloutBackend` with canned completions (see module docstring)."""

    def __init__(self, seed: int = 0, script: Mapping[tuple[str, str], Sequence[str]] | None = None):
        self.seed = seed
        self.progress: Callable[[int, int], None] | None = None
        self.script = {k: list(v) for k, v in (script or {}).items()}
        self._calls = 0
        self._counters: dict[tuple[str, str], int] = defaultdict(int)
        self._known = {normalize_program(e.program): e for e in LIBRARY}
        self._tables: dict[str, dict[str, tuple[str, str]]] = {}

    # ---- RolloutBackend --------------------------------------------------------------------------------------

    def generate(self, prompts: Sequence[str], params: SamplingParams, n: int = 1) -> list[list[Completion]]:
        self._calls += 1
        seeds = prompt_seeds(params, len(prompts), mix(self.seed, self._calls))
        if self.progress is not None:
            self.progress(0, len(prompts) * n)
        out = []
        for i, prompt in enumerate(prompts):
            out.append([self._complete(prompt, random.Random(sample_seed(seeds[i], j)), params) for j in range(n)])
        if self.progress is not None:
            self.progress(len(prompts) * n, len(prompts) * n)
        return out

    def count_tokens(self, text: str) -> int:
        return len(text) // 4 + 1

    def sync_weights(self, model: Any) -> None:
        return None

    def get_rng_state(self) -> dict[str, Any]:
        """Everything later completions depend on (the per-call RNGs are seeded from it), for checkpoints."""
        return {"calls": self._calls, "counters": [[list(k), v] for k, v in self._counters.items()]}

    def set_rng_state(self, state: dict[str, Any]) -> None:
        self._calls = int(state["calls"])
        self._counters = defaultdict(int, {tuple(k): int(v) for k, v in state["counters"]})

    def sleep(self) -> None:
        return None

    def wake_up(self) -> None:
        return None

    # ---- completions -----------------------------------------------------------------------------------------

    def _complete(self, prompt: str, rng: random.Random, params: SamplingParams) -> Completion:
        m = _HEADING.search(prompt)
        role, task = (m.group(1).lower(), m.group(2)) if m else ("solve", "deduction")
        key = (task, "propose" if role == "propose" else "solve")
        outcome = self._outcome(key, rng)
        think = "Let me work through this step by step."
        if outcome == "draft_correct":  # a draft answer inside the reasoning, then the real one
            think += " A first guess:\n<answer>\nNone\n</answer>\nNo, let me check that again."
            outcome = "correct"
        body = self._propose(task, outcome, prompt, rng) if role == "propose" else self._solve(task, outcome, prompt)
        full = f"<think>{think}</think>\n<answer>\n{body}\n</answer>"
        if outcome == "format_error":
            full = f"<think>{think}\n{body}"  # no </think>, no answer block
        prefix = prompt[prompt.rfind("<think>") :] if "<think>" in prompt else ""
        if prefix != "<think>":  # prefilled answer skeleton: same content, empty reasoning
            full = f"<think>\n</think>\n<answer>\n{body}\n</answer>" if outcome != "format_error" else full
        common = 0
        while common < min(len(full), len(prefix)) and full[common] == prefix[common]:
            common += 1
        text = full[common:]
        end = stop_end(text, params.stop, params.stop_after)
        text = text[:end] if end is not None else text
        ids = tuple(text.encode("utf-8"))
        return Completion(
            prompt=prompt,
            text=text,
            prompt_ids=tuple(prompt.encode("utf-8")[-64:]),
            token_ids=ids,
            logprobs=(LOGPROB,) * len(ids),
        )

    def _outcome(self, key: tuple[str, str], rng: random.Random) -> str:
        if key in self.script and self.script[key]:
            seq = self.script[key]
            k = self._counters[key]
            self._counters[key] += 1
            return seq[k % len(seq)]
        table = (
            SOLVE_OUTCOMES
            if key[1] == "solve"
            else (INDUCTION_PROPOSE_OUTCOMES if key[0] == "induction" else PROPOSE_OUTCOMES)
        )
        return rng.choices(list(table), weights=list(table.values()))[0]

    def _pick(self, key: str, rng: random.Random) -> int:
        """Library index: cycled in request order when scripted, random otherwise."""
        if any(k[0] == key for k in self.script):
            c = self._counters[("pick", key)]
            self._counters[("pick", key)] += 1
            return c
        return rng.randrange(10**6)

    def _propose(self, task: str, outcome: str, prompt: str, rng: random.Random) -> str:
        if task == "induction":
            n = int(m.group(1)) if (m := _N_INPUTS.search(prompt)) else 10
            code = _first(prompt, "python")
            entry = self._known.get(normalize_program(code))
            inputs = list(entry.inputs if entry else GENERIC_INPUTS)[:n]
            message = entry.message if entry else "The function " + IDENTITY_MESSAGE_HINT + " (or something close)."
            if outcome == "wrong_count":
                inputs = inputs[:2]
            return "\n".join(f"```input\n{x}\n```" for x in inputs) + f"\n```message\n{message}\n```"
        if outcome == "error":
            return "```python\ndef f(xs):\n    return xs[10] + 1\n```\n```input\n[1, 2]\n```"
        k = self._pick(task, rng)
        entry = LIBRARY[k % len(LIBRARY)]
        inp = entry.inputs[(k // len(LIBRARY)) % len(entry.inputs)]
        if outcome == "no_input":
            return f"```python\n{entry.program}\n```"
        return f"```python\n{entry.program}\n```\n```input\n{inp}\n```"

    def _solve(self, task: str, outcome: str, prompt: str) -> str:
        if task == "induction":
            program = self._induction_guess(prompt) if outcome == "correct" else "def f(x):\n    return None"
            return f"```python\n{program}\n```"
        code = _first(prompt, "python")
        if task == "deduction":
            given = _first(prompt, "input")
            answer = self._known_output(code, given) if outcome == "correct" else "None"
            return f"```output\n{answer}\n```"
        gold = _first(prompt, "output")
        answer = self._known_input(code, gold) if outcome == "correct" else "None"
        return f"```input\n{answer}\n```"

    # ---- what the scripted policy "knows" ----------------------------------------------------------------------

    def _table_for(self, entry: LibraryProgram) -> dict[str, tuple[str, str]]:
        key = normalize_program(entry.program)
        if key not in self._tables:
            self._tables[key] = _table(entry)
        return self._tables[key]

    def _known_output(self, code: str, given: str) -> str:
        entry = self._known.get(normalize_program(code))
        if entry is not None:
            return self._table_for(entry).get(normalize_input(given), ("", "None"))[1]
        return given  # identity guess: right for the zero triplet, usually wrong otherwise

    def _known_input(self, code: str, gold: str) -> str:
        entry = self._known.get(normalize_program(code))
        if entry is not None:
            for text, out in self._table_for(entry).values():
                if normalize_input(out) == normalize_input(gold):
                    return text
            return "None"
        return gold  # identity guess

    def _induction_guess(self, prompt: str) -> str:
        message = _first(prompt, "message")
        for entry in LIBRARY:
            if entry.message == message:
                return entry.program
        return ZERO_PROGRAM


def _first(prompt: str, tag: str) -> str:
    """First fenced block with this tag after the task heading (the task's program, input, output or message)."""
    m = _HEADING.search(prompt)
    found = [body for t, body in fences(prompt[m.end() :] if m else prompt) if t == tag]
    return found[0] if found else ""
