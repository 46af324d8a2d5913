"""Matplotlib figures for the report. Each function writes one PNG and returns its name, or None without data."""

from __future__ import annotations

import math
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on training machines; must precede pyplot
import matplotlib.pyplot as plt  # noqa: E402

from azr.report.data import ROLES, TYPES, RunData  # noqa: E402

CURVES = [
    ("valid_rate", "valid-proposal rate", ("propose",)),
    ("solve_rate", "solve rate", ROLES),
    ("learnability_mean", "learnability (proposer reward term)", ("propose",)),
    ("reward_mean", "mean reward", ROLES),
    ("response_len_mean", "mean response length (tokens)", ROLES),
    ("format_error_rate", "format error rate", ROLES),
]
COLORS = {"deduction": "tab:blue", "abduction": "tab:orange", "induction": "tab:green"}
STYLES = {"propose": "-", "solve": "--"}


def _save(fig: plt.Figure, out: Path, name: str) -> str:
    fig.tight_layout()
    fig.savefig(out / name, dpi=90)
    plt.close(fig)
    return name


def _legend(ax: plt.Axes, **kw: object) -> None:
    if ax.get_legend_handles_labels()[0]:  # an empty legend warns and draws a box
        ax.legend(fontsize=7, **kw)


def _step_axes(*axes: plt.Axes) -> None:
    """x axis in steps, a light grid, a legend when something is labelled."""
    for ax in axes:
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        _legend(ax)


def _marker(xs: list[int]) -> str | None:
    # A single point draws no line; show it.
    return "o" if len(xs) < 3 else None


def task_role_curves(run: RunData, out: Path) -> str | None:
    panels = [
        (k, title, roles)
        for k, title, roles in CURVES
        if any(run.series(f"{t}/{r}/{k}")[0] for t in TYPES for r in roles)
    ]
    if not panels:
        return None
    cols = 2
    rows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(11, 3.2 * rows), squeeze=False)
    for ax, (key, title, roles) in zip(axes.flat, panels):
        for t in TYPES:
            for r in roles:
                xs, ys = run.series(f"{t}/{r}/{key}")
                if xs:
                    ax.plot(xs, ys, STYLES[r], color=COLORS[t], marker=_marker(xs), label=f"{t}/{r}")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        _legend(ax)
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    return _save(fig, out, "curves.png")


def complexity(run: RunData, out: Path) -> str | None:
    if not run.programs and not any(run.series(f"{t}/propose/program_ast_nodes_mean")[0] for t in TYPES):
        return None
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 3.4))
    for t in TYPES:
        st = run.programs.get(t)
        if st and st.steps:
            a1.plot(st.steps, st.ast_nodes, color=COLORS[t], marker=_marker(st.steps), label=f"{t} (buffer adds)")
            a2.plot(st.steps, st.cyclomatic, color=COLORS[t], marker=_marker(st.steps), label=t)
        xs, ys = run.series(f"{t}/propose/program_ast_nodes_mean")
        if xs:
            a1.plot(xs, ys, ":", color=COLORS[t], marker=_marker(xs), label=f"{t} (all proposals)")
    a1.set_title("program AST nodes (mean)", fontsize=10)
    a2.set_title("cyclomatic complexity (radon, mean)", fontsize=10)
    _step_axes(a1, a2)
    return _save(fig, out, "complexity.png")


def diversity(run: RunData, out: Path) -> str | None:
    if not any(st.steps for st in run.programs.values()):
        return None
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 3.4))
    totals: dict[str, int] = {}
    for t, st in run.programs.items():
        a1.plot(st.steps, st.distinct_total, color=COLORS.get(t), marker=_marker(st.steps), label=t)
        for name, counts in st.answer_types.items():
            totals[name] = totals.get(name, 0) + sum(counts)
    a1.set_title("distinct programs (cumulative)", fontsize=10)
    a1.set_xlabel("step")
    a1.grid(alpha=0.3)
    _legend(a1)
    # Answer-type mix per step, all task types together, as shares.
    steps = sorted({s for st in run.programs.values() for s in st.steps})
    names = sorted(totals, key=lambda n: -totals[n])
    share = {n: [0.0] * len(steps) for n in names}
    for st in run.programs.values():
        for n, counts in st.answer_types.items():
            for s, c in zip(st.steps, counts):
                share[n][steps.index(s)] += c
    denom = [sum(share[n][i] for n in names) or 1.0 for i in range(len(steps))]
    bottom = [0.0] * len(steps)
    for n in names:
        vals = [share[n][i] / denom[i] for i in range(len(steps))]
        a2.bar([str(s) for s in steps], vals, bottom=bottom, label=n)
        bottom = [b + v for b, v in zip(bottom, vals)]
    a2.set_title("answer-type mix of new tasks (share)", fontsize=10)
    a2.set_xlabel("step")
    a2.tick_params(axis="x", labelsize=7)
    _legend(a2)
    return _save(fig, out, "diversity.png")


