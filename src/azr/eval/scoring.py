"""Judge responses: one `Verdict` per (item, sample). All code runs through the sandboxed executor.

* CRUXEval-O/I: the training parser and verifier (`azr.tasks.parse.parse_answer`, `azr.verify.verify_answers`)
  on the training task the item is, under the `equality` rule asked for: `official` (Python `==`, CRUXEval's
  scorer; the eval default) or `strict` (training's type-aware rule, so "correct" means a solver reward of 1).
* HumanEval+/MBPP+: EvalPlus's differential testing (`azr.eval.codecheck`): base inputs first, plus inputs only
  for candidates that pass base (a base failure fails both, so running plus would only cost time).
* Math: `azr.eval.mathans` extraction + math-verify equivalence (no code runs).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from azr.eval import codecheck
from azr.eval.benchmarks import BENCHMARKS, Item
from azr.eval.mathans import answer_block, extract_math_answer, math_equal

CHUNK_CHARS = 90_000
"""Largest call-argument text per executor input (the policy refuses inputs over 100,000 characters)."""
TIME_FACTOR = 8.0
"""Candidate time limit as a multiple of the reference's measured time (the AZR EvalPlus script's factor)."""
CHUNK_INPUTS = 64
"""Inputs per executor call: small enough that a timeout costs little, large enough to amortise the call."""


@dataclass
class Verdict:
    correct: bool
    answer: str | None
    """The extracted answer (output literal, input, program, math answer), None when none was found."""
    reason: str | None = None
    """Why it is wrong (parse failure, executor status, `wrong`), None when correct."""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"correct": self.correct, "answer": self.answer, "reason": self.reason, **self.extra}


def score_math(item: Item, response: str) -> Verdict:
    pred = extract_math_answer(response)
    if pred is None:
        return Verdict(False, None, "no_answer")
    ok = math_equal(pred, item.gold)
    return Verdict(ok, pred, None if ok else "wrong")


def score_cruxeval(
    items: list[Item], responses: list[str], executor: Any, template: str = "azr", equality: str = "official"
) -> list[Verdict]:
    """Parse each response as a solver answer to the item's training task and verify it through the executor.

    The plain template asks for no `<answer>` tags, so there the whole response is the answer block."""
    from azr import verify
    from azr.eval.prompts import cruxeval_task
    from azr.tasks.parse import ParseFailure, parse_answer

    verdicts: list[Verdict | None] = []
    todo: list[int] = []
    tasks, answers = [], []
    for i, (item, resp) in enumerate(zip(items, responses)):
        task = cruxeval_task(item)
        parsed = parse_answer(task.type, resp if template == "azr" else f"<answer>{resp}</answer>")
        if isinstance(parsed, ParseFailure):
            verdicts.append(Verdict(False, None, parsed.reason))
            continue
        verdicts.append(None)
        todo.append(i)
        tasks.append(task)
        answers.append(parsed)
    if tasks:
        for i, ans, v in zip(todo, answers, verify.verify_answers(tasks, answers, executor, equality)):
            verdicts[i] = Verdict(bool(v.correct), ans.text, None if v.correct else (v.reason or "wrong"))
    return [v for v in verdicts if v is not None]


def _chunks(srcs: list[str], extra: list[str] | None = None) -> list[tuple[int, int]]:
    """Split input indices into [start, end) runs whose texts (plus expected texts) fit one executor input."""
    runs, start, size = [], 0, 0
    for i, s in enumerate(srcs):
        n = len(s) + (len(extra[i]) if extra else 0) + 4
        if i > start and (size + n > CHUNK_CHARS or i - start >= CHUNK_INPUTS):
            runs.append((start, i))
            start, size = i, 0
        size += n
    if start < len(srcs):
        runs.append((start, len(srcs)))
    return runs


class CodeJudge:
    """EvalPlus checking of HumanEval+/MBPP+ candidates; reference outputs are computed once and cached."""

    def __init__(
        self,
        executor: Any,
        cache_file: Path | None = None,
        timeout: float = 20.0,
        gt_timeout: float = 120.0,
        digests: bool = True,
    ):
        self.executor = executor
        # digests need `hashlib` in the sandbox, which the training AST policy forbids
        self.digests = digests
        self.cache_file = cache_file
        self.timeout = timeout
        self.gt_timeout = gt_timeout
        self._gt: dict[str, Any] = {}
        if cache_file is not None and cache_file.is_file():
            self._gt = json.loads(cache_file.read_text())

    @staticmethod
    def _inputs(item: Item) -> list[str]:
        return [codecheck.to_source(tuple(a)) for a in item.data["base_input"] + item.data["plus_input"]]

    def ground_truth(self, items: list[Item]) -> None:
        """Run each reference solution on its inputs in the sandbox; keep output source texts (or an error)."""
        from azr.executor import ExecRequest
        from azr.executor.values import parse_value

        missing = [it for it in items if f"{it.benchmark}:{it.id}" not in self._gt]
        if not missing:
            return
        reqs, spans = [], []
        for it in missing:
            srcs = self._inputs(it)
            runs = _chunks(srcs)
            entry = it.data["entry_point"]
            code = codecheck.ground_truth_program(it.data["reference"], entry, it.benchmark, self.digests)
            texts = tuple("[" + ", ".join(srcs[a:b]) + "]" for a, b in runs)
            reqs.append(ExecRequest(code, texts, timeout=self.gt_timeout))
            spans.append(runs)
        results = self.executor.run(reqs)
        for it, res in zip(missing, results):
            outs: list[str] = []
            error = None
            times: list[float] = []
            for r in res:
                if not r.ok:
                    error = f"{r.status.value}: {r.error or ''}".strip()
                    break
                srcs, secs = parse_value(r.output, max_chars=50_000_000)
                outs.extend(srcs)
                times.extend(secs)
            self._gt[f"{it.benchmark}:{it.id}"] = {"error": error} if error else {"expected": outs, "times": times}
        if self.cache_file is not None:
            from azr.io import atomic_write_text

            atomic_write_text(self.cache_file, json.dumps(self._gt))

    def reference_error(self, item: Item) -> str | None:
        return self._gt.get(f"{item.benchmark}:{item.id}", {}).get("error")

    def check(self, items: list[Item], responses: list[str]) -> list[Verdict]:
        """Verdict per (item, response) pair; `extra` records base/plus results as EvalPlus reports them."""
        codes = []
        for it, resp in zip(items, responses):
            block = answer_block(resp)
            codes.append(
                codecheck.extract_code(block if block is not None else resp, it.question, it.data["entry_point"])
            )
        return self.check_code(items, codes)

    def check_code(self, items: list[Item], codes: list[str]) -> list[Verdict]:
        """Verdict per (item, program) pair, for programs already extracted from their responses."""
        self.ground_truth(list({it.id: it for it in items}.values()))
        verdicts: list[Verdict] = [Verdict(False, c, None) for c in codes]
        first_fail: list[tuple[int, str] | None] = [None] * len(items)
        for stage in ("base", "plus"):
            reqs, owners = [], []
            for k, it in enumerate(items):
                gt = self._gt[f"{it.benchmark}:{it.id}"]
                if "error" in gt:
                    first_fail[k] = (0, f"reference solution failed: {gt['error']}")
                    continue
                if first_fail[k] is not None:
                    continue
                nb = len(it.data["base_input"])
                lo, hi = (0, nb) if stage == "base" else (nb, nb + len(it.data["plus_input"]))
                if lo == hi:
                    continue
                srcs = self._inputs(it)[lo:hi]
                exp = gt["expected"][lo:hi]
                runs = _chunks(srcs, exp)
                texts = tuple(f"[{', '.join(srcs[a:b])}], [{', '.join(exp[a:b])}], {lo + a}" for a, b in runs)
                program = codecheck.check_program(
                    codes[k], it.data["entry_point"], it.benchmark, it.data["atol"], self.digests
                )
                # EvalPlus gives each input max(1 s, factor x the reference's time); one call covers a chunk
                times = gt.get("times") or []
                limit = max([self.timeout, *[TIME_FACTOR * sum(times[lo + a : lo + b]) + 1.0 for a, b in runs]])
                reqs.append(_request(program, texts, limit))
                owners.append((k, [lo + a for a, _ in runs]))
            if not reqs:
                continue
            for (k, starts), res in zip(owners, self.executor.run(reqs)):
                for start, r in zip(starts, res):
                    if not r.ok:
                        first_fail[k] = (start, f"{r.status.value}: {r.error or ''}".strip().rstrip(":"))
                        break
                    idx = int(r.output) if r.output is not None else start
                    if idx >= 0:
                        first_fail[k] = (idx, f"wrong output on input #{idx}")
                        break
        for k, it in enumerate(items):
            nb = len(it.data["base_input"])
            fail = first_fail[k]
            base_ok = fail is None or fail[0] >= nb
            verdicts[k] = Verdict(fail is None, codes[k], None if fail is None else fail[1], {"base_ok": base_ok})
        return verdicts


def _request(code: str, texts: tuple[str, ...], timeout: float) -> Any:
    from azr.executor import ExecRequest

    return ExecRequest(code, texts, timeout=timeout)


def score(
    items: list[Item],
    responses: list[str],
    executor: Any,
    code_judge: CodeJudge | None = None,
    template: str = "azr",
    equality: str = "official",
) -> list[Verdict]:
    """Verdicts for parallel lists of items and full responses (prefill + generated text); all one benchmark.
    `equality` is the CRUXEval answer rule (`azr.verify.EQUALITY`)."""
    if not items:
        return []
    kind = BENCHMARKS[items[0].benchmark].kind
    if kind in ("cruxeval-o", "cruxeval-i"):
        return score_cruxeval(items, responses, executor, template, equality)
    if kind == "code":
        judge = code_judge or CodeJudge(executor)
        return judge.check(items, responses)
    return [score_math(it, r) for it, r in zip(items, responses)]
