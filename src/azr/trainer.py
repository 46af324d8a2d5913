"""The run loop: build the self-play context from config, run steps, log them, checkpoint, resume.

`train(cfg, run_dir, resume=False)` owns everything around `azr.selfplay.step`: seeding, the model/tokenizer,
the rollout backend, the executor, the buffers, the learner, the oversight monitor, metrics writers, samples,
periodic evaluation and checkpoints. Order per step: step (generate, execute, update) -> sync weights to the
rollout backend -> write metrics/samples/flags -> periodic eval -> checkpoint. A checkpoint captures the RNG
states after all of that, so a resumed run continues exactly where an uninterrupted one would.

With `rollout.backend=scripted` no model is loaded and no update is made (learner None): whole steps run in
seconds, for tests and dry runs. This module does not implement any part of the algorithm itself.
"""

from __future__ import annotations

import contextlib
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from azr import checkpoint as ckpt
from azr.config import Config, save_config
from azr.console import TrainProgress, learned_summary, step_table
from azr.dist import active as dist_active
from azr.dist import world
from azr.rollout.base import RolloutBackend
from azr.rundir import claim_run_dir, clear_run, remove_leftovers
from azr.writers import MetricsWriter, make_writers, read_metrics, write_flags, write_samples

PHASES = ("generate", "executor", "update")


class TrainError(RuntimeError):
    """A run cannot start or continue (e.g. resuming a directory without a checkpoint); one-line message."""


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    """Last completed step."""
    checkpoint: Path | None
    stopped: bool = False
    """True when oversight halted the run before `trainer.steps`."""
    message: str = ""
    first: dict[str, Any] = field(default_factory=dict)
    """Metrics of the run's first step, and of its last (for the 'what it learned' summary)."""
    last: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass
class Run:
    """Everything a run holds open; built by `build`, closed by its ExitStack."""

    cfg: Config
    ctx: Any
    rollout: RolloutBackend
    learner: Any
    model: Any
    tokenizer: Any
    executor: Any
    monitor: Any
    stack: contextlib.ExitStack
    heldout: Any = None
    """`azr.eval.heldout.HeldOut` when `trainer.heldout_size` > 0."""


def build(cfg: Config, run_dir: Path, upto_step: int | None, progress: TrainProgress | None, console: Console) -> Run:
    """Model + tokenizer (none for `scripted`), learner, rollout backend, executor, buffers, monitor, context."""
    from azr.buffer import TaskBuffers
    from azr.executor import Executor
    from azr.rollout import make_backend
    from azr.seeds import load_seed_files
    from azr.selfplay import SelfPlayContext
    from azr.tasks import prompts

    stack = contextlib.ExitStack()
    try:
        model = tokenizer = learner = None
        if cfg.rollout.backend != "scripted":
            from azr.learner.hf import HFLearner
            from azr.models import ModelError, load, resolve_device

            try:  # before minutes of loading
                device = resolve_device(cfg.model.device)
            except ModelError as e:
                raise TrainError(str(e)) from None

            model, tokenizer = load(cfg.model.spec, dtype=cfg.model.dtype, cache_dir=cfg.model.cache_dir or None)
            pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
            if dist_active():  # FSDP2 learner, per-rank rollout on a full copy (azr.dist.fsdp)
                from azr.dist import fsdp

                learner, rollout = fsdp.build(cfg, model, tokenizer)
            else:
                learner = HFLearner(model.to(device), cfg, pad)  # the learner and the HF rollout share the weights
                rollout = make_backend(cfg, learner.model, tokenizer)
            model = learner.model  # PEFT-wrapped when LoRA is on (adapters injected in place)
        else:
            rollout = make_backend(cfg, seed=cfg.trainer.seed)
            if dist_active():
                from azr.dist.rollout import ShardedRollout

                rollout = ShardedRollout(rollout, seed=cfg.trainer.seed)
        # The bar follows the backend's own callback: what is generated does not depend on whether it is shown.
        rollout.progress = progress.generating if progress is not None else None
        w = world()
        if dist_active():  # every rank runs its shard of each executor batch (azr.dist.executor)
            from azr.dist.executor import ShardedExecutor, executor_config

            executor = ShardedExecutor(stack.enter_context(Executor(executor_config(cfg.executor, w.local_size))))
        else:
            executor = stack.enter_context(Executor(cfg.executor))
        heldout = _heldout(cfg, executor)
        try:  # only rank 0 persists the buffers; the others hold the same tasks in memory
            buffers = TaskBuffers(
                run_dir if w.main else None, cfg, upto_step=upto_step, exclude=heldout.programs if heldout else ()
            )
        except ValueError as e:  # the run's buffers hold a task that is now held out
            raise TrainError(str(e)) from None
        if upto_step is None and cfg.selfplay.seed_files:
            load_seed_files(buffers, list(cfg.selfplay.seed_files), executor, cfg)
        if dist_active():
            from azr.dist import comm

            buffers.restore(comm.broadcast(buffers.snapshot(), op="buffers"))  # a resumed run replayed on rank 0
        monitor = None
        if cfg.oversight.enabled:
            from azr.oversight import Monitor

            monitor = Monitor(cfg.oversight)
        tok = tokenizer
        # Without a model there is no tokenizer (and no chat template): scripted runs render the plain template.
        template = cfg.model.template if tok is not None else "plain"
        ctx = SelfPlayContext(
            cfg=cfg,
            rollout=rollout,
            render=lambda messages: prompts.render(messages, tok, template),
            executor=executor,
            buffers=buffers,
            rng=random.Random(cfg.trainer.seed),
            learner=learner,
            monitor=monitor,
        )
        if upto_step is None and cfg.selfplay.seed_size > 0:
            from azr.selfplay import seed_buffers

            console.print(f"seeding: growing the buffers to {cfg.selfplay.seed_size} tasks (paper §3.3.1)")
            # paper §3.3.1: the untrained policy grows the seed set before step 1
            on_seed = progress.seeding if progress is not None else None
            sizes = seed_buffers(ctx, cfg.selfplay.seed_size, cfg.selfplay.seed_rounds, progress=on_seed)
            console.print("seeding: " + "  ".join(f"{t} {n}" for t, n in sizes.items()))
        return Run(cfg, ctx, rollout, learner, model, tokenizer, executor, monitor, stack, heldout)
    except BaseException:
        stack.close()
        raise


