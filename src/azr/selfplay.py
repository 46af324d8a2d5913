"""One self-play step: the paper's Algorithm 1 (propose -> validate -> learnability -> buffer; solve -> verify ->
reward; TRR++; one update).

`step()` reads like the algorithm; the helpers below it do the plumbing. For CPU speed every phase makes one
`rollout.generate` call for all task types at once (all proposer prompts, all Monte-Carlo tries, all solver
prompts) and one executor batch. Prompts longer than `rollout.max_prompt_tokens` are dropped and counted, never
truncated. Monte-Carlo tries only estimate learnability; they are not trained on (paper and official code).

This module does not write files: the trainer writes metrics, samples, flags and checkpoints from `StepOutput`.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from azr import rewards
from azr.algo import advantages
from azr.buffer import TaskBuffers
from azr.config import Config
from azr.learner.base import Learner, Sample
from azr.metrics import PhaseTimer, RoleStats
from azr.rollout.base import Completion, RolloutBackend, SamplingParams
from azr.tasks import parse, prompts
from azr.tasks.spec import spec
from azr.tasks.types import Role, Task, TaskType
from azr.validate import Validation, as_candidate, validate_candidates
from azr.verify import Verdict, verify_answers


@dataclass
class SelfPlayContext:
    cfg: Config
    rollout: RolloutBackend
    render: Callable[[list[dict]], str]
    """messages -> prompt text (chat or plain template), ending with the response prefix (`<think>` ...)."""
    executor: Any
    buffers: TaskBuffers
    rng: random.Random
    learner: Learner | None = None
    """None: no update (scripted dry runs)."""
    monitor: Any | None = None
    """`azr.oversight.Monitor`; None disables scanning."""


@dataclass
class StepOutput:
    metrics: dict[str, float]
    samples: list[dict]
    """A few proposals and answers per task type and role, for `samples/step_N.jsonl`."""
    flags: list[Any]
    stop: bool = False
    """The monitor asked to stop the run."""
    trainable: list[Sample] = field(default_factory=list)
    """The samples the update was (or, without a learner, would have been) made on."""


@dataclass
class Rollout:
    """One prompt and its response. `task` is the task being solved, or the program given to an induction
    proposer; `completion` is None when the prompt was dropped for length."""

    task_type: TaskType
    role: Role
    messages: list[dict]
    prompt: str
    task: Task | None = None
    completion: Completion | None = None
    validation: Validation | None = None
    verdict: Verdict | None = None
    reward: float = 0.0

    @property
    def text(self) -> str:
        """The response as parsers see it: the prefilled prefix + the generated text."""
        return prompts.response_prefix(self.messages) + (self.completion.text if self.completion else "")


def step(ctx: SelfPlayContext, step_no: int) -> StepOutput:
    cfg, sp = ctx.cfg, ctx.cfg.selfplay
    types = [TaskType(t) for t in sp.task_types]
    timer, stats = PhaseTimer(), RoleStats()

    # 1. PROPOSE: B prompts per task type, K references drawn from the buffers as they are at the start of the step.
    proposals = [propose_prompt(ctx, t) for t in types for _ in range(sp.batch_size)]
    generate(ctx, proposals, 1, timer)

    # 2. VALIDATE every proposal through the executor (format, program checks, execution, determinism, dedup).
    with timer.phase("executor"):
        validate(ctx, proposals, step_no)

    # 3. LEARNABILITY from n Monte-Carlo solver tries per valid proposal; valid tasks join the buffers.
    solve_rates, attempts = monte_carlo(ctx, proposals, timer)
    new_tasks = [r.validation.task for r in proposals if r.validation and r.validation.task]
    ctx.buffers.add(new_tasks)
    for r, rate in zip(proposals, solve_rates):
        score_proposal(ctx, r, rate, stats)

    # 4. SOLVE: B tasks per type (this step's valid proposals, filled from the buffer), verified by execution.
    solvers = [
        solve_prompt(ctx, t, task)
        for t in types
        for task in ctx.buffers.solver_batch(t, new_tasks, sp.batch_size, ctx.rng, step_no)
    ]
    generate(ctx, solvers, 1, timer)
    with timer.phase("executor"):
        verify(ctx, solvers)
    for r in solvers:
        score_answer(ctx, r, stats)

    # 5. OVERSIGHT scan of every response (Monte-Carlo tries too), then TRR++ over the six task x role groups and
    #    one policy update.
    flags = scan(ctx, proposals + attempts + solvers, step_no)
    trainable = [r for r in (proposals if sp.train_propose else []) + solvers if r.completion is not None]
    samples = [to_sample(r, step_no, i) for i, r in enumerate(trainable)]
    metrics = update(ctx, samples, timer)

    metrics |= stats.summary() | drop_counts(proposals + solvers) | timer.summary()
    metrics["rollout/tokens"] = float(generated_tokens(proposals + attempts + solvers))
    metrics |= {f"buffer/{k}": float(v) for k, v in ctx.buffers.sizes().items()} | {"step": float(step_no)}
    stop = ctx.monitor is not None and bool(flags) and ctx.monitor.action(flags) == "stop"
    return StepOutput(
        metrics, inspection_samples(proposals + solvers, cfg.trainer.samples_per_step), flags, stop, samples
    )


def seed_buffers(
    ctx: SelfPlayContext, size: int, max_rounds: int = 50, progress: Callable[[int, int], None] | None = None
) -> dict[str, int]:
    """Model-driven seeding before step 1 (paper §3.3.1, `selfplay.seed_size`): the untrained policy proposes with
    the normal proposer prompts (references from the growing seed set) until the deduction/abduction buffers hold
    `size` tasks (each valid deduction/abduction proposal enters *both*, D_abd = D_ded = D_seed), then the
    induction buffer is grown the same way. No solving, no rewards, no update. Seeds are tagged `seeding`, step 0,
    and are never evicted. Gives up after `max_rounds` rounds per stage. Returns the buffer sizes.
    `progress(done, total)` is called after every round with the seeded buffers' sizes, each capped at `size`."""
    sp = ctx.cfg.selfplay
    both = [TaskType.DEDUCTION, TaskType.ABDUCTION]
    stages = [(both, both), ([TaskType.INDUCTION], [TaskType.INDUCTION])]
    timer = PhaseTimer()
    seeded = [t for _, filled in stages for t in filled]

    def report() -> None:
        if progress is not None:
            progress(sum(min(ctx.buffers.size(t), size) for t in seeded), size * len(seeded))

    report()
    for proposing, filled in stages:
        for _ in range(max_rounds):
            if all(ctx.buffers.size(t) >= size for t in filled):
                break
            rollouts = [propose_prompt(ctx, t) for t in proposing for _ in range(sp.batch_size)]
            generate(ctx, rollouts, 1, timer)
            validate(ctx, rollouts, 0)
            valid = [
                replace(r.validation.task, source="seeding") for r in rollouts if r.validation and r.validation.task
            ]
            ctx.buffers.add([v.with_type(t) for v in valid for t in (filled if v.type in both else [v.type])])
            report()
    return ctx.buffers.sizes()


