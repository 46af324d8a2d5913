"""A whole scripted self-play step: rewards computed by hand, metrics, dropping, determinism, oversight stop."""

from __future__ import annotations

import random

import pytest
from envhelpers import small_cfg

from azr.buffer import TaskBuffers
from azr.rollout.scripted import ScriptedBackend
from azr.selfplay import SelfPlayContext, StepOutput, seed_buffers, step
from azr.tasks import prompts
from azr.tasks.types import Role, TaskType

# Outcomes per (type, role), consumed in request order: proposals first; then the n=2 Monte-Carlo tries of each
# valid proposal (deduction, abduction, induction); then the B=2 solver prompts (this step's task, then the zero
# task filled from the buffer).
SCRIPT = {
    ("deduction", "propose"): ["valid", "format_error"],
    ("abduction", "propose"): ["valid", "error"],
    ("induction", "propose"): ["valid", "wrong_count"],
    ("deduction", "solve"): ["correct", "wrong", "correct", "format_error"],
    ("abduction", "solve"): ["correct", "correct", "wrong", "correct"],
    ("induction", "solve"): ["wrong", "wrong", "correct", "wrong"],
}

# By hand:
# proposers  deduction: valid, r = 1/2 -> learnability 1 - 1/2 = 0.5 | no <answer> -> invalid -> -1
#            abduction: valid, r = 2/2 -> 0 (paper)                    | program raises -> -1
#            induction: valid, r = 0/2 -> 0                            | 2 inputs, not 4 -> -1
# solvers    deduction: correct +1, format error -1; abduction: wrong -0.5, correct +1;
#            induction: correct +1, wrong -0.5
EXPECTED = {
    ("deduction", "propose"): [0.5, -1.0],
    ("abduction", "propose"): [0.0, -1.0],
    ("induction", "propose"): [0.0, -1.0],
    ("deduction", "solve"): [1.0, -1.0],
    ("abduction", "solve"): [-0.5, 1.0],
    ("induction", "solve"): [1.0, -0.5],
}


class RecordingLearner:
    def __init__(self):
        self.calls = []

    def update(self, samples, advantages):
        self.calls.append((list(samples), list(advantages)))
        return {"loss": 0.0}

    @property
    def model(self):
        return None


def make_ctx(executor, *overrides, backend=None, learner=None, monitor=None, run_dir=None):
    cfg = small_cfg("selfplay.induction_inputs=4", *overrides)
    return SelfPlayContext(
        cfg=cfg,
        rollout=backend or ScriptedBackend(seed=0, script=SCRIPT),
        render=lambda m: prompts.render(m, None, "plain"),
        executor=executor,
        buffers=TaskBuffers(run_dir, cfg),
        rng=random.Random(0),
        learner=learner,
        monitor=monitor,
    )


def rewards_by_group(out: StepOutput) -> dict:
    got: dict = {}
    for s in out.trainable:
        got.setdefault((s.task_type.value, s.role.value), []).append(s.reward)
    return got


def test_scripted_round_gives_the_hand_computed_rewards(executor):
    learner = RecordingLearner()
    ctx = make_ctx(executor, learner=learner)
    out = step(ctx, 1)
    assert rewards_by_group(out) == EXPECTED
    m = out.metrics
    assert m["deduction/propose/valid_rate"] == 0.5 and m["deduction/propose/rejections/no_answer"] == 1
    assert m["abduction/propose/rejections/error"] == 1 and m["induction/propose/rejections/wrong_input_count"] == 1
    assert m["deduction/propose/learnability_mean"] == 0.5 and m["deduction/propose/solve_rate"] == 0.5
    assert m["abduction/propose/solve_rate"] == 1.0 and m["induction/propose/solve_rate"] == 0.0
    assert m["deduction/propose/format_error_rate"] == 0.5 and m["deduction/solve/format_error_rate"] == 0.5
    assert m["deduction/solve/solve_rate"] == 0.5 and m["deduction/solve/reward_mean"] == 0.0
    assert m["buffer/deduction"] == 2 and m["buffer/abduction"] == 2 and m["buffer/induction"] == 2
    assert m["deduction/propose/program_chars_mean"] > 50 and m["deduction/propose/program_ast_nodes_mean"] > 10
    for k in ("generate", "executor", "update", "other", "total"):
        assert f"timing/{k}" in m
    # TRR++: every task x role group of two different rewards whitens to +-1/sqrt(2); equal rewards give 0.
    ((samples, adv),) = learner.calls
    assert len(samples) == 12 and m["update/loss"] == 0.0
    for s, a in zip(samples, adv):
        pair = EXPECTED[(s.task_type.value, s.role.value)]
        sign = 1 if s.reward == max(pair) else -1
        assert a == pytest.approx(sign * 0.5**0.5, abs=1e-4)
    assert {r["type"] for r in out.samples} == {"deduction", "abduction", "induction"}
    assert not out.stop and out.flags == []


