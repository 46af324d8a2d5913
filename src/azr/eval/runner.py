"""Run benchmarks: render prompts, generate through a rollout backend, judge, aggregate, and keep per-item records.

Records are appended to `OUT/records/<benchmark>.jsonl` as each batch completes, so an interrupted eval resumes
where it stopped: items already recorded are skipped, provided the run's fingerprint (model, prompts, sampling,
judging rules) matches the one saved in `OUT/meta.json`. Records keep the raw responses, so `rescore` re-judges
an output dir with the current rules (or another `eval.equality`) without generating anything.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from azr import __version__
from azr.config import Config, EvalConfig
from azr.eval import codecheck
from azr.eval import prompts as eval_prompts
from azr.eval.benchmarks import BENCHMARKS, Item, expand_benchmarks, load_items, slug
from azr.eval.fake import fake_backend
from azr.eval.passk import ks_for, mean_pass_at_k
from azr.eval.progress import progress_display
from azr.eval.scoring import CodeJudge, score
from azr.io import append_jsonl, atomic_write_json, atomic_write_text, read_jsonl
from azr.rollout.base import SamplingParams
from azr.tasks import prompts as task_prompts

Render = Callable[[list[dict[str, str]]], str]

EvalSettings = EvalConfig
"""The eval settings are the `eval` section of the config (`azr.config.EvalConfig`)."""

SCORING_VERSION = 2
"""Bump when a judging rule changes meaning (answer extraction, equality, oracles, time limits): records judged
by another version are not resumed into, and `azr eval --rescore DIR` re-judges them."""
JUDGING_KEYS = ("equality", "code_timeout", "code_policy", "scoring")
"""Fingerprint keys that only affect judging: a mismatch there is fixed by re-scoring, not by generating again."""


def fingerprint(settings: EvalConfig, model: str, prefill_answer: bool) -> dict[str, Any]:
    """What the records of an output dir depend on: generation (model, prompts, sampling) and judging."""
    temperature, top_p = settings.sampling()
    return {
        "model": model, "prompt_version": eval_prompts.PROMPT_VERSION, "samples": settings.samples,
        "temperature": temperature, "top_p": top_p, "seed": settings.seed, "max_new_tokens": settings.max_new_tokens,
        "template": settings.template, "prefill_answer": prefill_answer,
        "equality": settings.equality, "code_timeout": settings.code_timeout, "code_policy": settings.code_policy,
        "scoring": SCORING_VERSION,
    }  # fmt: skip


@dataclass
class BenchmarkResult:
    name: str
    n: int
    samples: int
    score: float
    pass_at_k: dict[str, float]
    data: str
    records: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

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


def _aggregate(name: str, records: list[dict[str, Any]], samples: int, data: str, equality: str) -> BenchmarkResult:
    counts = [sum(1 for v in r["verdicts"] if v["correct"]) for r in records]
    ks = ks_for(samples)
    pk = {str(k): 100.0 * mean_pass_at_k(counts, samples, k) for k in ks}
    extra: dict[str, Any] = {}
    if BENCHMARKS[name].kind == "code" and records:
        # EvalPlus reports the base-tests-only score next to the base+plus score (the headline number)
        base = [sum(1 for v in r["verdicts"] if v.get("base_ok")) for r in records]
        extra["base_score"] = 100.0 * mean_pass_at_k(base, samples, 1)
    if BENCHMARKS[name].domain == "reasoning":
        extra["equality"] = equality  # which rule made these verdicts (`official` is comparable with papers)
    return BenchmarkResult(name, len(records), samples, pk["1"], pk, data, records, extra)


def _check_meta(out_dir: Path, fp: dict[str, Any]) -> None:
    meta = out_dir / "meta.json"
    if not meta.is_file():
        atomic_write_json(meta, {"fingerprint": fp, "version": __version__})
        return
    old = json.loads(meta.read_text()).get("fingerprint") or {}
    diff = sorted(k for k in set(old) | set(fp) if old.get(k) != fp.get(k))
    if diff and set(diff) <= set(JUDGING_KEYS):
        raise ValueError(
            f"{out_dir} holds records judged by other rules (differs in {', '.join(diff)}); re-judge them first with "
            f"`azr eval --rescore {out_dir}` (and the same eval.* settings), or use another --out"
        )
    if diff:
        raise ValueError(
            f"{out_dir} holds records of a different eval (differs in {', '.join(diff)}); use another --out"
        )


def _code_judge(name: str, data: str, settings: EvalConfig, executor: Any) -> CodeJudge | None:
    """The HumanEval+/MBPP+ judge, its reference outputs cached per data file, harness version and policy."""
    if BENCHMARKS[name].kind != "code":
        return None
    from azr.models import cache_root

    digests = not settings.code_policy
    tag = f"{slug(name)}-{data.split(':')[-1][:16]}-v{codecheck.HARNESS_VERSION}{'-d' if digests else ''}"
    cache = cache_root() / "eval" / f"gt-{tag}.json"
    cache.parent.mkdir(parents=True, exist_ok=True)
    return CodeJudge(executor, cache, timeout=settings.code_timeout, digests=digests)


def _judge(
    items: list[Item], responses: list[list[str]], executor: Any, judge: CodeJudge | None, settings: EvalConfig
) -> list[list[dict[str, Any]]]:
    """Verdict records per item, for its k responses."""
    flat_items = [it for it, rs in zip(items, responses) for _ in rs]
    flat = [r for rs in responses for r in rs]
    verdicts = score(flat_items, flat, executor, judge, settings.template, settings.equality)
    out, at = [], 0
    for rs in responses:
        out.append([v.to_json() for v in verdicts[at : at + len(rs)]])
        at += len(rs)
    return out


def run_benchmark(
    name: str,
    items: list[Item],
    backend: Any,
    render: Render,
    executor: Any,
    settings: EvalConfig,
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
    temperature, top_p = settings.sampling()
    for start in range(0, len(todo), settings.batch_size):
        batch = todo[start : start + settings.batch_size]
        params = SamplingParams(
            max_new_tokens=settings.max_new_tokens, temperature=temperature, top_p=top_p,
            stop=stop, stop_after=stop_after, seed=settings.seed * 1_000_003 + position[batch[0].id],
        )  # fmt: skip
        outs = backend.generate([prompts[it.id] for it in batch], params, n=settings.samples)
        responses = [[eval_prompts.response_prefix(msgs[it.id]) + c.text for c in cs] for it, cs in zip(batch, outs)]
        verdicts = _judge(batch, responses, executor, code_judge, settings)
        new = [
            {"id": it.id, "gold": it.gold, "responses": rs, "finish": [c.finish_reason for c in cs], "verdicts": vs}
            for it, rs, cs, vs in zip(batch, responses, outs, verdicts)
        ]
        if records_file is not None:
            append_jsonl(records_file, new)
        for rec in new:
            done[rec["id"]] = rec
        if progress is not None:
            progress.advance(task, len(batch))
    return [done[it.id] for it in items]


def _results(
    model: str, settings: EvalConfig, cfg: Config, benches: dict[str, BenchmarkResult], meta: dict[str, Any] | None
) -> dict[str, Any]:
    temperature, top_p = settings.sampling()
    resolved = {**asdict(settings), "temperature": temperature, "top_p": top_p}
    return {
        "model": model, "version": __version__, "prompt_version": eval_prompts.PROMPT_VERSION,
        "settings": {**resolved, "prefill_answer": cfg.rollout.prefill_answer, "scoring": SCORING_VERSION},
        "seed": settings.seed, "config": cfg.to_dict(), **(meta or {}),
        "averages": averages({n: r.score for n, r in benches.items()}),
        "benchmarks": {n: r.to_json() for n, r in benches.items()},
    }  # fmt: skip


def evaluate(
    backend: Any,
    render: Render,
    executor: Any,
    settings: EvalConfig,
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

    `backend` is a rollout backend or the string `oracle`/`junk`; `render` turns messages into prompt text;
    `cfg.rollout.prefill_answer` decides the CRUXEval answer skeleton. `code_executor` runs HumanEval+/MBPP+
    programs (default: `executor`); the CLI passes one without the training AST policy, because EvalPlus allows any
    import and its reference solutions use `random`, `hashlib`, `sys`.
    """
    cfg = cfg or Config()
    names = expand_benchmarks(list(settings.benchmarks))
    model = model_spec or (backend if isinstance(backend, str) else "backend")
    if out_dir is not None:
        _check_meta(out_dir, fingerprint(settings, model, cfg.rollout.prefill_answer))
    results: dict[str, BenchmarkResult] = {}
    with progress_display(show_progress) as progress:
        for name in names:
            items, data = load_items(name, data_dir, settings.limit)
            judge = _code_judge(name, data, settings, code_executor or executor)
            rec_file = out_dir / "records" / f"{slug(name)}.jsonl" if out_dir is not None else None
            records = run_benchmark(name, items, backend, render, executor, settings, cfg, rec_file, judge, progress)
            results[name] = _aggregate(name, records, settings.samples, data, settings.equality)
    out = _results(model_spec, settings, cfg, results, meta)
    if out_dir is not None:
        atomic_write_json(out_dir / "results.json", out)
    return out