# ---------------------------------------------------------------------------------------------------------------
# prompts and generation


def propose_prompt(ctx: SelfPlayContext, task_type: TaskType) -> Rollout:
    refs = ctx.buffers.sample_references(task_type, ctx.cfg.selfplay.references, ctx.rng)
    given = refs[0] if not spec(task_type).proposer_writes_program and refs else None
    messages = prompts.proposer_messages(task_type, [] if given else refs, given, ctx.cfg)
    return Rollout(task_type, Role.PROPOSE, messages, ctx.render(messages), task=given)


def solve_prompt(ctx: SelfPlayContext, task_type: TaskType, task: Task) -> Rollout:
    task = task if task.type is task_type else task.with_type(task_type)
    messages = prompts.solver_messages(task, ctx.cfg)
    return Rollout(task_type, Role.SOLVE, messages, ctx.render(messages), task=task)


def sampling_params(ctx: SelfPlayContext, stop_after: str) -> SamplingParams:
    ro = ctx.cfg.rollout
    return SamplingParams(
        max_new_tokens=ro.max_new_tokens,
        temperature=ro.temperature,
        top_p=ro.top_p,
        stop_after=stop_after,
        seed=ctx.rng.randrange(2**31),
        suppress_eos=ro.suppress_eos,
    )


