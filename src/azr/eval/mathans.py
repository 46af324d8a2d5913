"""Math answers: pull the final answer out of a completion, and decide equivalence with math-verify.

Extraction order (the first that applies wins):

1. the last `\\boxed{}` / `\\fbox{}` inside the last `<answer>...</answer>` block (the reasoning template);
2. the last `\\boxed{}` anywhere in the response, `<think>` included (the official AZR / Qwen2.5-Math grader
   finds it there, so a model that boxes its result while reasoning and then writes a bare answer block is not
   marked wrong for the box's place);
3. the answer block's text itself (answers without a box: "42", "$x^2$");
4. the last "final answer" / "answer is" / "Answer:" / `####` line;
5. the last number in the text (the math-evaluation-harness fallback for models that state the result in prose).

Several boxes: the *last* one is the answer (as the Qwen2.5-Math / math-evaluation-harness grader of the AZR
paper's math tables does), not the set of all of them (math-verify's own reading of a text with several boxes);
a multi-part answer has to be boxed as one (`\\boxed{2, 3}`), which math-verify then compares as a set or tuple.
No normalisation rewrites the extracted text (`\\text{}`, `\\pm`, equation golds stay as written): the
comparison is math-verify's, plus exact text equality.

Equivalence is math-verify's `verify` (sympy-based: fractions, LaTeX, units, intervals, sets,
equations). An exact match of the two whitespace-normalised strings is also accepted, because
math-verify cannot parse some gold answers (free text such as "Tuesday") and identical text is
equal by any definition.
"""

from __future__ import annotations

import re
import threading

_ANSWER_OPEN = "<answer>"
_ANSWER_CLOSE = "</answer>"
_LINE_PATTERNS = (
    re.compile(r"final answer(?: is)?\s*[:：]?\s*(.+)", re.IGNORECASE),
    re.compile(r"the answer is\s*[:：]?\s*(.+)", re.IGNORECASE),
    re.compile(r"^\s*answer\s*[:：]\s*(.+)", re.IGNORECASE | re.MULTILINE),
    re.compile(r"^\s*####\s*(.+)", re.MULTILINE),
)
_TAGS = re.compile(r"</?(?:think|answer)>")
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:/\d+)?|-?\.\d+")


def last_boxed(text: str) -> str | None:
    """Content of the last `\\boxed{...}` (or `\\fbox{...}`) with balanced braces, or None."""
    starts = [m.end() for m in re.finditer(r"\\(?:boxed|fbox)\s*\{", text)]
    for start in reversed(starts):
        depth = 1
        for i in range(start, len(text)):
            ch = text[i]
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth == 0:
                    return text[start:i].strip()
    # `\boxed 5` (no braces) is also legal LaTeX
    bare = re.findall(r"\\boxed\s+([^\s${}]+)", text)
    return bare[-1] if bare else None


def answer_block(text: str) -> str | None:
    """Text after the last `<answer>` up to the next `</answer>` (or the end), as training parses it."""
    at = text.rfind(_ANSWER_OPEN)
    if at < 0:
        return None
    rest = text[at + len(_ANSWER_OPEN) :]
    end = rest.find(_ANSWER_CLOSE)
    return (rest if end < 0 else rest[:end]).strip()


def _clean_line(s: str) -> str:
    s = s.strip().splitlines()[0].strip() if s.strip() else ""
    # "is $7$." -> "7": the sentence's full stop sits outside the math delimiters
    return s.rstrip(".").strip().strip("$").strip().rstrip(".").strip()


def extract_math_answer(text: str) -> str | None:
    """The model's final answer as text, or None if the completion states none."""
    block = answer_block(text)
    boxed = last_boxed(block) if block is not None else None
    if boxed is None:
        boxed = last_boxed(text)  # anywhere, including inside <think>
    if boxed is not None:
        return boxed
    if block is not None and block.strip().strip("$").strip():
        return block.strip().strip("$").strip()
    text = _TAGS.sub("\n", text)  # a line ends at a template tag
    for pat in _LINE_PATTERNS:
        found = pat.findall(text)
        if found:
            cleaned = _clean_line(found[-1])
            if cleaned:
                inner = last_boxed(cleaned)
                return inner if inner is not None else cleaned
    numbers = _NUMBER.findall(text)
    return numbers[-1].replace(",", "") if numbers else None


def _norm(s: str) -> str:
    return re.sub(r"\s+", "", s).strip("$").rstrip(".")


def math_equal(pred: str | None, gold: str) -> bool:
    """Is `pred` mathematically equal to `gold`? (math-verify, plus exact-text equality)."""
    if pred is None or not pred.strip():
        return False
    if _norm(pred) == _norm(gold):
        return True
    from math_verify import parse, verify

    # math-verify's timeouts use SIGALRM, which only works on the main thread
    main = threading.current_thread() is threading.main_thread()
    timeout = 5 if main else None
    try:
        g = parse(f"\\boxed{{{gold}}}", parsing_timeout=timeout)
        p = parse(f"\\boxed{{{pred}}}", parsing_timeout=timeout)
        if not g or not p:
            return False
        return bool(verify(g, p, timeout_seconds=timeout))
    except Exception:
        # a pathological expression (sympy recursion, timeout) is simply not a match
        return False
