"""The six task x role prompts, in our own words, and their rendering (chat template or plain R1 template).

Every prompt is a list of chat messages whose last message is the *assistant prefill*: the start of the response
that the prompt ends with. By default that is `<think>` (R1 template, paper Fig. 35). With
`rollout.prefill_answer` it is `<think>\\n</think>\\n<answer>\\n` plus the opening of the answer block
(e.g. ```` ```python\\ndef f( ````), because small instruct models only follow the answer format when its
skeleton is prefilled (docs/models.md). Parsers see `response_prefix(messages) + generated text`.

Each prompt starts with a `## Task: <Propose|Solve> a <type> task` heading; the scripted policy recognises the
task from it, and it tells a model plainly what is asked.

[BUG] decided: the official deduction/abduction proposer prompts (and paper Figs. 36/37) swap the difficulty
criteria: the abduction proposer is asked for outputs that are hard to predict and the deduction proposer for
inputs that are hard to infer. We ask each proposer for difficulty in *its own* solver's task (deduction: the
output is hard to predict; abduction: an input is hard to infer), which is what the paper's text intends.

This module only builds text; it does not sample references (see `buffer`) or parse responses (see `parse`).
"""

from __future__ import annotations

from typing import Any

from azr.config import Config
from azr.executor import policy
from azr.tasks.spec import spec, split_visible
from azr.tasks.types import Role, Task, TaskType

THINK = "<think>"
END_THINK = "</think>"

PREAMBLE = (
    "You are the Assistant in a conversation with a User. For every request, the Assistant first reasons "
    "privately and then replies. The reasoning goes between <think> and </think>; the reply goes between "
    "<answer> and </answer>. So every response looks like: <think> reasoning </think> <answer> reply </answer>."
)


def program_rules(cfg: Config, *, proposer: bool) -> dict[str, str]:
    """The rules the validator and the executor's static policy apply to a program, one sentence per rejection
    reason (`validate.REJECTION_REASONS` names; `policy` covers the policy's lists, generated from them so the
    prompt and the validator cannot drift). `proposer` adds the proposer-only rules (length, novelty)."""
    rules = {
        "syntax": "It must be valid Python 3.",
        "no_f": "The entry point is a function named `f`.",
        "no_params": "`f` takes at least one parameter.",
        "output_none": "`f` must return a value (not None).",
        "multiple_functions": "`f` is the only top-level function: helper functions go inside `f`; classes may be "
        "defined at the top. Put all imports at the top.",
        "nondeterministic": "It must be deterministic: no randomness, no date or time, no files, network, "
        "environment or subprocesses, no printing or logging, no global state.",
        "timeout": f"It must finish in well under {cfg.executor.timeout:g} seconds",
        "memory": f"and use well under {cfg.executor.memory_mb} MB of memory.",
        "error": "It must run without raising an exception",
        "crashed": "and without crashing or exiting the interpreter.",
        "output_not_plain": "Return plain data only (numbers, strings, lists, tuples, dicts, sets, booleans).",
        "policy": _policy_rule(cfg),
    }
    if proposer:
        rules["too_long"] = f"The program has at most {cfg.selfplay.max_program_chars} characters."
        rules["duplicate"] = "It must be new: a program and input already in the task buffer are rejected."
    return rules


ALLOWED_IMPORTS = (
    "math cmath itertools functools collections heapq bisect re string operator fractions decimal statistics copy "
    "dataclasses enum typing array textwrap unicodedata difflib numbers json".split()
)
"""The modules the compact prompt rule allows: pure computation, none of them in the policy's forbidden list (a
test checks), so a program that follows the rule never meets a `forbidden import`."""
NAME_PREFIXES = ("__", "f_", "tb_", "gi_", "cr_", "ag_", "co_")
"""The compact rule's prefixes (`__` for names and attributes, the rest for attributes); with `mro` they cover every
name and attribute the policy refuses (tested)."""


def _policy_rule(cfg: Config) -> str:
    """The static policy as one prompt sentence. `compact` (default) states a rule stricter than the policy that is
    short enough to sit in every prompt (~130 tokens): an allow-list of modules and prefixes that cover the refused
    names, so following it guarantees no policy rejection. `full` lists the policy's own lists word for word
    (~630 tokens, nearly all of a proposer prompt; issue 10 measured the prompt as what a CPU step pays for)."""
    listed = ", ".join
    if cfg.selfplay.prompt_rules == "full":
        return (
            "Forbidden, and rejected before anything runs: importing any of these modules, also inside a dotted "
            f"name such as `os.path` or as an attribute of another module such as `typing.sys`: "
            f"{listed(sorted(policy.FORBIDDEN_MODULES))}; relative imports; {_forbidden_names('the program')}."
        )
    return (
        f"Checked before anything runs: import only {listed(ALLOWED_IMPORTS)} (no other module, also not as an "
        f"attribute of one of these such as `typing.sys`; no relative import); {_compact_names()}."
    )