def _heldout(cfg: Config, executor: Any) -> Any:
    """The held-out evaluation tasks (`trainer.heldout_size` > 0), which the buffers must never take in."""
    if cfg.trainer.heldout_size <= 0:
        return None
    from azr.eval.benchmarks import default_data_dir
    from azr.eval.heldout import HeldOutError, load_heldout

    try:
        return load_heldout(cfg, executor, default_data_dir(cfg.trainer.data_dir or None))
    except HeldOutError as e:
        raise TrainError(str(e)) from None


# ----------------------------------------------------------------------------------------------------------------
# RNG states beyond the globals: the self-play sampler and the rollout backend's own generator (its protocol)


def _rng_extra(run: Run) -> dict[str, Any]:
    return {"selfplay": run.ctx.rng.getstate(), "rollout": run.rollout.get_rng_state()}


def _restore_rng_extra(run: Run, state: dict[str, Any]) -> None:
    run.ctx.rng.setstate(state["selfplay"])
    # Checkpoints from before the protocol carried the backend state (`rollout_attrs`) predate per-prompt seeds:
    # no state of theirs could repeat today's sampling, so only the rest is restored.
    if "rollout" in state:
        run.rollout.set_rng_state(state["rollout"])


def save(run: Run, run_dir: Path, step: int) -> Path:
    rng = ckpt.capture_rng(_rng_extra(run))
    if dist_active():  # sharded, every rank writes its part (azr.dist.checkpoint)
        from azr.dist import checkpoint as dckpt

        return dckpt.save(run_dir, step, run.cfg, run.learner, rng, run.cfg.trainer.keep_checkpoints)
    return ckpt.save_checkpoint(
        run_dir,
        step,
        run.cfg,
        model=run.model,
        learner=run.learner,
        tokenizer=run.tokenizer,
        rng=rng,
        keep=run.cfg.trainer.keep_checkpoints,
    )


# ----------------------------------------------------------------------------------------------------------------


def _timings(metrics: dict[str, Any], wall: float) -> dict[str, float]:
    """Phase times of one step (the step's own measurements) and the trainer's wall time around it."""
    t = {f"timing/{p}": float(metrics.get(f"timing/{p}", 0.0)) for p in PHASES}
    t["timing/total"] = wall
    t["timing/other"] = max(0.0, wall - sum(t[f"timing/{p}"] for p in PHASES))
    return t


def _write_report(run_dir: Path, console: Console) -> None:
    """Every run ends with its HTML report; a report failure is reported, never fatal (the run itself is saved)."""
    from azr.report import build_report

    try:
        path = build_report(run_dir)
    except Exception as e:  # noqa: BLE001 - plotting must not turn a finished run into a failed one
        console.print(f"[yellow]report not written ({type(e).__name__}: {e}); retry with `azr report {run_dir}`[/]")
        return
    console.print(f"report written: {path}")


