"""The six prompts: content requirements, rendering (plain and chat), prefill."""

from __future__ import annotations

import pytest
from envhelpers import small_cfg

from azr.buffer import zero_tasks
from azr.tasks import prompts
from azr.tasks.parse import format_ok, parse_answer, parse_proposal
from azr.tasks.types import Task, TaskType


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
