"""One self-play step: the paper's Algorithm 1 (propose -> validate -> learnability -> buffer; solve -> verify ->
reward; TRR++; one update).

`step()` reads like the algorithm: every phase is a helper that takes values and returns values (completions,
validations, solve rates, verdicts, rewards, advantages), and the step passes them on. For CPU speed every phase
makes one `rollout.generate` call for all task types at once (all proposer prompts, all Monte-Carlo tries, all
solver prompts) and one executor batch. Prompts longer than `rollout.max_prompt_tokens` are dropped and counted,
never truncated. Monte-Carlo tries only estimate learnability; they are not trained on (paper and official code).

Groups: with `selfplay.group_size` G > 1 each task type's B proposals come from B/G proposer prompts (G samples of
the same prompt: the same references, or the same given program) and its B answers from B/G tasks (G samples
each). A prompt's G samples form its prompt group, which the per-prompt estimators (`grpo`, `rloo`) whiten within;
TRR++ whitens within the six task type x role groups either way.

This module does not write files: the trainer writes metrics, samples, flags and checkpoints from `StepOutput`.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from azr import rewards
from azr.algo import advantages
from azr.buffer import TaskBuffers
from azr.config import Config
from azr.learner.base import Learner, Sample
from azr.metrics import PhaseTimer, advantage_metrics
from azr.rollout.base import Completion, RolloutBackend, SamplingParams
from azr.step_report import Record, drop_counts, generated_tokens, inspection_samples, role_metrics
from azr.tasks import parse, prompts
from azr.tasks.spec import spec
from azr.tasks.types import Role, Task, TaskType
from azr.validate import Validation, as_candidate, validate_candidates
from azr.verify import Executes, Verdict, verify_answers


class Oversight(Protocol):
    """The monitor seam (`azr.oversight.Monitor`): flags per response, and the action the flags call for."""

    def scan(self, text: str, *, step: int, task_type: Any, role: Any, rejection: str | None = None) -> list[Any]: ...

    def action(self, flags: list[Any]) -> str: ...


@dataclass
class SelfPlayContext:
    cfg: Config
    rollout: RolloutBackend
    render: Callable[[list[dict[str, str]]], str]
    """messages -> prompt text (chat or plain template), ending with the response prefix (`<think>` ...)."""
    executor: Executes
    buffers: TaskBuffers
    rng: random.Random
    learner: Learner | None = None
    """None: no update (scripted dry runs)."""
    monitor: Oversight | None = None
    """`azr.oversight.Monitor`; None disables scanning."""


@dataclass
class StepOutput:
    metrics: dict[str, float]
    samples: list[dict[str, Any]]
    """A few proposals and answers per task type and role, for `samples/step_N.jsonl`."""
    flags: list[Any]
    stop: bool = False
    """The monitor asked to stop the run."""
    trainable: list[Sample] = field(default_factory=list)
    """The samples the update was (or, without a learner, would have been) made on."""


@dataclass(frozen=True)
class Rollout:
    """One prompt and one response. `task` is the task being solved, or the program given to an induction
    proposer; `completion` is None when the prompt was dropped for length; `group` numbers the prompt within its
    phase (a prompt's G samples share it)."""

    task_type: TaskType
    role: Role
    messages: list[dict[str, str]]
    prompt: str
    task: Task | None = None
    completion: Completion | None = None
    group: int = 0

    @property
    def text(self) -> str:
        """The response as parsers see it: the prefilled prefix + the generated text."""
        return prompts.response_prefix(self.messages) + (self.completion.text if self.completion else "")


def step(ctx: SelfPlayContext, step_no: int) -> StepOutput:
    sp, algo, g = ctx.cfg.selfplay, ctx.cfg.algo, ctx.cfg.selfplay.group_size
    types = [TaskType(t) for t in sp.task_types]
    timer = PhaseTimer()

    # 1. PROPOSE: B proposals per task type (B/G prompts x G samples), K references from the buffers as they are now.
    proposals = flat(
        generate(ctx, [propose_prompt(ctx, t) for t in types for _ in range(sp.batch_size // g)], g, timer)
    )

    # 2. VALIDATE every proposal through the executor (format, program checks, execution, determinism, dedup).
    validations = validate(ctx, proposals, step_no, timer)

    # 3. LEARNABILITY from n Monte-Carlo solver tries per valid proposal; valid tasks join the buffers.
    solve_rates, validations, attempts = monte_carlo(ctx, proposals, validations, timer)
    new_tasks = [v.task for v in validations if v is not None and v.task is not None]
    ctx.buffers.add(new_tasks)
    propose_rewards = [proposer_reward(ctx, *x) for x in zip(proposals, validations, solve_rates)]

    # 4. SOLVE: B answers per type (B/G tasks x G: this step's valid proposals, filled from the buffer), verified.
    batch = [
        (t, task)
        for t in types
        for task in ctx.buffers.solver_batch(t, new_tasks, sp.batch_size // g, ctx.rng, step_no)
    ]
    solvers = flat(generate(ctx, [solve_prompt(ctx, t, task) for t, task in batch], g, timer))
    verdicts = verify(ctx, solvers, timer)
    solve_rewards = [solver_reward(ctx, r, v) for r, v in zip(solvers, verdicts)]

    # 5. OVERSIGHT scan of every response (Monte-Carlo tries too).
    flags = scan(ctx, proposals + attempts + solvers, validations + [None] * (len(attempts) + len(solvers)), step_no)

    # 6. TRR++ (paper Eq. 8): whiten the rewards within each task type x role group (six baselines; `algo.advantage`
    #    picks another estimator), then one policy update on all trained samples.
    trained = samples_of(proposals if sp.train_propose else [], propose_rewards, step_no)
    trained += samples_of(solvers, solve_rewards, step_no)
    adv = advantages.compute(
        algo.advantage,
        [s.reward for s in trained],
        [(s.task_type.value, s.role.value) for s in trained],
        [s.prompt_group for s in trained],
        [len(s.completion.token_ids) for s in trained],
        algo.stats,
    ).tolist()
    metrics = update(ctx, trained, adv, timer)

    metrics |= role_metrics(sp, proposals, validations, solve_rates, propose_rewards, solvers, verdicts, solve_rewards)
    metrics |= advantage_metrics(trained, adv) | drop_counts(proposals + solvers) | timer.summary()
    metrics |= {"rollout/tokens": float(generated_tokens(proposals + attempts + solvers)), "step": float(step_no)}
    metrics |= {f"buffer/{k}": float(v) for k, v in ctx.buffers.sizes().items()}
    stop = ctx.monitor is not None and bool(flags) and ctx.monitor.action(flags) == "stop"
    records: list[Record] = [(r, v, None, x) for r, v, x in zip(proposals, validations, propose_rewards)]
    records += [(r, None, v, x) for r, v, x in zip(solvers, verdicts, solve_rewards)]
    return StepOutput(metrics, inspection_samples(records, ctx.cfg.trainer.samples_per_step), flags, stop, trained)


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
            rollouts = flat(
                generate(ctx, [propose_prompt(ctx, t) for t in proposing for _ in range(sp.batch_size)], 1, timer)
            )
            valid = [replace(v.task, source="seeding") for v in validate(ctx, rollouts, 0, timer) if v and v.task]
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


def generate(ctx: SelfPlayContext, rollouts: Sequence[Rollout], n: int, timer: PhaseTimer) -> list[list[Rollout]]:
    """One backend call for all prompts that fit. Per prompt: its n responses (numbered by the prompt's `group`),
    or, for a prompt dropped for length, the prompt alone with no completion."""
    limit = ctx.cfg.rollout.max_prompt_tokens
    keep = [i for i, r in enumerate(rollouts) if ctx.rollout.count_tokens(r.prompt) <= limit]
    # An `</answer>` drafted inside <think> must not end a response; one call's prompts share their prefill.
    (stop_after,) = {prompts.stop_after(rollouts[i].messages) for i in keep} or {""}
    with timer.phase("generate"):
        got = (
            ctx.rollout.generate([rollouts[i].prompt for i in keep], sampling_params(ctx, stop_after), n)
            if keep
            else []
        )
    out = [[replace(r, group=i)] for i, r in enumerate(rollouts)]
    for i, comps in zip(keep, got):
        out[i] = [replace(rollouts[i], completion=c, group=i) for c in comps]
    return out


def flat(groups: Sequence[Sequence[Rollout]]) -> list[Rollout]:
    return [r for g in groups for r in g]


# ---------------------------------------------------------------------------------------------------------------
# validation, Monte-Carlo learnability, verification


def validate(
    ctx: SelfPlayContext, proposals: Sequence[Rollout], step_no: int, timer: PhaseTimer
) -> list[Validation | None]:
    """One Validation per proposal (None for a dropped prompt); duplicates of buffered tasks are rejected."""
    n_inputs = ctx.cfg.selfplay.induction_inputs
    live = [i for i, r in enumerate(proposals) if r.completion is not None]
    items = [
        as_candidate(r.task_type, parse.parse_proposal(r.task_type, r.text, n_inputs), r.task)
        for r in map(proposals.__getitem__, live)
    ]
    out: list[Validation | None] = [None] * len(proposals)
    with timer.phase("executor"):
        for i, v in zip(live, validate_candidates(items, ctx.executor, ctx.buffers.contains, step_no, ctx.cfg)):
            out[i] = v
    return out


def monte_carlo(
    ctx: SelfPlayContext, proposals: Sequence[Rollout], validations: Sequence[Validation | None], timer: PhaseTimer
) -> tuple[list[float | None], list[Validation | None], list[Rollout]]:
    """(solve rate r̄ of each valid proposal over n solver tries, the validations with `prompt_too_long` for a
    proposal whose solver prompt is too long (it could never be solved), the tries themselves (for oversight; they
    are not trained on)). A try counts as solved only when it is correct *and* well formatted (`rewards.solved`):
    a format error is a miss, as the same response as a trained solver sample gets the format penalty."""
    valid = [i for i, v in enumerate(validations) if v is not None and v.task is not None]
    tries = [solve_prompt(ctx, proposals[i].task_type, validations[i].task) for i in valid]  # type: ignore[union-attr, arg-type]
    per_try = generate(ctx, tries, ctx.cfg.selfplay.mc_samples, timer)
    attempts = [a for rs in per_try for a in rs if a.completion is not None]
    verdicts = iter(verify(ctx, attempts, timer))
    rates: list[float | None] = [None] * len(proposals)
    out = list(validations)
    for i, rs in zip(valid, per_try):
        if rs[0].completion is None:
            out[i] = Validation(None, "prompt_too_long")
            continue
        hits = [rewards.solved(parse.format_ok(a.text), v is not None and v.correct) for a, v in zip(rs, verdicts)]
        rates[i] = sum(hits) / len(hits)
    return rates, out, attempts


def verify(ctx: SelfPlayContext, solvers: Sequence[Rollout], timer: PhaseTimer) -> list[Verdict | None]:
    """One Verdict per answer (None for a dropped prompt)."""
    live = [i for i, r in enumerate(solvers) if r.completion is not None]
    answers = [parse.parse_answer(solvers[i].task_type, solvers[i].text) for i in live]
    out: list[Verdict | None] = [None] * len(solvers)
    with timer.phase("executor"):
        for i, v in zip(live, verify_answers([solvers[i].task for i in live], answers, ctx.executor)):  # type: ignore[misc]
            out[i] = v
    return out


# ---------------------------------------------------------------------------------------------------------------
# rewards, oversight, update


def proposer_reward(ctx: SelfPlayContext, r: Rollout, v: Validation | None, solve_rate: float | None) -> float | None:
    """Paper Eq. 4 with the format shaping of Eq. 6; None for a dropped prompt (nothing to train)."""
    if r.completion is None or v is None:
        return None
    sp = ctx.cfg.selfplay
    learn = rewards.learnability(solve_rate, sp.learnability) if v.valid else 0.0
    return rewards.proposer_reward(v.valid, parse.format_ok(r.text), learn, sp)


def solver_reward(ctx: SelfPlayContext, r: Rollout, v: Verdict | None) -> float | None:
    """Paper Eq. 5 with the format shaping of Eq. 6; None for a dropped prompt."""
    if r.completion is None or v is None:
        return None
    fraction = v.fraction if r.task_type is TaskType.INDUCTION else None
    return rewards.solver_reward(parse.format_ok(r.text), v.correct, fraction, ctx.cfg.selfplay)


def scan(
    ctx: SelfPlayContext, rollouts: Sequence[Rollout], validations: Sequence[Validation | None], step_no: int
) -> list[Any]:
    if ctx.monitor is None:
        return []
    flags: list[Any] = []
    for r, v in zip(rollouts, validations):
        if r.completion is None:
            continue
        rejection = v.detail or v.reason if v is not None and not v.valid else None
        flags += ctx.monitor.scan(r.text, step=step_no, task_type=r.task_type, role=r.role, rejection=rejection)
    return flags


def samples_of(rollouts: Sequence[Rollout], rewards_: Sequence[float | None], step_no: int) -> list[Sample]:
    """The trainable samples: every scored response; a prompt's samples share its prompt group."""
    return [
        Sample(r.task_type, r.role, r.completion, reward, f"{step_no}/{r.task_type.value}/{r.role.value}/{r.group}")
        for r, reward in zip(rollouts, rewards_)
        if r.completion is not None and reward is not None
    ]


def update(
    ctx: SelfPlayContext, samples: Sequence[Sample], adv: Sequence[float], timer: PhaseTimer
) -> dict[str, float]:
    """One learner update, if there is a learner; the rollout backend sleeps through it."""
    if ctx.learner is None or not samples:
        return {}
    with timer.phase("update"):
        ctx.rollout.sleep()  # vLLM frees its KV cache for the update; a no-op for in-process backends
        try:
            result = ctx.learner.update(samples, adv)
        finally:
            ctx.rollout.wake_up()
    return {f"update/{k}": float(v) for k, v in result.items()}