def _periodic_eval(run: Run, run_dir: Path, step: int, console: Console) -> dict[str, float]:
    from azr.eval import periodic

    tc = run.cfg.trainer
    scores = (
        periodic(
            run.rollout,
            run.ctx.render,
            run.executor,
            list(tc.eval_benchmarks),
            tc.eval_limit,
            tc.data_dir or None,
            cfg=run.cfg,
        )
        if tc.eval_benchmarks
        else {}
    )
    if run.heldout is not None:
        from azr.eval.heldout import evaluate_heldout
        from azr.eval.heldout import scores as heldout_scores

        records = evaluate_heldout(
            run.heldout, run.rollout, run.ctx.render, run.executor, run.cfg,
            max_new_tokens=min(run.cfg.rollout.max_new_tokens, 2048), batch_size=run.cfg.rollout.micro_batch_size,
        )  # fmt: skip
        scores.update({f"eval/{name}/score": v for name, v in heldout_scores(records).items()})
    from azr.io import atomic_write_json

    if world().main:
        atomic_write_json(run_dir / "eval" / f"step_{step:06d}.json", {"step": step, **scores})
    return {k: float(v) for k, v in scores.items()}


def train(cfg: Config, run_dir: str | Path, resume: bool = False, console: Console | None = None) -> TrainResult:
    """Run (or continue, with `resume`) self-play training in `run_dir` up to `cfg.trainer.steps` steps."""
    console = console or Console()
    run_dir = Path(run_dir)
    if resume and not run_dir.is_dir():
        raise TrainError(f"{run_dir} does not exist: nothing to resume")
    with claim_run_dir(run_dir):
        return _train(cfg, run_dir, resume, console)


def _start_point(run_dir: Path, resume: bool, console: Console) -> ckpt.Checkpoint | None:
    """The checkpoint to continue from, or None to start from scratch (clearing what a dead start left)."""
    remove_leftovers(run_dir)
    if resume:
        loaded, notes = ckpt.resume_point(run_dir)  # falls back past damaged checkpoints, saying so
        for note in notes:
            console.print(f"[yellow]{note}[/]")
        if loaded is not None:
            ckpt.truncate_logs(run_dir, loaded.state.get("log_sizes", {}), loaded.step)
            return loaded
    elif ckpt.has_checkpoints(run_dir):
        raise TrainError(f"{run_dir} already holds a run; continue it with --resume {run_dir} or pick a new --out")
    if clear_run(run_dir):
        console.print(f"{run_dir} holds no checkpoint (its run stopped before the first): starting it from scratch")
    return None


def _agreed_start_point(run_dir: Path, resume: bool, console: Console) -> ckpt.Checkpoint | None:
    """`_start_point` on rank 0, which alone looks at and changes the run directory; the other ranks load the
    checkpoint it chose (or raise the error it met), so no rank races it for a renamed or cleared file."""
    if not dist_active():
        return _start_point(run_dir, resume, console)
    from azr.dist import comm
    from azr.io import FileError

    chosen: tuple[str | None, str | None] = (None, None)  # (checkpoint path, one-line error)
    if world().main:
        try:
            loaded = _start_point(run_dir, resume, console)
        except (TrainError, FileError) as e:
            comm.broadcast((None, str(e)), op="start point")
            raise
        chosen = (str(loaded.path) if loaded is not None else None, None)
        comm.broadcast(chosen, op="start point")
        return loaded
    chosen = comm.broadcast(chosen, op="start point")
    if chosen[1] is not None:
        raise TrainError(chosen[1])
    return ckpt.load_checkpoint(chosen[0]) if chosen[0] is not None else None


