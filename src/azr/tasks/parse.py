"""Completion text -> a proposal or an answer, or a named failure. Pure string work; never raises.

The text seen here is the whole response *including* its prefill (`"<think>" + generated`, or the prefilled
answer skeleton + generated). Contract (as the official reward code parses, docs/environment.md):
- format: `<think>…</think>` then `<answer>…</answer>`, anchored at the start; trailing text after `</answer>`
  is tolerated, as in the official regex.
- the answer is the text after the *last* `<answer>` up to the next `</answer>` (or the end of the text).
- fenced blocks are found by their language tag. [BUG] fixed: the official parser takes the first fence of any
  tag as "the code", so an input fence written before the python fence became the program; we take the first
  fence tagged `python`/`py`.
- an unclosed final fence (generation stopped at `</answer>`) still counts, so a model that forgets the closing
  backticks is not punished for it.

This module does not run code, check Python syntax, or know the buffers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from azr.tasks.spec import spec
from azr.tasks.types import TaskType

PARSE_REASONS = (
    "no_answer",
    "no_code_block",
    "no_input_block",
    "no_output_block",
    "wrong_input_count",
    "no_message",
    "empty_answer",
)
"""Closed set of parse failure names (each is also a validation rejection reason)."""

# A fence opens with ``` + an optional one-word tag + newline, so prose such as "an ```output block (...)" is not
# taken for a fence; it closes at the next ``` or at the end of the text. Every character of the opening line has
# exactly one way to match (blanks before the tag, the tag, blanks after a tag), so a failed opening costs time
# linear in its length: the former `[ \t]*([\w+.\-]*)[ \t]*` could split a run of blanks between its two blank
# loops in n ways, and a fence followed by 32k spaces took 1.7 s.
_FENCE = re.compile(r"```[ \t]*(?:([\w+.\-]+)[ \t]*)?\n(.*?)(?:```|\Z)", re.DOTALL)
_ANSWER_AFTER_THINK = re.compile(r"\s*<answer>")
_MESSAGE_TAG = re.compile(r"<message>(.*?)(?:</message>|\Z)", re.DOTALL)
_MISSING_BLOCK = {"python": "no_code_block", "input": "no_input_block", "output": "no_output_block"}


@dataclass(frozen=True)
class Proposal:
    """What a proposer wrote: a program and one input (deduction/abduction), or N inputs and a message
    (induction; `program` is empty because the program was given in the prompt)."""

    program: str
    inputs: tuple[str, ...]
    message: str = ""


@dataclass(frozen=True)
class Answer:
    """A solver's answer: an output literal (deduction), call arguments (abduction) or a program (induction)."""

    text: str


@dataclass(frozen=True)
class ParseFailure:
    reason: str
    """One of PARSE_REASONS."""


def format_ok(text: str) -> bool:
    """True iff the response is `<think>…</think>` followed (after whitespace) by `<answer>…</answer>`.

    Equivalent to the official `(?s)<think>.*?</think>\\s*<answer>.*?</answer>` match, written with `str.find`
    so adversarial text cannot make a backtracking regex slow; each `</think>` is tried in place (no copy of the
    rest of the text), so many of them cost linear time too.
    """
    if not isinstance(text, str):
        return False
    s = text.lstrip()
    if not s.startswith("<think>"):
        return False
    pos = len("<think>")
    while True:
        close = s.find("</think>", pos)
        if close < 0:
            return False
        m = _ANSWER_AFTER_THINK.match(s, close + len("</think>"))
        if m:
            return s.find("</answer>", m.end()) >= 0
        pos = close + 1


def extract_answer(text: str) -> str | None:
    """Content after the last `<answer>` up to the next `</answer>` (or the end); None without an `<answer>`."""
    if not isinstance(text, str):
        return None
    start = text.rfind("<answer>")
    if start < 0:
        return None
    body = text[start + len("<answer>") :]
    end = body.find("</answer>")
    return body if end < 0 else body[:end]


def fences(answer: str) -> list[tuple[str, str]]:
    """All fenced blocks as (tag lower-cased, body without the trailing newline), in order."""
    return [((m.group(1) or "").lower(), m.group(2).rstrip("\n").rstrip()) for m in _FENCE.finditer(answer)]


def _tagged(blocks: list[tuple[str, str]], tag: str) -> list[str]:
    tags = ("python", "py", "python3") if tag == "python" else (tag,)
    return [body for t, body in blocks if t in tags and body.strip()]


def _message(answer: str, blocks: list[tuple[str, str]]) -> str:
    found = _tagged(blocks, "message")
    if found:
        return found[0].strip()
    m = _MESSAGE_TAG.search(answer)
    return m.group(1).strip() if m else ""


def parse_proposal(task_type: TaskType, text: str, n_inputs: int) -> Proposal | ParseFailure:
    """Parse a proposer response. Deduction/abduction: first python fence + first input fence. Induction: exactly
    `n_inputs` input fences and a message (a ```message fence or `<message>` tags).

    Induction input count: the official parser keeps the last 10 of ≥ 10 fences; we require exactly N as the
    prompt asks, so a model that rambles extra inputs is told so by the `wrong_input_count` reason.
    """
    answer = extract_answer(text)
    if answer is None:
        return ParseFailure("no_answer")
    blocks = fences(answer)
    inputs = [s.strip() for s in _tagged(blocks, "input")]
    if spec(task_type).proposer_writes_program:
        code = _tagged(blocks, "python")
        if not code:
            return ParseFailure("no_code_block")
        if not inputs:
            return ParseFailure("no_input_block")
        return Proposal(program=code[0].strip("\n"), inputs=(inputs[0],))
    if len(inputs) != n_inputs:
        return ParseFailure("no_input_block" if not inputs else "wrong_input_count")
    message = _message(answer, blocks)
    if not message:
        return ParseFailure("no_message")
    return Proposal(program="", inputs=tuple(inputs), message=message)


def parse_answer(task_type: TaskType, text: str) -> Answer | ParseFailure:
    """Parse a solver response: the *last* fence tagged with the type's answer tag; else the last untagged fence;
    else, when the answer holds no fence at all, its whole stripped content (the official fallback chain ends the
    same way, so `<answer>5</answer>` is a valid deduction answer)."""
    answer = extract_answer(text)
    if answer is None:
        return ParseFailure("no_answer")
    tag = spec(task_type).answer_fence
    blocks = fences(answer)
    found = _tagged(blocks, tag) or [body for t, body in blocks if t == "" and body.strip()]
    if found:
        return Answer(found[-1].strip("\n") if tag == "python" else found[-1].strip())
    if blocks:
        return ParseFailure(_MISSING_BLOCK[tag])
    content = answer.strip()
    return Answer(content) if content else ParseFailure("empty_answer")
