"""Evaluation prompts per benchmark, in two templates, with a version string recorded in every result.

`azr`: the reasoning template used in training. CRUXEval-O/I use the training solver prompts verbatim
(deduction/abduction, `azr.tasks.prompts.solver_messages`), so the in-distribution score measures exactly
what self-play trains; code and math prompts follow the same shape (a `## Task:` heading, reason inside
`<think>`, answer inside `<answer>`), as the official AZR evaluation does with its `azr` template.
`plain`: no reasoning format, for models that were never trained on it (CRUXEval's direct question,
EvalPlus-style code request, the "\\boxed{}" instruction of Qwen's math evaluation).

Change PROMPT_VERSION whenever any text here (or in the training solver prompts) changes meaning.
"""

from __future__ import annotations

from azr.config import Config
from azr.eval.benchmarks import BENCHMARKS, Item
from azr.tasks import prompts as task_prompts
from azr.tasks.types import Task, TaskType

PROMPT_VERSION = "eval-prompts-v1"
TEMPLATES = ("azr", "plain")

_REASON = "Reason inside <think>, then answer inside <answer>"


def cruxeval_task(item: Item) -> Task:
    """The training task a CRUXEval item is: deduction for -O, abduction for -I (same program, input, output)."""
    t = TaskType.DEDUCTION if item.benchmark == "cruxeval-o" else TaskType.ABDUCTION
    d = item.data
    return Task(
        type=t, program=d["code"], inputs=(d["input"],), outputs=(d["output"],), source=f"eval:{item.benchmark}"
    )


def _code_request(item: Item) -> str:
    entry = item.data["entry_point"]
    if item.benchmark == "humaneval+":
        return (
            f"Complete the Python function `{entry}` below so that it does what its docstring says.\n\n"
            f"```python\n{item.question.rstrip()}\n```"
        )
    example = item.data.get("test_example", "")
    desc = item.question.strip().strip('"').strip()
    return f"{desc}\n\nWrite a Python function named `{entry}`." + (f" It should pass:\n{example}" if example else "")


def messages(item: Item, template: str, cfg: Config) -> list[dict[str, str]]:
    """Chat messages for one item; the last is the assistant prefill (empty for the plain template)."""
    kind = BENCHMARKS[item.benchmark].kind
    if template == "azr":
        if kind in ("cruxeval-o", "cruxeval-i"):
            return task_prompts.solver_messages(cruxeval_task(item), cfg)
        if kind == "code":
            body = (
                f"## Task: Solve a coding problem\n\n{_code_request(item)}\n\n{_REASON} with one ```python block "
                f"holding the complete function `{item.data['entry_point']}` and the imports it needs."
            )
        else:
            body = (
                f"## Task: Solve a math problem\n\n{item.question.strip()}\n\n{_REASON}; put the final answer "
                "in \\boxed{} inside the answer."
            )
        return [{"role": "user", "content": body}, {"role": "assistant", "content": task_prompts.THINK}]
    if template != "plain":
        raise ValueError(f"template must be one of {', '.join(TEMPLATES)} (got {template!r})")
    d = item.data
    if kind == "cruxeval-o":
        body = (
            f"```python\n{d['code']}\n```\n\nWhat does `f({d['input']})` return? Reply with only the returned value "
            "as a Python literal in an ```output block."
        )
    elif kind == "cruxeval-i":
        body = (
            f"```python\n{d['code']}\n```\n\nGive arguments `X` such that `f(X) == {d['output']}`. Reply with only the "
            "arguments (comma-separated, as written inside the call) in an ```input block."
        )
    elif kind == "code":
        body = f"{_code_request(item)}\n\nReply with one ```python block holding the complete function."
    else:
        body = f"{item.question.strip()}\nPlease reason step by step, and put your final answer within \\boxed{{}}."
    return [{"role": "user", "content": body}, {"role": "assistant", "content": ""}]


def response_prefix(msgs: list[dict[str, str]]) -> str:
    """What the parsers prepend to the generated text (the assistant prefill)."""
    if msgs and msgs[-1].get("role") == "assistant":
        return msgs[-1]["content"]
    return ""


def render_plain(msgs: list[dict[str, str]], tokenizer: object | None) -> str:
    """Render for the plain template: the model's own chat template (no R1 preamble), else `User:/Assistant:`."""
    turns = [m for m in msgs if not (m is msgs[-1] and m["role"] == "assistant")]
    prefix = response_prefix(msgs)
    if tokenizer is not None and getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template(turns, tokenize=False, add_generation_prompt=True)  # type: ignore[attr-defined]
        return text + prefix
    user = "\n\n".join(m["content"] for m in turns)
    return f"User: {user}\nAssistant: {prefix}"
