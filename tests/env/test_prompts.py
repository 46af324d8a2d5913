"""The six prompts: content requirements, rendering (plain and chat), prefill."""

from __future__ import annotations

import re

import pytest
from envhelpers import small_cfg

from azr.buffer import zero_tasks
from azr.executor import policy
from azr.tasks import prompts
from azr.tasks.parse import format_ok, parse_answer, parse_proposal
from azr.tasks.types import Task, TaskType
from azr.validate import OUTPUT_REASONS, PROGRAM_REASONS, RUN_REASONS


class FakeChatTokenizer:
    """Stands in for a tokenizer with a chat template."""

    def apply_chat_template(self, messages, tokenize=False, add_generation_prompt=False):
        text = "".join(f"<|{m['role']}|>{m['content']}<|end|>" for m in messages)
        return text + ("<|assistant|>" if add_generation_prompt else "")


def _refs(n: int) -> list[Task]:
    z = zero_tasks()[0]
    return [Task(TaskType.DEDUCTION, f"def f(a):\n    return a + {i}", (str(i),), (str(2 * i),)) for i in range(n)] or [
        z
    ]


@pytest.mark.parametrize("t", [TaskType.DEDUCTION, TaskType.ABDUCTION])
def test_proposer_prompt_shows_k_references(t):
    cfg = small_cfg()
    msgs = prompts.proposer_messages(t, _refs(6), None, cfg)
    user = msgs[0]["content"]
    assert (
        user.count("<reference_") == 6 and f"Propose a{'n' if t is TaskType.ABDUCTION else ''} {t.value} task" in user
    )
    assert "```python" in user and "```input" in user
    assert msgs[-1] == {"role": "assistant", "content": "<think>"}


def test_difficulty_criteria_match_the_proposers_own_task():
    cfg = small_cfg()
    ded = prompts.proposer_messages(TaskType.DEDUCTION, [], None, cfg)[0]["content"]
    abd = prompts.proposer_messages(TaskType.ABDUCTION, [], None, cfg)[0]["content"]
    assert "predicting the output" in ded and "predicting the output" not in abd
    assert "finding an input" in abd and "finding an input" not in ded


def test_induction_prompts():
    cfg = small_cfg("selfplay.induction_inputs=10")
    prog = zero_tasks()[0]
    user = prompts.proposer_messages(TaskType.INDUCTION, [], prog, cfg)[0]["content"]
    assert "Write 10 different inputs" in user and prog.program in user and "```message" in user
    ind = zero_tasks()[2]  # 6 pairs -> 3 shown
    solve = prompts.solver_messages(ind, cfg)[0]["content"]
    assert "input_2" in solve and "input_3" not in solve and ind.message in solve


def test_solver_prompts_show_the_right_half_of_the_triplet():
    cfg = small_cfg()
    t = Task(TaskType.DEDUCTION, "def f(a):\n    return a * 2", ("21",), ("42",))
    ded = prompts.solver_messages(t, cfg)[0]["content"]
    abd = prompts.solver_messages(t.with_type(TaskType.ABDUCTION), cfg)[0]["content"]
    assert "```input\n21\n```" in ded and "42" not in ded
    assert "```output\n42\n```" in abd and "21" not in abd


def test_render_plain_and_chat():
    cfg = small_cfg()
    msgs = prompts.solver_messages(zero_tasks()[0], cfg)
    plain = prompts.render(msgs, None, "plain")
    assert plain.startswith(prompts.PREAMBLE) and "User: ## Task: Solve a deduction task" in plain
    assert plain.endswith("\nAssistant: <think>")
    chat = prompts.render(msgs, FakeChatTokenizer(), "chat")
    assert chat.startswith("<|system|>" + prompts.PREAMBLE) and chat.endswith("<|assistant|><think>")
    with pytest.raises(ValueError):
        prompts.render(msgs, None, "chat")


def test_prefilled_answer_skeleton_round_trips_through_the_parser():
    cfg = small_cfg("rollout.prefill_answer=true")
    msgs = prompts.proposer_messages(TaskType.DEDUCTION, _refs(2), None, cfg)
    prefix = prompts.response_prefix(msgs)
    assert prompts.render(msgs, None, "plain").endswith(prefix)
    assert prefix.endswith("<answer>\n```python\ndef f(")
    text = prefix + "x):\n    return x\n```\n```input\n1\n```\n</answer>"
    assert format_ok(text) and parse_proposal(TaskType.DEDUCTION, text, 10).inputs == ("1",)
    solve = prompts.solver_messages(zero_tasks()[0], cfg)
    answer = prompts.response_prefix(solve) + "'Hello world'\n```\n</answer>"
    assert parse_answer(TaskType.DEDUCTION, answer).text == "'Hello world'"


