"""Run benchmarks: render prompts, generate through a rollout backend, judge, aggregate, and keep per-item records.

Records are appended to `OUT/records/<benchmark>.jsonl` as each batch completes, so an interrupted eval resumes
where it stopped: items already recorded are skipped, provided the run's fingerprint (model, prompts, sampling,
data) matches the one saved in `OUT/meta.json`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from azr import __version__
from azr.config import Config
from azr.eval import codecheck
from azr.eval import prompts as eval_prompts
from azr.eval.benchmarks import BENCHMARKS, Item, expand_benchmarks, load_items, slug
from azr.eval.fake import fake_backend
from azr.eval.passk import ks_for, mean_pass_at_k
from azr.eval.scoring import CodeJudge, score
from azr.io import append_jsonl, atomic_write_json, read_jsonl
from azr.progress import LineProgress
from azr.rollout.base import SamplingParams
from azr.tasks import prompts as task_prompts

Render = Callable[[list[dict[str, str]]], str]


@dataclass(frozen=True)
class EvalSettings:
    benchmarks: tuple[str, ...]
    limit: int | None = None
    """First N items of each benchmark (a fixed subset); None for all."""
    samples: int = 1
    """k samples per item: pass@1 is their mean, pass@k the unbiased estimate."""
    temperature: float = 0.0
    """0 is greedy decoding (the paper's protocol)."""
    top_p: float = 1.0
    seed: int = 0
    max_new_tokens: int = 1024
    template: str = "azr"
    batch_size: int = 8
    """Items per generate call (and per records flush)."""
    code_timeout: float = 20.0
    """Seconds per executor call of a HumanEval+/MBPP+ check (one call covers up to 64 inputs)."""
    code_policy: bool = False
    """The code executor applies the training AST policy (then over-long reference outputs cannot be digested)."""
    prefill_answer: bool | None = None
    """Prefill the answer skeleton in CRUXEval prompts (`rollout.prefill_answer`); None keeps the config's value."""

    def fingerprint(self, model: str) -> dict[str, Any]:
        d = asdict(self)
        d.pop("benchmarks")
        d.pop("batch_size")
        d.pop("limit")
        return {"model": model, "prompt_version": eval_prompts.PROMPT_VERSION, **d}


@dataclass
class BenchmarkResult:
    name: str
    n: int
    samples: int
    score: float
    pass_at_k: dict[str, float]
    data: str
    records: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "n": self.n, "samples": self.samples, "score": self.score, "pass@k": self.pass_at_k, "data": self.data,
            **self.extra, "records": self.records,
        }  # fmt: skip


def averages(scores: dict[str, float]) -> dict[str, float]:
    """Table-1 averages over the benchmarks present: code (CAvg), math (MAvg), overall (AVG = their mean),
    plus the CRUXEval mean as `reasoning_avg`."""
    out: dict[str, float] = {}
    for key, domain in (("code_avg", "code"), ("math_avg", "math"), ("reasoning_avg", "reasoning")):
        vals = [
            s for b, s in scores.items()
            if BENCHMARKS[b].domain == domain and (BENCHMARKS[b].in_table1 or domain == "reasoning")
        ]  # fmt: skip
        if vals:
            out[key] = sum(vals) / len(vals)
    if "code_avg" in out and "math_avg" in out:
        out["overall_avg"] = (out["code_avg"] + out["math_avg"]) / 2
    return out


def _aggregate(name: str, records: list[dict[str, Any]], samples: int, data: str) -> BenchmarkResult:
    counts = [sum(1 for v in r["verdicts"] if v["correct"]) for r in records]
    ks = ks_for(samples)
    pk = {str(k): 100.0 * mean_pass_at_k(counts, samples, k) for k in ks}
    extra: dict[str, float] = {}
    if BENCHMARKS[name].kind == "code" and records:
        # EvalPlus reports the base-tests-only score next to the base+plus score (the headline number)
        base = [sum(1 for v in r["verdicts"] if v.get("base_ok")) for r in records]
        extra["base_score"] = 100.0 * mean_pass_at_k(base, samples, 1)
    return BenchmarkResult(name, len(records), samples, pk["1"], pk, data, records, extra)


def _progress(enabled: bool) -> Any:
    if not enabled:
        return None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    console = Console(stderr=True)
    if not console.is_terminal:
        return LineProgress()
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        console=console, transient=False,
    )  # fmt: skip