def test_official_learnability_variant(executor):
    out = step(make_ctx(executor, "selfplay.learnability=official"), 1)
    got = rewards_by_group(out)
    assert got[("abduction", "propose")] == [-0.5, -1.0] and got[("induction", "propose")] == [-0.5, -1.0]


def test_train_solver_only(executor):
    out = step(make_ctx(executor, "selfplay.train_propose=false"), 1)
    assert {s.role for s in out.trainable} == {Role.SOLVE}


class LongSolverPrompts(ScriptedBackend):
    def count_tokens(self, text: str) -> int:
        return 10**6 if "## Task: Solve" in text else 1


def test_prompts_over_the_limit_are_dropped_and_counted(executor):
    out = step(make_ctx(executor, backend=LongSolverPrompts(seed=0, script=SCRIPT)), 1)
    m = out.metrics
    assert m["deduction/propose/rejections/prompt_too_long"] == 1  # its Monte-Carlo prompt could never be solved
    assert m["deduction/solve/dropped_prompts"] == 2 and m["buffer/deduction"] == 1
    assert all(s.role is Role.PROPOSE for s in out.trainable)


def test_steps_are_deterministic_given_the_seed(executor):
    def run() -> list:
        ctx = make_ctx(executor, "selfplay.batch_size=3", backend=ScriptedBackend(seed=5))
        outs = [step(ctx, s) for s in (1, 2)]
        return [{k: v for k, v in o.metrics.items() if not k.startswith("timing/")} for o in outs] + [
            [t.to_json() for t in ctx.buffers.tasks(TaskType.DEDUCTION)]
        ]

    assert run() == run()


def test_prefilled_skeleton_round(executor):
    ctx = make_ctx(executor, "rollout.prefill_answer=true")
    got = rewards_by_group(step(ctx, 1))
    assert got[("deduction", "propose")][0] == 0.5 and got[("abduction", "solve")] == [-0.5, 1.0]


class StopMonitor:
    def scan(self, text, *, step, task_type, role, rejection=None):
        return ["flag"] if role is Role.PROPOSE and rejection else []

    def action(self, flags):
        return "stop"


def test_oversight_flags_can_stop_the_run(executor):
    out = step(make_ctx(executor, monitor=StopMonitor()), 1)
    assert out.flags == ["flag"] * 3 and out.stop  # the three rejected proposals


def test_buffers_persist_across_steps(executor, tmp_path):
    ctx = make_ctx(executor, run_dir=tmp_path)
    step(ctx, 1)
    assert TaskBuffers(tmp_path, ctx.cfg).sizes() == ctx.buffers.sizes()


def test_model_driven_seeding_grows_both_buffers(executor):
    ctx = make_ctx(executor, "selfplay.batch_size=4", backend=ScriptedBackend(seed=3))
    sizes = seed_buffers(ctx, 6, max_rounds=20)
    assert sizes["deduction"] >= 6 and sizes["abduction"] >= 6 and sizes["induction"] >= 6
    ded = {t.program for t in ctx.buffers.tasks(TaskType.DEDUCTION)}
    assert ded == {t.program for t in ctx.buffers.tasks(TaskType.ABDUCTION)}
    assert all(t.source in ("zero", "seeding") and t.step == 0 for t in ctx.buffers.tasks(TaskType.INDUCTION))


def test_an_answer_drafted_inside_the_reasoning_does_not_end_the_response(executor):
    """selfplay passes `stop_after="</think>"`: the draft `</answer>` inside <think> is not a stop, so the response
    keeps its real answer (+1) instead of being cut into a format error (-1)."""
    script = {**SCRIPT, ("deduction", "solve"): ["draft_correct"] * 4}
    out = step(make_ctx(executor, backend=ScriptedBackend(seed=0, script=script)), 1)
    assert rewards_by_group(out)[("deduction", "solve")] == [1.0, 1.0]
    assert out.metrics["deduction/solve/format_error_rate"] == 0.0
    assert out.metrics["deduction/propose/solve_rate"] == 1.0  # the Monte-Carlo tries too


