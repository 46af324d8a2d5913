"""`azr eval [--config FILE] [flags] [key=value ...]`: evaluate a model (spec, run dir, checkpoint, `oracle`,
`junk`) on code, math and CRUXEval; `azr eval --rescore DIR` re-judges the recorded responses of an eval.

One config system, as `azr train`: the config is the schema defaults (or, for a checkpoint, the config it was
trained with), then the `--config` file, then the flags, then dotted `key=value` overrides (`rollout.backend=vllm`,
`model.dtype=bf16`, `eval.limit=50`). Every flag is an alias of config keys (`ALIASES`), so today's command lines
keep working, and every value is validated before a model is loaded. Heavy imports (torch, transformers, the
executor) happen inside `run`, so `azr --help` stays fast.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

ALIASES: dict[str, tuple[str, ...]] = {
    "model": ("model.spec",),
    "dtype": ("model.dtype",),
    "prefill_answer": ("rollout.prefill_answer",),
    "batch_size": ("eval.batch_size", "rollout.micro_batch_size"),
    **{name: (f"eval.{name}",) for name in (
        "benchmarks", "limit", "samples", "temperature", "top_p", "seed", "max_new_tokens", "template", "render",
        "equality", "code_timeout", "code_policy", "data_dir",
    )},
}  # fmt: skip
"""Flag (argparse dest) -> the config keys it sets."""


def _alias_help(dest: str, text: str) -> str:
    return f"{text} (= {' '.join(ALIASES[dest])})"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE", help="preset name (configs/) or YAML file; default: the schema "
                        "defaults, or a checkpoint's own config")  # fmt: skip
    parser.add_argument("--rescore", metavar="DIR", help="re-judge the responses recorded in the eval output dir DIR "
                        "with the current rules and eval.* judging settings (no model); writes to --out, default DIR")  # fmt: skip
    parser.add_argument("--model", help=_alias_help("model", "model spec (packaged:NAME, dir, .gguf, HF id), a run "
                        "dir or checkpoint dir from `azr train`, `oracle` (gold answers) or `junk` (wrong answers)"))  # fmt: skip
    parser.add_argument("--benchmarks", help=_alias_help("benchmarks", "comma-separated benchmarks or groups: "
                        "cruxeval-o, cruxeval-i, humaneval+, mbpp+, gsm8k, math500, aime24, aime25, amc23, minerva, "
                        "olympiadbench; groups reasoning (default), code, math, all"))  # fmt: skip
    parser.add_argument("--limit", type=int, help=_alias_help("limit", "only the first N items of each benchmark"))
    parser.add_argument("--samples", type=int, help=_alias_help("samples", "samples per item (k of pass@k)"))
    parser.add_argument("--temperature", type=float, help=_alias_help("temperature", "sampling temperature "
                        "(default 0 = greedy with 1 sample, 0.6 with several)"))  # fmt: skip
    parser.add_argument(
        "--top-p", type=float, help=_alias_help("top_p", "nucleus mass (default 1.0 greedy, 0.95 sampled)")
    )
    parser.add_argument("--seed", type=int, help=_alias_help("seed", "sampling seed"))
    parser.add_argument("--out", default=None, help="output dir (default: runs/eval-<model>); holds results.json "
                        "and per-item records; rerunning into it resumes")  # fmt: skip
    parser.add_argument(
        "--data-dir", help=_alias_help("data_dir", "benchmark files (default $AZR_DATA_DIR or ../shared/data)")
    )
    parser.add_argument(
        "--max-new-tokens", type=int, help=_alias_help("max_new_tokens", "response token cap (default 1024)")
    )
    parser.add_argument("--template", choices=("azr", "plain"), help=_alias_help("template", "azr: the training "
                        "reasoning template (<think>/<answer>); plain: direct prompts"))  # fmt: skip
    parser.add_argument("--render", choices=("auto", "chat", "plain"), help=_alias_help("render", "azr template "
                        "rendering: the tokenizer's chat template or the R1 plain text (auto: the checkpoint's "
                        "setting, else chat when the tokenizer has one)"))  # fmt: skip
    parser.add_argument("--prefill-answer", action="store_true", default=None, help=_alias_help("prefill_answer",
                        "end CRUXEval prompts with the answer skeleton, which small instruct models need to follow "
                        "the format (docs/models.md)"))  # fmt: skip
    parser.add_argument(
        "--batch-size", type=int, help=_alias_help("batch_size", "items per generation batch (default 8)")
    )
    parser.add_argument("--dtype", help=_alias_help("dtype", "fp32, bf16 or autocast-bf16"))
    parser.add_argument("--equality", choices=("official", "strict"), help=_alias_help("equality", "CRUXEval answer "
                        "equality: official (Python ==, as published scores; default) or strict (training's rule)"))  # fmt: skip
    parser.add_argument("--code-timeout", type=float, help=_alias_help("code_timeout", "minimum seconds per sandbox "
                        "call of a HumanEval+/MBPP+ check (up to 64 inputs)"))  # fmt: skip
    parser.add_argument("--code-policy", action="store_true", default=None, help=_alias_help("code_policy", "apply "
                        "the training AST policy to HumanEval+/MBPP+ programs too (default: sandbox only, since "
                        "EvalPlus allows any import; CRUXEval always uses the training verifier and policy)"))  # fmt: skip
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("overrides", nargs="*", metavar="key=value",
                        help="dotted config overrides, e.g. rollout.backend=vllm model.dtype=bf16 eval.limit=50")  # fmt: skip


def _set(data: dict[str, Any], key: str, value: Any) -> None:
    *path, last = key.split(".")
    node = data
    for part in path:
        node = node.setdefault(part, {})
    node[last] = value


def _merged(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in top.items():
        out[k] = _merged(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def resolve(args: argparse.Namespace, checkpoint_config: dict[str, Any] | None = None) -> Any:
    """The validated Config: `checkpoint_config` (a checkpoint's saved config) or the defaults, then `--config`,
    then the flags, then the overrides. Raises ConfigError (one line) on a bad key or value."""
    from azr.config import config_from_dict, merge_overrides, read_yaml, resolve_preset

    data = _merged(checkpoint_config or {}, read_yaml(resolve_preset(args.config)) if args.config else {})
    for dest, keys in ALIASES.items():
        value = getattr(args, dest, None)
        if value is not None:
            for key in keys:
                _set(data, key, value)
    return config_from_dict(merge_overrides(data, list(args.overrides)))


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


def _executors(cfg: Any) -> tuple[Any, Any]:
    """The CRUXEval executor (training policy) and the HumanEval+/MBPP+ one (sandbox only unless eval.code_policy)."""
    import dataclasses

    from azr.executor import Executor

    # reference outputs of EvalPlus tasks can be long; the policy still caps each call's input text
    exec_cfg = dataclasses.replace(cfg.executor, max_output_chars=max(cfg.executor.max_output_chars, 20_000_000))
    return Executor(exec_cfg), Executor(exec_cfg, static_policy=cfg.eval.code_policy)


def _data_dir(cfg: Any) -> Path | None:
    from azr.cli import UserError
    from azr.eval.benchmarks import default_data_dir

    if cfg.eval.data_dir and not Path(cfg.eval.data_dir).expanduser().is_dir():
        raise UserError(f"eval.data_dir {cfg.eval.data_dir} is not a directory")
    return default_data_dir(cfg.eval.data_dir or None)


def _rescore(args: argparse.Namespace) -> int:
    from rich.console import Console

    from azr.cli import UserError
    from azr.eval.runner import rescore, summary_table

    if args.model is not None:
        raise UserError("--rescore re-judges recorded responses; it takes no --model")
    cfg = resolve(args)
    src = Path(args.rescore)
    out_dir = Path(args.out) if args.out else src
    ex, code_ex = _executors(cfg)
    try:
        with ex, code_ex:
            results = rescore(src, ex, cfg.eval, data_dir=_data_dir(cfg), out_dir=out_dir, code_executor=code_ex,
                              show_progress=not args.quiet)  # fmt: skip
    except (FileNotFoundError, ValueError, KeyError) as e:
        raise UserError(str(e).splitlines()[0]) from e
    console = Console()
    console.print(summary_table(results))
    console.print(f"results: {out_dir / 'results.json'}")
    return 0


def run(args: argparse.Namespace) -> int:
    import dataclasses

    from rich.console import Console

    from azr.cli import UserError
    from azr.config import read_yaml
    from azr.eval import prompts as eval_prompts
    from azr.eval.benchmarks import slug
    from azr.eval.runner import evaluate, summary_table

    if args.rescore:
        return _rescore(args)
    cfg = resolve(args)  # validates every key and value before anything loads
    spec = cfg.model.spec
    ck_dir = _find_checkpoint(Path(spec)) if spec not in ("oracle", "junk") and Path(spec).is_dir() else None
    if ck_dir is not None:
        cfg = resolve(args, read_yaml(ck_dir / "config.yaml"))
    data_dir = _data_dir(cfg)
    out_dir = Path(args.out) if args.out else Path("runs") / f"eval-{slug(Path(spec).name.lower() or 'model')}"
    from azr.io import check_out_dir

    check_out_dir(out_dir, "--out")  # before the model loads: one line, not a traceback after minutes
    meta: dict[str, Any] = {}
    if spec in ("oracle", "junk"):
        backend: Any = spec
        tok, render_mode = None, "plain"
    else:
        from azr.models import ModelError, resolve_device
        from azr.rollout import make_backend

        if cfg.rollout.backend == "scripted":
            raise UserError("rollout.backend=scripted has no model to evaluate; use --model oracle or junk")
        try:
            model, tok, ck_cfg, meta = _load_model(spec, cfg.model.dtype)
            model = model.to(resolve_device(cfg.model.device))
        except ModelError as e:
            raise UserError(str(e)) from e
        cfg = dataclasses.replace(cfg, trainer=dataclasses.replace(cfg.trainer, seed=cfg.eval.seed))
        backend = make_backend(cfg, model, tok)
        render_mode = cfg.eval.render
        if render_mode == "auto":
            render_mode = (
                ck_cfg.model.template if ck_cfg else ("chat" if getattr(tok, "chat_template", None) else "plain")
            )
    from azr.tasks import prompts as task_prompts

    def render(msgs: list[dict[str, str]]) -> str:
        if cfg.eval.template == "plain":
            return eval_prompts.render_plain(msgs, tok)
        return task_prompts.render(msgs, tok, render_mode)

    meta.update({"render": render_mode, "data_dir": str(data_dir) if data_dir else "hub"})
    code_policy = "training AST policy" if cfg.eval.code_policy else "sandbox only (no AST policy, as EvalPlus)"
    meta.update({"code_benchmarks_policy": code_policy})
    ex, code_ex = _executors(cfg)
    try:
        with ex, code_ex:
            meta["executor"] = ex.info()
            results = evaluate(
                backend, render, ex, cfg.eval, cfg=cfg, data_dir=data_dir, out_dir=out_dir, model_spec=spec,
                show_progress=not args.quiet, meta=meta, code_executor=code_ex,
            )  # fmt: skip
    except (FileNotFoundError, ValueError) as e:
        raise UserError(str(e).splitlines()[0]) from e
    console = Console()
    console.print(summary_table(results))
    console.print(f"results: {out_dir / 'results.json'}")
    return 0