def _check_meta(out_dir: Path, fingerprint: dict[str, Any]) -> None:
    meta = out_dir / "meta.json"
    if meta.is_file():
        old = json.loads(meta.read_text()).get("fingerprint")
        if old != fingerprint:
            diff = sorted(k for k in set(old or {}) | set(fingerprint) if (old or {}).get(k) != fingerprint.get(k))
            raise ValueError(f"{out_dir} holds records of a different eval (differs in {', '.join(diff)}); use another --out")
    else:
        atomic_write_json(meta, {"fingerprint": fingerprint, "version": __version__})


def run_benchmark(
    name: str,
    items: list[Item],
    backend: Any,
    render: Render,
    executor: Any,
    settings: EvalSettings,
    cfg: Config,
    records_file: Path | None = None,
    code_judge: CodeJudge | None = None,
    progress: Any = None,
) -> list[dict[str, Any]]:
    """Per-item records (in item order) for one benchmark, resuming from `records_file` when it has some."""
    done: dict[str, dict[str, Any]] = {}
    if records_file is not None:
        for rec in read_jsonl(records_file):
            done[rec["id"]] = rec
    todo = [it for it in items if it.id not in done]
    msgs = {it.id: eval_prompts.messages(it, settings.template, cfg) for it in todo}
    prompts = {it.id: render(msgs[it.id]) for it in todo}
    if isinstance(backend, str):  # `oracle` / `junk`: scripted from the items themselves
        backend = fake_backend(backend, todo, [prompts[it.id] for it in todo], settings.template)
    stop = ("</answer>",) if settings.template == "azr" else ()
    # The azr template reasons first: an `</answer>` drafted inside <think> does not end the response.
    stop_after = task_prompts.stop_after(msgs[todo[0].id]) if stop and todo else ""
    task = progress.add_task(name, total=len(items), completed=len(items) - len(todo)) if progress else None
    position = {it.id: i for i, it in enumerate(items)}
    for start in range(0, len(todo), settings.batch_size):
        batch = todo[start : start + settings.batch_size]
        params = SamplingParams(
            max_new_tokens=settings.max_new_tokens, temperature=settings.temperature, top_p=settings.top_p,
            stop=stop, stop_after=stop_after, seed=settings.seed * 1_000_003 + position[batch[0].id],
        )  # fmt: skip
        outs = backend.generate([prompts[it.id] for it in batch], params, n=settings.samples)
        flat_items = [it for it in batch for _ in range(settings.samples)]
        responses = [eval_prompts.response_prefix(msgs[it.id]) + c.text for it, cs in zip(batch, outs) for c in cs]
        finish = [c.finish_reason for cs in outs for c in cs]
        verdicts = score(flat_items, responses, executor, code_judge, settings.template)
        new = []
        for j, it in enumerate(batch):
            lo, hi = j * settings.samples, (j + 1) * settings.samples
            new.append({
                "id": it.id, "gold": it.gold,
                "responses": responses[lo:hi], "finish": finish[lo:hi],
                "verdicts": [v.to_json() for v in verdicts[lo:hi]],
            })  # fmt: skip
        if records_file is not None:
            append_jsonl(records_file, new)
        for rec in new:
            done[rec["id"]] = rec
        if progress is not None:
            progress.advance(task, len(batch))
    return [done[it.id] for it in items]