class CallLog(ScriptedBackend):
    def __init__(self, log, **kw):
        super().__init__(**kw)
        self.log = log

    def generate(self, prompts_, params, n=1):
        self.log.append(("generate", params.stop_after))
        return super().generate(prompts_, params, n)

    def sleep(self):
        self.log.append(("sleep",))

    def wake_up(self):
        self.log.append(("wake_up",))


def test_generation_memory_is_released_around_the_update(executor):
    log: list = []

    class Learner(RecordingLearner):
        def update(self, samples, advantages):
            log.append(("update",))
            return super().update(samples, advantages)

    backend = CallLog(log, seed=0, script=SCRIPT)
    out = step(make_ctx(executor, backend=backend, learner=Learner()), 1)
    # one call per phase (proposals, Monte-Carlo tries, solver prompts), each with the reasoning marker
    assert log == [("generate", "</think>")] * 3 + [("sleep",), ("update",), ("wake_up",)]
    assert out.metrics["rollout/tokens"] > 0
    log.clear()
    step(make_ctx(executor, "rollout.prefill_answer=true", backend=CallLog(log, seed=0, script=SCRIPT)), 1)
    assert log == [("generate", "")] * 3  # the prefilled skeleton is past </think>; no learner, no update


def test_a_correct_answer_in_a_broken_format_is_a_miss(executor):
    """Docs: a format error is a miss in the Monte-Carlo solve rate (the same response as a trained solver sample
    gets -1); a well-formatted correct try is a hit."""
    script = {**SCRIPT, ("deduction", "solve"): ["unformatted_correct", "correct", "unformatted_correct", "correct"]}
    out = step(make_ctx(executor, backend=ScriptedBackend(seed=0, script=script)), 1)
    m = out.metrics
    assert m["deduction/propose/solve_rate"] == 0.5  # one hit of two correct answers: not 1.0
    assert rewards_by_group(out)[("deduction", "propose")] == [0.5, -1.0]  # learnability 1 - 1/2
    assert rewards_by_group(out)[("deduction", "solve")] == [-1.0, 1.0]
    assert m["deduction/solve/solve_rate"] == 0.5 and m["deduction/solve/format_error_rate"] == 0.5


def test_advantage_statistics_show_a_dead_signal(executor):
    out = step(make_ctx(executor, learner=RecordingLearner()), 1)
    m = out.metrics
    for t in ("deduction", "abduction", "induction"):
        for role in ("propose", "solve"):
            p = f"{t}/{role}/"
            assert m[p + "adv_abs_mean"] == pytest.approx(0.5**0.5, abs=1e-4)
            assert m[p + "adv_std"] == pytest.approx(0.5**0.5, abs=1e-4) and m[p + "adv_zero_frac"] == 0.0
    assert m["adv/degenerate_groups"] == 0.0
    # both deduction answers correct: equal rewards, nothing to prefer, every advantage of the group is 0
    script = {**SCRIPT, ("deduction", "solve"): ["correct"] * 4}
    m = step(make_ctx(executor, backend=ScriptedBackend(seed=0, script=script)), 1).metrics
    assert m["deduction/solve/adv_zero_frac"] == 1.0 and m["deduction/solve/adv_abs_mean"] == 0.0
    assert m["adv/degenerate_groups"] == pytest.approx(1 / 6)


def test_grpo_trains_on_groups_of_samples_of_one_prompt(executor):
    """`selfplay.group_size=2`: B=2 proposals per type from one prompt, B=2 answers per type to one task; GRPO
    whitens within those prompt groups, so the advantages are not all 0 (with singletons they were)."""
    learner = RecordingLearner()
    ctx = make_ctx(executor, "selfplay.group_size=2", "algo.advantage=grpo", learner=learner)
    out = step(ctx, 1)
    ((samples, adv),) = learner.calls
    assert rewards_by_group(out) == EXPECTED  # the same script, now as two samples of one prompt per group
    groups: dict = {}
    for s in samples:
        groups.setdefault(s.prompt_group, []).append(s)
    assert len(groups) == 6 and all(
        len(g) == 2 and len({(s.task_type, s.role) for s in g}) == 1 for g in groups.values()
    )
    assert all(abs(a) == pytest.approx(0.5**0.5, abs=1e-4) for a in adv)
    assert out.metrics["adv/degenerate_groups"] == 0.0
    # the two answers of a group answer the same task; the two proposals saw the same prompt
    assert all(len({s.completion.prompt for s in g}) == 1 for g in groups.values())
