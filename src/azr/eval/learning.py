"""The learning benchmark's result: evaluations over training, judged against the noise floor, plus the curves.

`summarize` turns per-item correctness of every evaluation point (and of the noise stage) plus the run's metrics
rows into one JSON-ready dict (schema `SCHEMA`, checked by `check_result`); `plot` draws it. Both are independent
of how the evaluations were produced (`benchmarks/learning.py` runs them). No I/O except `plot`'s PNG.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from azr.eval import stats

SCHEMA = "azr-learning-v1"
TYPES = ("deduction", "abduction", "induction")
ROLES = ("propose", "solve")
CURVE_NAMES = ("format_error_rate", "valid_rate", "solve_rate", "reward_mean", "adv_zero_frac")
"""Per task type x role training curves (valid_rate exists for proposers only)."""
GLOBAL_CURVES = ("adv/degenerate_groups",)
CURVE_WINDOW = 5
"""Steps averaged at each end of a training curve to measure its change."""

Evals = dict[int, dict[str, list[float]]]
"""step -> benchmark -> per-item correctness (1.0 / 0.0), items in a fixed order."""


def curves(rows: Sequence[dict[str, Any]]) -> dict[str, list[list[float]]]:
    """The logged training curves: key -> [[step, value], ...] for every key present."""
    keys = [f"{t}/{r}/{n}" for t in TYPES for r in ROLES for n in CURVE_NAMES] + list(GLOBAL_CURVES)
    out: dict[str, list[list[float]]] = {}
    for k in keys:
        pts = [[float(m["step"]), float(m[k])] for m in rows if isinstance(m.get(k), (int, float)) and "step" in m]
        if pts:
            out[k] = pts
    return out


def curve_change(points: Sequence[Sequence[float]], window: int = CURVE_WINDOW) -> dict[str, Any] | None:
    """Mean of the last `window` steps minus the first `window`, with a bootstrap 95 % interval over steps;
    None for a curve shorter than two windows."""
    values = [p[1] for p in points]
    if len(values) < 2 * window:
        return None
    first, last = values[:window], values[-window:]
    lo, hi = stats.diff_of_means_ci(first, last)
    delta = sum(last) / window - sum(first) / window
    return {"first": sum(first) / window, "last": sum(last) / window, "delta": delta, "ci95": [lo, hi],
            "exceeds_noise": lo > 0 or hi < 0}  # fmt: skip


def summarize(
    evals: Evals,
    noise: dict[int, dict[str, float]],
    rows: Sequence[dict[str, Any]],
    meta: dict[str, Any],
) -> dict[str, Any]:
    """The result dict. `noise`: sampling seed -> benchmark -> score (%) of the untrained model at the training
    temperature (empty when the noise stage was not run); `meta`: command, config, machine, timings."""
    steps = sorted(evals)
    benches = sorted({b for per in evals.values() for b in per})
    seed_scores = {b: [noise[s][b] for s in sorted(noise) if b in noise[s]] for b in benches}
    table: dict[str, dict[str, Any]] = {}
    for s in steps:
        table[str(s)] = {}
        for b, values in sorted(evals[s].items()):
            lo, hi = stats.bootstrap_ci(values)
            table[str(s)][b] = {"n": len(values), "score": stats.mean_percent(values), "ci95": [lo, hi]}
    changes = []
    if steps:
        first = steps[0]
        for s in steps[1:]:
            for b in benches:
                if b in evals[first] and b in evals[s] and len(evals[first][b]) == len(evals[s][b]):
                    c = stats.change(b, evals[first][b], evals[s][b], seed_scores.get(b) or None)
                    changes.append({"benchmark": b, "from_step": first, "to_step": s, "before": c.before,
                                    "after": c.after, "delta": c.delta, "ci95": list(c.ci95),
                                    "seed_spread": c.seed_spread, "exceeds_noise": c.exceeds_noise,
                                    "words": c.words()})  # fmt: skip
    cv = curves(rows)
    noise_block = {
        "seeds": sorted(noise),
        "scores": {b: v for b, v in seed_scores.items() if v},
        "spread": {b: stats.spread(v) for b, v in seed_scores.items() if v},
    }
    final = [c for c in changes if c["to_step"] == (steps[-1] if steps else None)]
    return {
        "schema": SCHEMA,
        **meta,
        "eval_steps": steps,
        "evals": table,
        "noise": noise_block,
        "changes": changes,
        "curves": cv,
        "curve_changes": {k: ch for k, pts in cv.items() if (ch := curve_change(pts)) is not None},
        "summary": [c["words"] for c in final],
    }


REQUIRED: dict[str, type | tuple[type, ...]] = {
    "schema": str,
    "eval_steps": list,
    "evals": dict,
    "noise": dict,
    "changes": list,
    "curves": dict,
    "curve_changes": dict,
    "summary": list,
    "timings": dict,
    "config": dict,
}


def check_result(result: dict[str, Any]) -> list[str]:
    """Problems with a result dict (empty when it follows the schema)."""
    problems = [f"missing or mistyped {k}" for k, t in REQUIRED.items() if not isinstance(result.get(k), t)]
    if problems:
        return problems
    if result["schema"] != SCHEMA:
        problems.append(f"schema {result['schema']!r} is not {SCHEMA}")
    for step, per in result["evals"].items():
        for b, e in per.items():
            if not (isinstance(e.get("n"), int) and isinstance(e.get("score"), float) and len(e.get("ci95", [])) == 2):
                problems.append(f"evals[{step}][{b}] lacks n/score/ci95")
            elif not e["ci95"][0] <= e["score"] <= e["ci95"][1]:
                problems.append(f"evals[{step}][{b}] score lies outside its interval")
    for c in result["changes"]:
        if not {"benchmark", "delta", "ci95", "exceeds_noise", "words"} <= set(c):
            problems.append(f"change {c.get('benchmark')} lacks fields")
    return problems


def plot(result: dict[str, Any], path: Path) -> Path:
    """One PNG: held-out and CRUXEval scores per evaluation step (95 % intervals, noise band at step 0), and the
    main training curves."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    steps = [int(s) for s in result["evals"]]
    benches = sorted({b for per in result["evals"].values() for b in per})
    for ax, heldout in ((axes[0], True), (axes[1], False)):
        for b in [b for b in benches if b.startswith("heldout-") == heldout]:
            xs = [s for s in steps if b in result["evals"][str(s)]]
            ys = [result["evals"][str(s)][b]["score"] for s in xs]
            lo = [y - result["evals"][str(s)][b]["ci95"][0] for s, y in zip(xs, ys)]
            hi = [result["evals"][str(s)][b]["ci95"][1] - y for s, y in zip(xs, ys)]
            line = ax.errorbar(xs, ys, yerr=[lo, hi], marker="o", capsize=3, label=b)
            seeds = result["noise"]["scores"].get(b)
            if seeds:
                ax.fill_between([min(xs), max(xs)], min(seeds), max(seeds), alpha=0.12, color=line[0].get_color())
        ax.set_title("held-out tasks (greedy)" if heldout else "benchmarks (greedy)", fontsize=10)
        ax.set_xlabel("step")
        ax.set_ylabel("score %")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    ax = axes[2]
    for key in (
        [f"{t}/solve/solve_rate" for t in TYPES] + [f"{t}/propose/valid_rate" for t in TYPES] + list(GLOBAL_CURVES)
    ):
        pts = result["curves"].get(key)
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], label=key, linewidth=1)
    ax.set_title("training curves (sampled, per step)", fontsize=10)
    ax.set_xlabel("step")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.suptitle("shaded: untrained model over sampling seeds at the training temperature", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