def _compact_names() -> str:
    listed = ", ".join
    calls = listed(sorted(policy.FORBIDDEN_CALLS | policy.SHADOWABLE_CALLS))
    prefixes = listed(f"`{p}`" for p in NAME_PREFIXES[1:])
    return (
        f"do not use {calls}; no name or attribute starting with `__` (defining methods such as `__init__` in a "
        f"class is fine), and no attribute `.mro` or starting with {prefixes}"
    )


def _forbidden_names(binder: str) -> str:
    """The policy's name and attribute rules (they apply to programs and to inputs alike)."""
    listed = ", ".join
    return (
        f"the built-ins {listed(sorted(policy.FORBIDDEN_CALLS))} (even without calling them); "
        f"{listed(sorted(policy.SHADOWABLE_CALLS))} unless {binder} defines that name itself; the names "
        f"{listed(sorted(policy.FORBIDDEN_NAMES))}; the attributes {listed(sorted(policy.FORBIDDEN_ATTRS))}"
    )


def input_rules(cfg: Config) -> str:
    """What the policy checks in an input (inputs are Python expressions too), as compact or full as the program's."""
    if cfg.selfplay.prompt_rules == "full":
        return (
            f"Inputs are Python expressions, checked before they run: they may not use {_forbidden_names('the input')}."
        )
    return f"Inputs are Python expressions, checked before they run: {_compact_names()}."


def _code_rules(cfg: Config, *, proposer: bool) -> str:
    r = program_rules(cfg, proposer=proposer)
    lines = [
        f"{r['no_f']} {r['no_params']} {r['output_none']} {r['syntax']}",
        r["multiple_functions"],
        f"{r['nondeterministic']} {r['error']} {r['crashed']} {r['timeout']} {r['memory']}",
        r["output_not_plain"],
        *([f"{r['too_long']} {r['duplicate']}"] if proposer else []),
        r["policy"],
    ]
    return "Rules for the program:\n" + "\n".join(f"- {ln}" for ln in lines)


_DIFFICULTY = {
    TaskType.DEDUCTION: "predicting the output of `f` on your input should take careful multi-step reasoning "
    "(state tracking, loops, recursion, data-structure manipulation)",
    TaskType.ABDUCTION: "finding an input that makes `f` return your output should take careful reverse "
    "reasoning (many plausible inputs, few that work)",
}

_SOLVE_ASK = {
    TaskType.DEDUCTION: "Work out what `f` returns for the input below, step by step. Give the returned value as "
    "a Python literal in an ```output block (quote strings; a tuple for several returned values).",
    TaskType.ABDUCTION: "Find an input for which `f` returns exactly the output below. Any input that works is "
    "correct. Give it in an ```input block, written as the arguments of the call `f(...)` (quote strings; separate "
    "several arguments with commas).",
    TaskType.INDUCTION: "Write a program `f` that maps every input below to its output and, from the message, "
    "generalises to hidden inputs of the same kind. Check your program against each shown pair before answering. "
    "Answer with one ```python block defining `f`.",
}


def _fence(tag: str, body: str) -> str:
    return f"```{tag}\n{body}\n```"


def _heading(task_type: TaskType, role: Role) -> str:
    verb = "Propose" if role is Role.PROPOSE else "Solve"
    return f"## Task: {verb} a{'n' if spec(task_type).title[0] in 'aei' else ''} {spec(task_type).title} task"


def _prefill(task_type: TaskType, role: Role, cfg: Config) -> str:
    if not cfg.rollout.prefill_answer:
        return THINK
    return f"{THINK}\n</think>\n<answer>\n{spec(task_type).skeleton(role)}"


def _reference_block(i: int, task: Task, task_type: TaskType) -> str:
    parts = [_fence("python", task.program), _fence("input", task.input)]
    if task_type is TaskType.DEDUCTION or task_type is TaskType.ABDUCTION:
        parts.append(_fence("output", task.output))
    return f"<reference_{i}>\n" + "\n".join(parts) + f"\n</reference_{i}>"