def generate(ctx: SelfPlayContext, rollouts: Sequence[Rollout], n: int, timer: PhaseTimer) -> list[list[Completion]]:
    """One backend call for all prompts that fit; sets `completion` to the first of the n completions and returns
    all of them (empty lists for dropped prompts)."""
    limit = ctx.cfg.rollout.max_prompt_tokens
    keep = [i for i, r in enumerate(rollouts) if ctx.rollout.count_tokens(r.prompt) <= limit]
    # An `</answer>` drafted inside <think> must not end a response; one call's prompts share their prefill.
    (stop_after,) = {prompts.stop_after(rollouts[i].messages) for i in keep} or {""}
    with timer.phase("generate"):
        got = ctx.rollout.generate([rollouts[i].prompt for i in keep], sampling_params(ctx, stop_after), n) if keep else []
    out: list[list[Completion]] = [[] for _ in rollouts]
    for i, comps in zip(keep, got):
        out[i] = list(comps)
        rollouts[i].completion = comps[0] if comps else None
    return out


# ---------------------------------------------------------------------------------------------------------------
# validation, Monte-Carlo learnability, verification


def validate(ctx: SelfPlayContext, proposals: Sequence[Rollout], step_no: int) -> None:
    n_inputs = ctx.cfg.selfplay.induction_inputs
    live = [r for r in proposals if r.completion is not None]
    items = [as_candidate(r.task_type, parse.parse_proposal(r.task_type, r.text, n_inputs), r.task) for r in live]
    for r, v in zip(live, validate_candidates(items, ctx.executor, ctx.buffers, step_no, ctx.cfg)):
        r.validation = v


def monte_carlo(
    ctx: SelfPlayContext, proposals: Sequence[Rollout], timer: PhaseTimer
) -> tuple[list[float | None], list[Rollout]]:
    """Solve rate r̄ of each valid proposal over n solver tries (binary correctness; a format error counts as a
    miss), and the tries themselves (for oversight; they are not trained on). A proposal whose solver prompt is too
    long is rejected (`prompt_too_long`): it could never be solved."""
    valid = [r for r in proposals if r.validation is not None and r.validation.task is not None]
    tries = [solve_prompt(ctx, r.task_type, r.validation.task) for r in valid]  # type: ignore[union-attr]
    completions = generate(ctx, tries, ctx.cfg.selfplay.mc_samples, timer)
    attempts, owner = [], []
    for k, (t, comps) in enumerate(zip(tries, completions)):
        for c in comps:
            attempts.append(Rollout(t.task_type, Role.SOLVE, t.messages, t.prompt, task=t.task, completion=c))
            owner.append(k)
    answers = [parse.parse_answer(a.task_type, a.text) for a in attempts]
    with timer.phase("executor"):
        verdicts = verify_answers([a.task for a in attempts], answers, ctx.executor)
    hits: list[list[bool]] = [[] for _ in valid]
    for k, v in zip(owner, verdicts):
        hits[k].append(v.correct)
    rate_of = {}
    for r, h, comps in zip(valid, hits, completions):
        if not comps:
            r.validation = Validation(None, "prompt_too_long")
            continue
        rate_of[id(r)] = sum(h) / len(h)
    return [rate_of.get(id(r)) for r in proposals], attempts


def verify(ctx: SelfPlayContext, solvers: Sequence[Rollout]) -> None:
    live = [r for r in solvers if r.completion is not None]
    answers = [parse.parse_answer(r.task_type, r.text) for r in live]
    for r, v in zip(live, verify_answers([r.task for r in live], answers, ctx.executor)):
        r.verdict = v


# ---------------------------------------------------------------------------------------------------------------
# rewards, oversight, update, reporting


def score_proposal(ctx: SelfPlayContext, r: Rollout, solve_rate: float | None, stats: RoleStats) -> None:
    if r.completion is None or r.validation is None:
        return
    sp = ctx.cfg.selfplay
    fmt = parse.format_ok(r.text)
    learn = rewards.learnability(solve_rate, sp.learnability) if r.validation.valid else None
    r.reward = rewards.proposer_reward(r.validation.valid, fmt, learn or 0.0, sp)
    program = r.validation.task.program if r.validation.task and r.task_type is not TaskType.INDUCTION else ""
    stats.proposal(
        r.task_type,
        format_ok=fmt,
        reason=r.validation.reason,
        reward=r.reward,
        response_len=len(r.completion.token_ids),
        program=program,
        solve_rate=solve_rate,
        learnability=learn,
    )