def rescore(
    src: Path,
    executor: Any,
    settings: EvalConfig,
    *,
    data_dir: Path | None = None,
    out_dir: Path | None = None,
    code_executor: Any = None,
    show_progress: bool = False,
) -> dict[str, Any]:
    """Re-judge every record of the eval output dir `src` with the current rules and `settings`' judging fields
    (`equality`, `code_timeout`, `code_policy`); generation settings come from `src/meta.json`. Writes records,
    meta and results.json to `out_dir` (default: `src` itself; the raw responses are kept, so nothing is lost)."""
    meta_file = src / "meta.json"
    if not meta_file.is_file() or not (src / "records").is_dir():
        raise FileNotFoundError(f"{src} is not an eval output dir (no meta.json and records/)")
    old = json.loads(meta_file.read_text()).get("fingerprint") or {}
    gen = {k: old[k] for k in ("samples", "seed", "max_new_tokens", "template") if k in old}
    settings = replace(settings, temperature=old.get("temperature"), top_p=old.get("top_p"), **gen)
    prev = json.loads((src / "results.json").read_text()) if (src / "results.json").is_file() else {}
    cfg = Config()
    if isinstance(prev.get("config"), dict):
        from azr.config import config_from_dict

        cfg = config_from_dict(prev["config"])
    cfg = replace(cfg, rollout=replace(cfg.rollout, prefill_answer=bool(old.get("prefill_answer", False))))
    out_dir = out_dir or src
    by_slug = {slug(n): n for n in BENCHMARKS}
    files = {by_slug[f.stem]: f for f in (src / "records").glob("*.jsonl") if f.stem in by_slug}
    names = [n for n in BENCHMARKS if n in files]
    settings = replace(settings, benchmarks=tuple(names) or settings.benchmarks, limit=None)
    results: dict[str, BenchmarkResult] = {}
    with progress_display(show_progress) as progress:
        for name in names:
            records = list({r["id"]: r for r in read_jsonl(files[name])}.values())
            all_items, data = load_items(name, data_dir)
            by_id = {it.id: it for it in all_items}
            missing = [r["id"] for r in records if r["id"] not in by_id]
            if missing:
                raise ValueError(f"{name}: records of items not in the data file ({missing[0]}, ...); pass --data-dir")
            judge = _code_judge(name, data, settings, code_executor or executor)
            task = progress.add_task(f"{name} (rescore)", total=len(records)) if progress else None
            step = max(settings.batch_size, 64)  # no generation to interleave: larger batches keep the sandbox busy
            for start in range(0, len(records), step):
                batch = records[start : start + step]
                items = [by_id[r["id"]] for r in batch]
                for rec, vs in zip(batch, _judge(items, [r["responses"] for r in batch], executor, judge, settings)):
                    rec["verdicts"] = vs
                if progress is not None:
                    progress.advance(task, len(batch))
            rec_file = out_dir / "records" / f"{slug(name)}.jsonl"
            rec_file.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(rec_file, "".join(json.dumps(r) + "\n" for r in records))
            results[name] = _aggregate(name, records, settings.samples, data, settings.equality)
    fp = {**old, **{k: v for k, v in fingerprint(settings, "", False).items() if k in JUDGING_KEYS}}
    atomic_write_json(out_dir / "meta.json", {"fingerprint": fp, "version": __version__})
    keep = {k: v for k, v in prev.items() if k not in ("settings", "averages", "benchmarks", "version", "config")}
    out = {**_results(old.get("model", ""), settings, cfg, results, keep), "rescored_from": str(src)}
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
    `{"eval/<benchmark>/score": percent}` (CRUXEval under the official rule, as `azr eval` reports it). No files
    are written."""
    from azr.eval.benchmarks import default_data_dir

    cfg = cfg or Config()
    settings = EvalConfig(
        benchmarks=tuple(benchmarks), limit=limit, samples=1, temperature=0.0,
        max_new_tokens=max_new_tokens or min(cfg.rollout.max_new_tokens, 2048), template="azr",
        batch_size=cfg.rollout.micro_batch_size, code_policy=True,
    )  # fmt: skip
    ddir = default_data_dir(str(data_dir) if data_dir else None)
    res = evaluate(rollout, render, executor, settings, cfg=cfg, data_dir=ddir)
    return {f"eval/{n}/score": b["score"] for n, b in res["benchmarks"].items()}