def evaluate(
    backend: Any,
    render: Render,
    executor: Any,
    settings: EvalSettings,
    *,
    cfg: Config | None = None,
    data_dir: Path | None = None,
    out_dir: Path | None = None,
    model_spec: str = "",
    show_progress: bool = False,
    meta: dict[str, Any] | None = None,
    code_executor: Any = None,
) -> dict[str, Any]:
    """Evaluate on `settings.benchmarks`; returns (and, with `out_dir`, writes `results.json`) the results dict.

    `backend` is a rollout backend or the string `oracle`/`junk`; `render` turns messages into prompt text.
    `code_executor` runs HumanEval+/MBPP+ programs (default: `executor`); the CLI passes one without the training
    AST policy, because EvalPlus allows any import and its reference solutions use `random`, `hashlib`, `sys`.
    """
    from azr.models import cache_root

    cfg = cfg or Config()
    if settings.prefill_answer is not None:
        cfg = replace(cfg, rollout=replace(cfg.rollout, prefill_answer=settings.prefill_answer))
    settings = replace(settings, prefill_answer=cfg.rollout.prefill_answer)  # recorded in the fingerprint
    names = expand_benchmarks(list(settings.benchmarks))
    fingerprint = settings.fingerprint(model_spec or (backend if isinstance(backend, str) else "backend"))
    if out_dir is not None:
        _check_meta(out_dir, fingerprint)
    results: dict[str, Any] = {}
    progress = _progress(show_progress)
    if progress is not None:
        progress.start()
    try:
        for name in names:
            items, data = load_items(name, data_dir, settings.limit)
            judge = None
            if BENCHMARKS[name].kind == "code":
                digests = not settings.code_policy
                tag = f"{slug(name)}-{data.split(':')[-1][:16]}-v{codecheck.HARNESS_VERSION}{'-d' if digests else ''}"
                cache = cache_root() / "eval" / f"gt-{tag}.json"
                cache.parent.mkdir(parents=True, exist_ok=True)
                judge = CodeJudge(code_executor or executor, cache, timeout=settings.code_timeout, digests=digests)
            rec_file = out_dir / "records" / f"{slug(name)}.jsonl" if out_dir is not None else None
            records = run_benchmark(name, items, backend, render, executor, settings, cfg, rec_file, judge, progress)
            results[name] = _aggregate(name, records, settings.samples, data)
    finally:
        if progress is not None:
            progress.stop()
    scores = {n: r.score for n, r in results.items()}
    out = {
        "model": model_spec, "version": __version__, "prompt_version": eval_prompts.PROMPT_VERSION,
        "settings": asdict(settings), "seed": settings.seed, "config": cfg.to_dict(), **(meta or {}),
        "averages": averages(scores),
        "benchmarks": {n: r.to_json() for n, r in results.items()},
    }  # fmt: skip
    if out_dir is not None:
        atomic_write_json(out_dir / "results.json", out)
    return out


def summary_table(results: dict[str, Any]) -> Any:
    """A rich Table: one row per benchmark (n, score, pass@k), then the Table-1 averages."""
    from rich.table import Table

    benches = results["benchmarks"]
    ks = sorted({k for b in benches.values() for k in b["pass@k"] if k != "1"}, key=int)
    table = Table(title=f"azr eval: {results.get('model', '')} (prompts {results.get('prompt_version', '')})")
    for col in ("benchmark", "n", "score %", *[f"pass@{k} %" for k in ks]):
        table.add_column(col, justify="left" if col == "benchmark" else "right")
    for name, b in benches.items():
        cells = [f"{b['pass@k'][k]:.1f}" if k in b["pass@k"] else "" for k in ks]
        table.add_row(name, str(b["n"]), f"{b['score']:.1f}", *cells)
    for key, label in (("reasoning_avg", "CRUXEval avg"), ("code_avg", "code avg (CAvg)"),
                       ("math_avg", "math avg (MAvg)"), ("overall_avg", "overall (AVG)")):  # fmt: skip
        if key in results["averages"]:
            table.add_row(f"[bold]{label}[/bold]", "", f"[bold]{results['averages'][key]:.1f}[/bold]", *[""] * len(ks))
    return table


def periodic(
    rollout: Any,
    render: Render,
    executor: Any,
    benchmarks: tuple[str, ...] | list[str],
    limit: int,
    data_dir: str | Path | None,
    *,
    cfg: Config | None = None,
    max_new_tokens: int | None = None,
) -> dict[str, float]:
    """Greedy evaluation on the first `limit` items of each benchmark, for the trainer's metrics:
    `{"eval/<benchmark>/score": percent}`. No files are written."""
    from azr.eval.benchmarks import default_data_dir

    cfg = cfg or Config()
    settings = EvalSettings(
        benchmarks=tuple(benchmarks), limit=limit, samples=1, temperature=0.0,
        max_new_tokens=max_new_tokens or min(cfg.rollout.max_new_tokens, 2048), template="azr",
        batch_size=cfg.rollout.micro_batch_size, code_policy=True, prefill_answer=cfg.rollout.prefill_answer,
    )  # fmt: skip
    ddir = default_data_dir(str(data_dir) if data_dir else None)
    res = evaluate(rollout, render, executor, settings, cfg=cfg, data_dir=ddir)
    return {f"eval/{n}/score": b["score"] for n, b in res["benchmarks"].items()}