def score_answer(ctx: SelfPlayContext, r: Rollout, stats: RoleStats) -> None:
    if r.completion is None or r.verdict is None:
        return
    fmt = parse.format_ok(r.text)
    fraction = r.verdict.fraction if r.task_type is TaskType.INDUCTION else None
    r.reward = rewards.solver_reward(fmt, r.verdict.correct, fraction, ctx.cfg.selfplay)
    answer = parse.parse_answer(r.task_type, r.text)
    program = answer.text if r.task_type is TaskType.INDUCTION and isinstance(answer, parse.Answer) else ""
    stats.answer(
        r.task_type,
        format_ok=fmt,
        correct=r.verdict.correct,
        reward=r.reward,
        response_len=len(r.completion.token_ids),
        program=program,
    )


def scan(ctx: SelfPlayContext, rollouts: Sequence[Rollout], step_no: int) -> list[Any]:
    if ctx.monitor is None:
        return []
    flags: list[Any] = []
    for r in rollouts:
        if r.completion is None:
            continue
        rejection = r.validation.detail or r.validation.reason if r.validation and not r.validation.valid else None
        flags += ctx.monitor.scan(r.text, step=step_no, task_type=r.task_type, role=r.role, rejection=rejection)
    return flags


def to_sample(r: Rollout, step_no: int, index: int) -> Sample:
    assert r.completion is not None
    group = f"{step_no}/{r.task_type.value}/{r.role.value}/{index}"
    return Sample(r.task_type, r.role, r.completion, r.reward, group)


def update(ctx: SelfPlayContext, samples: Sequence[Sample], timer: PhaseTimer) -> dict[str, float]:
    """TRR++ (or the configured estimator) over all samples, then one learner update if there is a learner."""
    algo = ctx.cfg.algo
    adv = advantages.compute(
        algo.advantage,
        [s.reward for s in samples],
        [(s.task_type.value, s.role.value) for s in samples],
        [s.prompt_group for s in samples],
        [len(s.completion.token_ids) for s in samples],
        algo.stats,
    )
    if ctx.learner is None or not samples:
        return {}
    with timer.phase("update"):
        ctx.rollout.sleep()  # vLLM frees its KV cache for the update; a no-op for in-process backends
        try:
            result = ctx.learner.update(samples, [float(a) for a in adv])
        finally:
            ctx.rollout.wake_up()
    return {f"update/{k}": float(v) for k, v in result.items()}


def generated_tokens(rollouts: Sequence[Rollout]) -> int:
    return sum(len(r.completion.token_ids) for r in rollouts if r.completion is not None)


def drop_counts(rollouts: Sequence[Rollout]) -> dict[str, float]:
    out: dict[str, float] = {}
    for r in rollouts:
        if r.completion is None:
            key = f"{r.task_type.value}/{r.role.value}/dropped_prompts"
            out[key] = out.get(key, 0.0) + 1.0
    return out


def inspection_samples(rollouts: Sequence[Rollout], per_group: int) -> list[dict]:
    """The first `per_group` responses of each task type x role, as plain dicts."""
    seen: dict[tuple[str, str], int] = {}
    out = []
    for r in rollouts:
        key = (r.task_type.value, r.role.value)
        if r.completion is None or seen.get(key, 0) >= per_group:
            continue
        seen[key] = seen.get(key, 0) + 1
        rec: dict[str, Any] = {"type": key[0], "role": key[1], "response": r.text, "reward": r.reward}
        if r.validation is not None:
            rec |= {"valid": r.validation.valid, "reason": r.validation.reason, "detail": r.validation.detail}
            if r.validation.task is not None:
                rec["task"] = r.validation.task.to_json()
        if r.verdict is not None:
            rec |= {
                "correct": r.verdict.correct,
                "fraction": r.verdict.fraction,
                "reason": r.verdict.reason,
                "task": r.task.to_json() if r.task else None,
            }
        out.append(rec)
    return out