def proposer_messages(
    task_type: TaskType, references: list[Task], program: Task | None, cfg: Config
) -> list[dict[str, str]]:
    """Proposer prompt. Deduction/abduction: K reference triplets from the type's buffer, ask for a new program
    and one input. Induction: the given `program`, ask for N inputs and a message."""
    task_type = TaskType(task_type)
    sp = cfg.selfplay
    head = _heading(task_type, Role.PROPOSE)
    if spec(task_type).proposer_writes_program:
        refs = "\n".join(_reference_block(i, t, task_type) for i, t in enumerate(references, 1))
        ref_text = (
            f"Here are earlier tasks, for reference only; yours must be clearly different from them:\n{refs}\n\n"
            if references
            else ""
        )
        body = (
            f"{head}\n\nWrite a new Python program `f` and one input for it, for a {spec(task_type).title} "
            f"exercise: another solver will see the program and the "
            f"{'input and must predict the output' if task_type is TaskType.DEDUCTION else 'output and must find an input'}."
            f"\n\n{ref_text}{_code_rules(cfg, proposer=True)}\n\n"
            f"Aim for: a program that runs without error; {_DIFFICULTY[task_type]}; a creative idea unlike the "
            "references.\n\nFirst plan inside <think>; then, inside <answer>, write exactly one ```python block "
            "with the program followed by exactly one ```input block with the call arguments (quote strings, "
            "separate several arguments with commas). Example of the answer shape:\n"
            "<answer>\n```python\ndef f(items, k):\n    ...\n    return result\n```\n```input\n[3, 1, 2], 2\n```\n"
            "</answer>"
        )
    else:
        n = sp.induction_inputs
        code = program.program if program is not None else ""
        body = (
            f"{head}\n\nHere is a program:\n{_fence('python', code)}\n\n"
            f"Write {n} different inputs for `f`, each in its own ```input block (the arguments of the call `f(...)`), "
            "chosen so that the outputs are diverse and together reveal what `f` does. Then write one ```message "
            "block: a short hint for a solver who must rewrite `f` from some of your input/output pairs. The "
            "message must not contain the program or its code. Every input must make `f` return a value that is not "
            f"None, without an exception and in well under {cfg.executor.timeout:g} seconds. {input_rules(cfg)}\n\n"
            "First plan inside <think>; then answer inside "
            f"<answer> with {n} ```input blocks and one ```message block. Example of the answer shape:\n"
            "<answer>\n```input\n'abc', 2\n```\n...\n```message\nThe function ...\n```\n</answer>"
        )
    return [{"role": "user", "content": body}, {"role": "assistant", "content": _prefill(task_type, Role.PROPOSE, cfg)}]


def solver_messages(task: Task, cfg: Config) -> list[dict[str, str]]:
    """Solver prompt for one task: program + input (deduction), program + output (abduction), or the visible
    input/output pairs + message (induction; the second half of the pairs stays hidden)."""
    t = task.type
    head = _heading(t, Role.SOLVE)
    if t is TaskType.DEDUCTION:
        shown = f"{_fence('python', task.program)}\n\nInput:\n{_fence('input', task.input)}"
    elif t is TaskType.ABDUCTION:
        shown = f"{_fence('python', task.program)}\n\nOutput:\n{_fence('output', task.output)}"
    else:
        visible, _ = split_visible(task.inputs)
        pairs = "\n".join(
            f"{_fence(f'input_{i}', task.inputs[i])}\n{_fence(f'output_{i}', task.outputs[i])}" for i in range(visible)
        )
        shown = f"Input/output pairs:\n{pairs}\n\nMessage:\n{_fence('message', task.message)}\n\n" + _code_rules(
            cfg, proposer=False
        )
    tag = spec(t).answer_fence
    body = (
        f"{head}\n\n{_SOLVE_ASK[t]}\n\n{shown}\n\nReason inside <think>, then answer inside <answer> with one "
        f"```{tag} block.{' Name the function `f`.' if t is TaskType.INDUCTION else ''}"
    )
    return [{"role": "user", "content": body}, {"role": "assistant", "content": _prefill(t, Role.SOLVE, cfg)}]


def response_prefix(messages: list[dict[str, str]]) -> str:
    """The prefilled start of the response (what parsers prepend to the generated text)."""
    if messages and messages[-1].get("role") == "assistant":
        return messages[-1]["content"]
    return THINK


def stop_after(messages: list[dict[str, str]]) -> str:
    """`SamplingParams.stop_after` for this prompt: `</think>` while the response still starts inside the
    reasoning (so an `</answer>` drafted there does not end it), "" when the prefill is already past it."""
    return "" if END_THINK in response_prefix(messages) else END_THINK


def render(messages: list[dict[str, str]], tokenizer: Any | None, template: str) -> str:
    """Prompt text ending with the response prefix (`<think>` or the prefilled answer skeleton).

    `chat`: the tokenizer's chat template with the R1 preamble as system message, `add_generation_prompt=True`,
    then the prefix appended (appending is template-independent, unlike `continue_final_message`).
    `plain` (base models, paper): `<preamble> User: <task>\\nAssistant: <prefix>`, no special tokens.
    """
    prefix = response_prefix(messages)
    turns = list(messages[:-1]) if messages and messages[-1].get("role") == "assistant" else list(messages)
    if template == "chat":
        if tokenizer is None:
            raise ValueError("the chat template needs a tokenizer")
        chat = [{"role": "system", "content": PREAMBLE}, *turns]
        text = tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
        return text + prefix
    if template == "plain":
        user = "\n\n".join(m["content"] for m in turns)
        return f"{PREAMBLE} User: {user}\nAssistant: {prefix}"
    raise ValueError(f"template must be 'chat' or 'plain' (got {template!r})")