def buffers(run: RunData, out: Path) -> str | None:
    fig, ax = plt.subplots(figsize=(7, 3.2))
    drawn = False
    for t in TYPES:
        xs, ys = run.series(f"buffer/{t}")
        if not xs and t in run.programs:  # fall back to the buffer log itself
            xs, ys = run.programs[t].steps, run.programs[t].size_total
        if xs:
            ax.plot(xs, ys, color=COLORS[t], marker=_marker(xs), label=t)
            drawn = True
    if not drawn:
        plt.close(fig)
        return None
    ax.set_title("buffer size", fontsize=10)
    ax.set_xlabel("step")
    ax.grid(alpha=0.3)
    _legend(ax)
    return _save(fig, out, "buffers.png")


REJECTION = re.compile(r"^(\w+)/propose/rejections/(.+)$")


def rejection_totals(run: RunData) -> dict[str, dict[int, float]]:
    """reason -> step -> count, summed over task types."""
    out: dict[str, dict[int, float]] = {}
    for m in run.metrics:
        for k, v in m.items():
            hit = REJECTION.match(k)
            if hit and isinstance(v, (int, float)) and "step" in m:
                per = out.setdefault(hit.group(2), {})
                per[int(m["step"])] = per.get(int(m["step"]), 0.0) + float(v)
    return out


def rejections(run: RunData, out: Path) -> str | None:
    totals = rejection_totals(run)
    if not totals:
        return None
    steps = sorted({s for per in totals.values() for s in per})
    fig, ax = plt.subplots(figsize=(9, 3.4))
    ax.stackplot(steps, *[[totals[r].get(s, 0.0) for s in steps] for r in totals], labels=list(totals))
    ax.set_title("proposal rejections by reason (all task types)", fontsize=10)
    ax.set_xlabel("step")
    ax.grid(alpha=0.3)
    _legend(ax, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return _save(fig, out, "rejections.png")


def _eval_plot(run: RunData, out: Path, keys: list[str], title: str, name: str) -> str | None:
    if not keys:
        return None
    fig, ax = plt.subplots(figsize=(7, 3.2))
    for k in keys:
        xs, ys = run.eval_series(k)
        lo = [run.evals.get(x, {}).get(k.replace("/score", "/ci_low")) for x in xs]
        hi = [run.evals.get(x, {}).get(k.replace("/score", "/ci_high")) for x in xs]
        if all(isinstance(v, (int, float)) for v in lo + hi):
            err = [[y - a for y, a in zip(ys, lo)], [b - y for y, b in zip(ys, hi)]]
            ax.errorbar(xs, ys, yerr=err, marker="o", capsize=3, label=k.split("/")[1])
        else:
            ax.plot(xs, ys, marker="o", label=k.split("/")[1])
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("step")
    ax.grid(alpha=0.3)
    _legend(ax)
    return _save(fig, out, name)


def evals(run: RunData, out: Path) -> str | None:
    keys = [k for k in run.eval_keys() if not k.startswith("eval/heldout-")]
    return _eval_plot(run, out, keys, "evaluation score", "eval.png")


def heldout(run: RunData, out: Path) -> str | None:
    keys = [k for k in run.eval_keys() if k.startswith("eval/heldout-")]
    return _eval_plot(run, out, keys, "held-out seed tasks, greedy (% solved)", "heldout.png")


def oversight(run: RunData, out: Path) -> str | None:
    counts: dict[str, dict[int, int]] = {}
    for f in run.flags:
        per = counts.setdefault(str(f.get("severity", "low")), {})
        per[int(f.get("step", 0))] = per.get(int(f.get("step", 0)), 0) + 1
    if not counts:
        return None
    fig, ax = plt.subplots(figsize=(7, 3.0))
    colors = {"low": "tab:gray", "medium": "tab:orange", "high": "tab:red"}
    for sev in ("low", "medium", "high"):
        if sev in counts:
            xs = sorted(counts[sev])
            ax.plot(xs, [counts[sev][x] for x in xs], "o-", color=colors[sev], label=sev)
    ax.set_title("oversight flags per step", fontsize=10)
    ax.set_xlabel("step")
    ax.grid(alpha=0.3)
    _legend(ax)
    return _save(fig, out, "oversight.png")


ADVANTAGE_STATS = ("adv_zero_frac", "adv_abs_mean", "adv_std")


def advantages(run: RunData, out: Path) -> str | None:
    """The learning signal: zero-advantage share (and degenerate groups) and mean |advantage| per task x role."""
    if not any(run.series(f"{t}/{r}/adv_zero_frac")[0] for t in TYPES for r in ROLES):
        return None
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 3.4))
    for t in TYPES:
        for r in ROLES:
            for ax, key in ((a1, "adv_zero_frac"), (a2, "adv_abs_mean")):
                xs, ys = run.series(f"{t}/{r}/{key}")
                if xs:
                    ax.plot(xs, ys, STYLES[r], color=COLORS[t], marker=_marker(xs), label=f"{t}/{r}")
    xs, ys = run.series("adv/degenerate_groups")
    if xs:
        a1.plot(xs, ys, color="black", linewidth=2, marker=_marker(xs), label="degenerate groups")
    a1.set_title("share of trained samples with advantage 0", fontsize=10)
    a1.set_ylim(-0.05, 1.05)
    a2.set_title("mean |advantage|", fontsize=10)
    _step_axes(a1, a2)
    return _save(fig, out, "advantages.png")


ALL = (task_role_curves, complexity, diversity, buffers, rejections, heldout, evals, oversight, advantages)