def _train(cfg: Config, run_dir: Path, resume: bool, console: Console) -> TrainResult:
    t_start = time.perf_counter()
    loaded = _agreed_start_point(run_dir, resume, console)
    start = loaded.step if loaded is not None else 0
    checkpoint = loaded.path if loaded is not None else None
    # a resumed run's config is saved once it has started: a failed resume changes nothing
    if world().main and loaded is None:
        run_dir.mkdir(parents=True, exist_ok=True)
        save_config(cfg, run_dir / "config.yaml")
    ckpt.seed_everything(cfg.trainer.seed)
    if cfg.rollout.threads > 0:
        import torch

        torch.set_num_threads(cfg.rollout.threads)

    total = cfg.trainer.steps
    progress = TrainProgress(console, total, start)
    writers: list[MetricsWriter] = []
    result = TrainResult(run_dir=run_dir, step=start, checkpoint=checkpoint)
    with progress:
        run = build(cfg, run_dir, start if loaded is not None else None, progress, console)
        with run.stack:
            if loaded is not None and world().main:
                save_config(cfg, run_dir / "config.yaml")
            if loaded is not None and dist_active():  # sharded learner: DCP (any world size) or one-process
                from azr.dist import checkpoint as dckpt

                loaded.rng = dckpt.resume(loaded, run.learner)
                if run.learner is not None:
                    run.rollout.sync_weights(run.learner.model)
            elif loaded is not None:
                if run.model is not None and loaded.model_dir is not None:
                    ckpt.load_model_weights(run.model, loaded.model_dir)
                    run.rollout.sync_weights(run.model)
                state = loaded.learner_state()
                if run.learner is not None and state is not None:
                    run.learner.load_state_dict(state)
            if loaded is not None:
                ckpt.restore_rng(loaded.rng)
                _restore_rng_extra(run, loaded.rng)
            console.print(
                f"azr train: {run_dir}\n  steps {start + 1}..{total}, model {_model_name(cfg)}, "
                f"start-up {time.perf_counter() - t_start:.0f}s"
            )
            writers = make_writers(cfg, run_dir, start) if world().main else []
            try:
                result = _loop(run, run_dir, start, total, progress, writers, console, result)
            finally:
                for w in writers:
                    w.close()
    rows = read_metrics(run_dir)
    result.first, result.last = (rows[0], rows[-1]) if rows else ({}, {})
    result.seconds = time.perf_counter() - t_start
    if rows and world().main:
        console.print(learned_summary(result.first, result.last, run_dir))
        _write_report(run_dir, console)
    if result.message:
        console.print(result.message)
    return result


def _model_name(cfg: Config) -> str:
    return "none (scripted rollouts)" if cfg.rollout.backend == "scripted" else cfg.model.spec


def _loop(
    run: Run,
    run_dir: Path,
    start: int,
    total: int,
    progress: TrainProgress,
    writers: list[MetricsWriter],
    console: Console,
    result: TrainResult,
) -> TrainResult:
    from azr.selfplay import step as selfplay_step

    tc = run.cfg.trainer
    progress.begin_steps()
    for s in range(start + 1, total + 1):
        t0, cpu0 = time.perf_counter(), time.process_time()
        out = selfplay_step(run.ctx, s)
        if run.learner is not None:
            run.rollout.sync_weights(run.learner.model)
        if dist_active():  # every rank must hold the same buffers and sampler state after every step
            from azr.dist import check_step

            check_step(run.ctx, s)
        metrics = dict(out.metrics)
        # generation throughput over all of the step's rollouts (proposals, Monte-Carlo tries, answers)
        gen_s, gen_tokens = metrics.get("timing/generate", 0.0), metrics.get("rollout/tokens", 0.0)
        metrics["rollout/tokens_per_s"] = gen_tokens / gen_s if gen_s > 0 else 0.0
        if run.monitor is not None:
            from azr.oversight import flag_metrics

            metrics.update(flag_metrics(list(out.flags)))  # zeros too, so the curves have every step
        if out.flags and world().main:
            write_flags(run_dir, out.flags)
        if world().main:
            write_samples(run_dir, s, list(out.samples))
        eval_s = 0.0
        if tc.eval_every and s % tc.eval_every == 0:
            t_eval = time.perf_counter()
            metrics.update(_periodic_eval(run, run_dir, s, console))
            eval_s = time.perf_counter() - t_eval
            metrics["timing/eval"] = eval_s  # reported apart: evaluation is not part of the training step
        action = run.monitor.action(out.flags) if run.monitor is not None and out.flags else "log"
        stop = bool(out.stop) or action == "stop"
        # Metrics are written before the checkpoint so it records them; timing/total excludes the checkpoint.
        metrics.update(_timings(metrics, time.perf_counter() - t0 - eval_s))
        # CPU seconds of this process (all threads): on a shared machine, wall time says more about the neighbours
        metrics["timing/cpu"] = time.process_time() - cpu0
        for w in writers:
            w.write(s, metrics)
        if s % tc.save_every == 0 or s == total or stop:
            result.checkpoint = save(run, run_dir, s)
        result.step = s
        progress.step_done()
        console.print(step_table(s, total, metrics))
        if action == "warn":
            for f in out.flags:
                console.print(f"[yellow]oversight: {f.describe() if hasattr(f, 'describe') else f}[/]")
        if stop:
            from azr.oversight import stop_message

            result.stopped = True
            result.message = stop_message(list(out.flags), result.checkpoint)
            break
    return result