def _named(name: str, text: str) -> bool:
    return re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", text) is not None


@pytest.mark.parametrize("t", [TaskType.DEDUCTION, TaskType.ABDUCTION])
def test_proposer_prompt_names_every_rule_the_validator_applies(t):
    """A proposer is penalised (-1) for every rejection; each rule must be in its prompt, with
    `selfplay.prompt_rules=full` the policy's lists word for word (generated from them), and the length limit."""
    cfg = small_cfg("selfplay.max_program_chars=1234", "selfplay.prompt_rules=full")
    user = prompts.proposer_messages(t, _refs(2), None, cfg)[0]["content"]
    rules = prompts.program_rules(cfg, proposer=True)
    # every reason a well-formatted proposal's program can be rejected for (sandbox_error is the executor's own
    # failure and is retried, not the program's fault)
    program_reasons = {*PROGRAM_REASONS, *RUN_REASONS, *OUTPUT_REASONS, "duplicate"} - {"sandbox_error"}
    assert program_reasons == set(rules)
    assert all(text in user for text in rules.values())
    lists = policy.FORBIDDEN_MODULES | policy.FORBIDDEN_CALLS | policy.SHADOWABLE_CALLS | policy.FORBIDDEN_NAMES
    missing = [n for n in sorted(lists | policy.FORBIDDEN_ATTRS) if not _named(n, user)]
    assert missing == [] and "relative imports" in user
    assert (
        "at most 1234 characters" in user
        and "1234" not in prompts.proposer_messages(t, [], None, small_cfg())[0]["content"]
    )


@pytest.mark.parametrize("t", list(TaskType))
def test_compact_rules_are_stricter_than_the_policy(t):
    """The default prompt states a shorter rule that implies the policy's: every allowed module passes it, every
    refused call is named, and every refused name and attribute is covered by a stated prefix or `mro`; so a program
    (or input) that follows the prompt never meets a policy rejection."""
    cfg = small_cfg("selfplay.max_program_chars=1234")
    given = zero_tasks()[0]
    user = prompts.proposer_messages(t, _refs(2), given if t is TaskType.INDUCTION else None, cfg)[0]["content"]
    for m in prompts.ALLOWED_IMPORTS:
        assert m not in policy.FORBIDDEN_MODULES and policy.check(f"import {m}\ndef f(x):\n    return x") is None
        if t is not TaskType.INDUCTION:
            assert _named(m, user)
    assert all(_named(n, user) for n in policy.FORBIDDEN_CALLS | policy.SHADOWABLE_CALLS)
    covered = lambda n: n == "mro" or n.startswith(prompts.NAME_PREFIXES)  # noqa: E731
    assert all(covered(n) for n in policy.FORBIDDEN_NAMES | policy.FORBIDDEN_ATTRS)
    assert all(n.startswith("__") for n in policy.FORBIDDEN_NAMES)  # names: only the `__` prefix is stated for them
    assert all(f"`{p}`" in user for p in prompts.NAME_PREFIXES) and "`.mro`" in user
    full = prompts.proposer_messages(
        t, _refs(2), given if t is TaskType.INDUCTION else None, small_cfg("selfplay.prompt_rules=full")
    )[0]["content"]
    assert len(user) < 0.75 * len(full)


def test_induction_prompts_name_the_rules_for_inputs_and_programs():
    cfg = small_cfg("selfplay.prompt_rules=full")
    given = zero_tasks()[0]
    proposer = prompts.proposer_messages(TaskType.INDUCTION, [], given, cfg)[0]["content"]
    names = policy.FORBIDDEN_CALLS | policy.SHADOWABLE_CALLS | policy.FORBIDDEN_NAMES | policy.FORBIDDEN_ATTRS
    assert all(_named(n, proposer) for n in names)  # inputs are checked by the same policy
    assert "different inputs" in proposer and "not None" in proposer and "must not contain the program" in proposer
    # the induction solver writes a program: the program rules apply, the proposer-only ones do not
    task = Task(TaskType.INDUCTION, given.program, ("1", "2"), ("1", "2"), message="identity")
    solver = prompts.solver_messages(task, cfg)[0]["content"]
    assert all(text in solver for text in prompts.program_rules(cfg, proposer=False).values())
    assert "characters" not in solver
