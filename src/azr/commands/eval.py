"""`azr eval`: evaluate a model (spec, run dir, checkpoint, `oracle`, `junk`) on code, math and CRUXEval.

Heavy imports (torch, transformers, the executor) happen inside `run`, so `azr --help` stays fast.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="model spec (packaged:NAME, dir, .gguf, HF id), a run dir or "
                        "checkpoint dir from `azr train`, `oracle` (gold answers) or `junk` (wrong answers)")  # fmt: skip
    parser.add_argument("--benchmarks", default="reasoning",
                        help="comma-separated benchmarks or groups: cruxeval-o, cruxeval-i, humaneval+, mbpp+, gsm8k, "
                        "math500, aime24, aime25, amc23, minerva, olympiadbench; groups reasoning, code, math, all")  # fmt: skip
    parser.add_argument("--limit", type=int, default=None, help="only the first N items of each benchmark")
    parser.add_argument("--samples", type=int, default=1, help="samples per item (k of pass@k)")
    parser.add_argument("--temperature", type=float, default=None,
                        help="sampling temperature (default 0 = greedy with 1 sample, 0.6 with several)")  # fmt: skip
    parser.add_argument("--top-p", type=float, default=None, help="nucleus mass (default 1.0 greedy, 0.95 sampled)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="output dir (default: runs/eval-<model>); holds results.json "
                        "and per-item records; rerunning into it resumes")  # fmt: skip
    parser.add_argument("--data-dir", default=None, help="benchmark files (default $AZR_DATA_DIR or ../shared/data)")
    parser.add_argument("--max-new-tokens", type=int, default=1024)
    parser.add_argument("--template", choices=("azr", "plain"), default="azr",
                        help="azr: the training reasoning template (<think>/<answer>); plain: direct prompts")  # fmt: skip
    parser.add_argument("--render", choices=("auto", "chat", "plain"), default="auto",
                        help="azr template rendering: the tokenizer's chat template or the R1 plain text "
                        "(auto: the checkpoint's setting, else chat when the tokenizer has one)")  # fmt: skip
    parser.add_argument("--prefill-answer", action="store_true",
                        help="end CRUXEval prompts with the answer skeleton (`rollout.prefill_answer`), which small "
                        "instruct models need to follow the format (docs/models.md)")  # fmt: skip
    parser.add_argument("--batch-size", type=int, default=8, help="items per generation batch")
    parser.add_argument("--dtype", default="fp32", choices=("fp32", "bf16"))
    parser.add_argument("--code-timeout", type=float, default=20.0,
                        help="seconds per sandbox call of a HumanEval+/MBPP+ check (up to 64 inputs)")  # fmt: skip
    parser.add_argument("--code-policy", action="store_true",
                        help="apply the training AST policy to HumanEval+/MBPP+ programs too (default: sandbox only, "
                        "since EvalPlus allows any import; CRUXEval always uses the training verifier and policy)")  # fmt: skip
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _check_args(args: argparse.Namespace) -> None:
    from azr.cli import UserError

    if args.limit is not None and args.limit <= 0:
        raise UserError("--limit must be > 0")
    if args.samples <= 0:
        raise UserError("--samples must be > 0")
    if args.temperature is not None and args.temperature < 0:
        raise UserError("--temperature must be >= 0")
    if args.samples > 1 and args.temperature == 0:
        raise UserError("--samples > 1 with --temperature 0 gives k identical samples; set a temperature")
    if args.max_new_tokens <= 0 or args.batch_size <= 0 or args.code_timeout <= 0:
        raise UserError("--max-new-tokens, --batch-size and --code-timeout must be > 0")


def _find_checkpoint(path: Path) -> Path | None:
    """A checkpoint dir for a run dir (its newest checkpoint) or a checkpoint dir itself; None for other paths."""
    from azr.cli import UserError

    if (path / "state.json").is_file() and (path / "config.yaml").is_file():
        return path
    if (path / "checkpoints").is_dir():
        from azr.checkpoint import latest_checkpoint

        ck = latest_checkpoint(path)
        if ck is None:
            raise UserError(f"run dir {path} has no complete checkpoint yet")
        return ck
    return None


def _load_model(spec: str, dtype: str) -> tuple[Any, Any, Any, dict[str, Any]]:
    """(model, tokenizer, checkpoint config or None, provenance) for a model spec, run dir or checkpoint dir."""
    from azr import models

    ck_dir = _find_checkpoint(Path(spec)) if Path(spec).is_dir() else None
    if ck_dir is None:
        model, tok = models.load(spec, dtype=dtype)
        return model, tok, None, {"model_source": spec}
    from azr.checkpoint import load_checkpoint, load_model_weights

    ck = load_checkpoint(ck_dir)
    model, tok = models.load(ck.cfg.model.spec, dtype=dtype)
    mdir = ck.model_dir
    if mdir is not None and (mdir / "adapter_config.json").is_file():
        from peft import PeftModel

        # merge the adapter: generation is faster and the model is then an ordinary transformers model
        model = PeftModel.from_pretrained(model, str(mdir)).merge_and_unload()
    elif mdir is not None:
        load_model_weights(model, mdir)
    model.eval()
    info = {"model_source": str(ck_dir), "checkpoint_step": ck.step, "base_model": ck.cfg.model.spec}
    return model, tok, ck.cfg, info


def run(args: argparse.Namespace) -> int:
    import dataclasses

    from rich.console import Console

    from azr.cli import UserError
    from azr.config import Config
    from azr.eval import prompts as eval_prompts
    from azr.eval.benchmarks import default_data_dir, expand_benchmarks, slug
    from azr.eval.runner import EvalSettings, evaluate, summary_table
    from azr.executor import Executor

    _check_args(args)
    try:
        names = expand_benchmarks(args.benchmarks)
    except ValueError as e:
        raise UserError(str(e)) from e
    sampled = args.samples > 1 or (args.temperature or 0) > 0
    temperature = args.temperature if args.temperature is not None else (0.6 if args.samples > 1 else 0.0)
    top_p = args.top_p if args.top_p is not None else (0.95 if sampled else 1.0)
    data_dir = default_data_dir(args.data_dir)
    if args.data_dir and not Path(args.data_dir).is_dir():
        raise UserError(f"--data-dir {args.data_dir} is not a directory")
    settings = EvalSettings(
        benchmarks=tuple(names), limit=args.limit, samples=args.samples, temperature=temperature, top_p=top_p,
        seed=args.seed, max_new_tokens=args.max_new_tokens, template=args.template, batch_size=args.batch_size,
        code_timeout=args.code_timeout, code_policy=args.code_policy, prefill_answer=True if args.prefill_answer else None,
    )  # fmt: skip
    out_dir = Path(args.out) if args.out else Path("runs") / f"eval-{slug(Path(args.model).name.lower() or 'model')}"
    from azr.io import check_out_dir

    check_out_dir(out_dir, "--out")  # before the model loads: one line, not a traceback after minutes
    console = Console()
    cfg = Config()
    meta: dict[str, Any] = {}
    if args.model in ("oracle", "junk"):
        backend: Any = args.model
        tok, render_mode = None, "plain"
    else:
        from azr.models import ModelError
        from azr.rollout import make_backend

        try:
            model, tok, ck_cfg, meta = _load_model(args.model, args.dtype)
        except ModelError as e:
            raise UserError(str(e)) from e
        cfg = ck_cfg or cfg
        cfg = dataclasses.replace(
            cfg,
            rollout=dataclasses.replace(cfg.rollout, backend="hf", micro_batch_size=args.batch_size),
            model=dataclasses.replace(cfg.model, dtype=args.dtype),
            trainer=dataclasses.replace(cfg.trainer, seed=args.seed),
        )
        backend = make_backend(cfg, model, tok)
        render_mode = args.render
        if render_mode == "auto":
            render_mode = ck_cfg.model.template if ck_cfg else ("chat" if getattr(tok, "chat_template", None) else "plain")
    from azr.tasks import prompts as task_prompts

    def render(msgs: list[dict[str, str]]) -> str:
        if args.template == "plain":
            return eval_prompts.render_plain(msgs, tok)
        return task_prompts.render(msgs, tok, render_mode)

    # reference outputs of EvalPlus tasks can be long; the policy still caps each call's input text
    exec_cfg = dataclasses.replace(cfg.executor, max_output_chars=max(cfg.executor.max_output_chars, 20_000_000))
    meta.update({"render": render_mode, "data_dir": str(data_dir) if data_dir else "hub"})
    code_policy = "training AST policy" if args.code_policy else "sandbox only (no AST policy, as EvalPlus)"
    meta.update({"code_benchmarks_policy": code_policy})
    try:
        with Executor(exec_cfg) as ex, Executor(exec_cfg, static_policy=args.code_policy) as code_ex:
            meta["executor"] = ex.info()
            results = evaluate(
                backend, render, ex, settings, cfg=cfg, data_dir=data_dir, out_dir=out_dir, model_spec=args.model,
                show_progress=not args.quiet, meta=meta, code_executor=code_ex,
            )  # fmt: skip
    except (FileNotFoundError, ValueError) as e:
        raise UserError(str(e).splitlines()[0]) from e
    console.print(summary_table(results))
    console.print(f"results: {out_dir / 'results.json'}")
    return 0
