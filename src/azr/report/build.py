"""`azr report`: one self-contained HTML page (PNGs inlined as base64, and written next to it) for a run dir."""

from __future__ import annotations

import base64
import datetime as _dt
import math
import os
from html import escape
from pathlib import Path
from string import Template
from typing import Any

from azr.report import plots
from azr.report.data import ROLES, TYPES, RunData, load_run

SUMMARY_COLUMNS = (
    "count",
    "valid_rate",
    "solve_rate",
    "learnability_mean",
    "reward_mean",
    "response_len_mean",
    "format_error_rate",
    "program_ast_nodes_mean",
)
MAX_FLAGS = 200
"""Flags listed in full (most recent first); the count above the table is always the total."""
CAPTIONS = {
    "curves.png": "Per task type × role, from metrics.jsonl (solid: propose, dashed: solve).",
    "complexity.png": "Complexity of programs entering the buffers at each step (buffers/*.jsonl), and of all proposals "
    "(metrics, dotted) where recorded.",
    "diversity.png": "Distinct programs in the buffers and the value types of the new tasks' outputs.",
    "buffers.png": "Buffer sizes per task type.",
    "rejections.png": "Why proposals were rejected, per step (metrics `<type>/propose/rejections/<reason>`).",
    "eval.png": "Periodic evaluation scores (metrics `eval/<benchmark>/score`).",
    "heldout.png": "Held-out seed tasks (never trained on), greedy, with bootstrap 95 % intervals (eval/step_N.json).",
    "oversight.png": "Oversight flags per step and severity (oversight.jsonl).",
    "advantages.png": "Zero-advantage share per task type × role and the share of degenerate groups (all rewards "
    "equal, so no learning signal), and the mean |advantage| (metrics `<type>/<role>/adv_*`).",
}


def fmt(v: Any) -> str:
    """How a number is shown: integers as integers, others to 4 decimals (the test compares within 5e-5)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return escape(str(v))
    if math.isnan(v):
        return "–"
    if float(v).is_integer() and abs(v) < 1e15:
        return str(int(v))
    return f"{v:.4f}"


def _num(key: str, v: Any, step: int | None = None) -> str:
    attrs = f' data-key="{escape(key)}" data-value="{escape(repr(v))}"'
    if step is not None:
        attrs += f' data-step="{step}"'
    return f'<td class="num"{attrs}>{fmt(v)}</td>'


def _header(run: RunData) -> str:
    steps = run.steps
    want = (run.config.get("trainer") or {}).get("steps")
    status = "running or interrupted" if run.running else "finished"
    # A run halted by oversight `stop` ends early with a checkpoint at a step that has flags.
    if (
        run.running
        and not run.torn_lines
        and steps
        and run.latest_checkpoint
        and run.latest_checkpoint.rstrip("/").endswith(f"step_{max(steps):06d}")
        and any(int(f.get("step", -1)) == max(steps) for f in run.flags)
    ):
        status = f"stopped at step {max(steps)} (oversight flags at that step, see below)"
    model = (run.config.get("model") or {}).get("spec", "?")
    parts = [
        f"<h1>azr run report</h1><p class='meta'>{escape(str(run.run_dir))} · model {escape(str(model))} · "
        f"generated {_dt.datetime.now().strftime('%Y-%m-%d %H:%M')}</p>",
        f"<p>Status: <span class='status' id='status'>{status}</span> · steps logged: "
        f"<span id='steps'>{len(steps)}</span>"
        + (f" (last {max(steps)}" + (f" of {want}" if want else "") + ")" if steps else "")
        + (f" · latest checkpoint: <code>{escape(run.latest_checkpoint)}</code>" if run.latest_checkpoint else "")
        + "</p>",
        "<nav><a href='#summary'>summary</a><a href='#curves'>curves</a><a href='#programs'>programs</a>"
        "<a href='#rejections'>rejections</a><a href='#eval'>evaluation</a><a href='#oversight'>oversight</a>"
        "<a href='#examples'>examples</a></nav>",
    ]
    if run.missing or run.torn_lines:
        items = "".join(f"<li><code>{escape(k)}</code> is missing: no {escape(v)}</li>" for k, v in run.missing.items())
        items += "".join(
            f"<li><code>{escape(k)}</code> ends with a partial line (being written); it was skipped</li>"
            for k in run.torn_lines
        )
        parts.append(f"<div class='notice' id='missing'><b>Incomplete run directory.</b><ul>{items}</ul></div>")
    return "\n".join(parts)


def _summary(run: RunData) -> str:
    if not run.metrics:
        return "<h2 id='summary'>Summary</h2><p>No metrics yet.</p>"
    last = run.metrics[-1]
    step = int(last.get("step", 0))
    cols = [c for c in SUMMARY_COLUMNS if any(f"{t}/{r}/{c}" in last for t in TYPES for r in ROLES)]
    rows = []
    for t in TYPES:
        for r in ROLES:
            if not any(f"{t}/{r}/{c}" in last for c in cols):
                continue
            cells = "".join(
                _num(f"{t}/{r}/{c}", last[f"{t}/{r}/{c}"], step) if f"{t}/{r}/{c}" in last else "<td></td>"
                for c in cols
            )
            rows.append(f"<tr><th>{t}/{r}</th>{cells}</tr>")
    head = "".join(f"<th>{c}</th>" for c in cols)
    out = [
        f"<h2 id='summary'>Summary at step {step}</h2>",
        f"<div class='scroll'><table id='summary-table'><tr><th>task/role</th>{head}</tr>{''.join(rows)}</table></div>",
    ]
    other = sorted(k for k in last if k.split("/")[0] in ("buffer", "timing", "update", "oversight", "eval"))
    if other:
        cells = "".join(f"<tr><th>{escape(k)}</th>{_num(k, last[k], step)}</tr>" for k in other)
        out.append(
            f"<details open><summary>Other metrics at step {step}</summary><table id='other-table'>{cells}</table></details>"
        )
    return "\n".join(out)


def _advantages(run: RunData) -> str:
    """The last step's advantage statistics per task x role, and its share of degenerate groups."""
    last = run.metrics[-1] if run.metrics else {}
    step = int(last.get("step", 0))
    rows = [
        f"<tr><th>{t}/{r}</th>"
        + "".join(
            _num(f"{t}/{r}/{c}", last[f"{t}/{r}/{c}"], step) if f"{t}/{r}/{c}" in last else "<td></td>"
            for c in plots.ADVANTAGE_STATS
        )
        + "</tr>"
        for t in TYPES
        for r in ROLES
        if f"{t}/{r}/adv_zero_frac" in last
    ]
    if not rows:
        return "<p>No advantage statistics in metrics.jsonl.</p>"
    head = "".join(f"<th>{c}</th>" for c in plots.ADVANTAGE_STATS)
    degenerate = last.get("adv/degenerate_groups")
    note = (
        f"<p>Share of task × role groups at step {step} whose rewards are all equal (every advantage 0):</p>"
        f"<table><tr><th>adv/degenerate_groups</th>{_num('adv/degenerate_groups', degenerate, step)}</tr></table>"
        if degenerate is not None
        else ""
    )
    return (
        f"<div class='scroll'><table id='advantage-table'><tr><th>task/role (step {step})</th>{head}</tr>"
        f"{''.join(rows)}</table></div>{note}"
    )


def _figure(out: Path, name: str | None) -> str:
    if not name:
        return ""
    data = base64.b64encode((out / name).read_bytes()).decode("ascii")
    return (
        f"<figure><img src='data:image/png;base64,{data}' data-file='{name}' alt='{name}'>"
        f"<figcaption>{escape(CAPTIONS.get(name, ''))} <a href='{name}'>{name}</a></figcaption></figure>"
    )


def _programs(run: RunData) -> str:
    rows = []
    for t, st in run.programs.items():
        if not st.steps:
            continue
        mix = {n: sum(c) for n, c in st.answer_types.items()}
        total = sum(mix.values()) or 1
        mix_s = ", ".join(f"{n} {100 * c / total:.0f}%" for n, c in sorted(mix.items(), key=lambda x: -x[1]))
        valid_nodes = [x for x in st.ast_nodes if not math.isnan(x)]
        valid_cc = [x for x in st.cyclomatic if not math.isnan(x)]
        rows.append(
            f"<tr><th>{t}</th><td class='num'>{sum(st.added)}</td><td class='num'>{st.distinct_total[-1]}</td>"
            f"<td class='num'>{st.size_total[-1]}</td>"
            f"<td class='num'>{fmt(valid_nodes[-1]) if valid_nodes else '–'}</td>"
            f"<td class='num'>{fmt(valid_cc[-1]) if valid_cc else '–'}</td><td>{escape(mix_s)}</td></tr>"
        )
    if not rows:
        return ""
    return (
        "<table id='programs-table'><tr><th>type</th><th>tasks added</th><th>distinct programs</th><th>buffer size</th>"
        "<th>AST nodes (last step)</th><th>cyclomatic (last step)</th><th>answer types</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def _rejections(run: RunData) -> str:
    totals = plots.rejection_totals(run)
    if not totals:
        return "<p>No rejections recorded.</p>"
    rows = "".join(
        f"<tr><th>{escape(r)}</th><td class='num'>{fmt(sum(per.values()))}</td></tr>"
        for r, per in sorted(totals.items(), key=lambda x: -sum(x[1].values()))
    )
    return f"<table id='rejections-table'><tr><th>reason</th><th>total</th></tr>{rows}</table>"


def _evals(run: RunData) -> str:
    keys = run.eval_keys()
    if not keys:
        return "<p>No evaluation results.</p>"
    series = {k: dict(zip(*run.eval_series(k))) for k in keys}
    steps = sorted({s for per in series.values() for s in per})
    head = "".join(f"<th>{escape(k.split('/')[1])}</th>" for k in keys)
    body = []
    for s in steps:
        cells = []
        for k in keys:
            ci = run.evals.get(s, {})
            lo, hi = ci.get(k.replace("/score", "/ci_low")), ci.get(k.replace("/score", "/ci_high"))
            if s not in series[k]:
                cells.append("<td></td>")
            elif isinstance(lo, (int, float)) and isinstance(hi, (int, float)):
                cells.append(f"<td class='num'>{fmt(series[k][s])} <small>[{fmt(lo)}, {fmt(hi)}]</small></td>")
            else:
                cells.append(_num(k, series[k][s], s))
        body.append(f"<tr><th>{s}</th>" + "".join(cells) + "</tr>")
    note = "<p>Brackets: bootstrap 95 % interval over items.</p>" if any("[" in b for b in body) else ""
    return f"<table id='eval-table'><tr><th>step</th>{head}</tr>{''.join(body)}</table>{note}"


def _oversight(run: RunData) -> str:
    if not run.flags:
        return "<p id='flag-count'>0 flags.</p>"
    by_sev = {s: sum(1 for f in run.flags if f.get("severity") == s) for s in ("high", "medium", "low")}
    counts = ", ".join(f"{n} {s}" for s, n in by_sev.items() if n)
    cls = "alert" if by_sev["high"] else "notice"
    out = [f"<p class='{cls}' id='flag-count'><b>{len(run.flags)} flags</b> ({counts}).</p>"]
    rows = []
    for f in list(reversed(run.flags))[:MAX_FLAGS]:
        sev = escape(str(f.get("severity", "")))
        rows.append(
            f"<tr><td class='num'>{escape(str(f.get('step', '')))}</td><td>{escape(str(f.get('task_type', '')))}/"
            f"{escape(str(f.get('role', '')))}</td><td class='sev-{sev}'>{sev}</td><td>{escape(str(f.get('rule', '')))}"
            f"<br><small>rules v{escape(str(f.get('ruleset', '?')))}</small></td>"
            f"<td>{escape(str(f.get('excerpt', '')))}</td></tr>"
        )
    more = (
        f"<p>Showing the {MAX_FLAGS} most recent; all are in oversight.jsonl.</p>" if len(run.flags) > MAX_FLAGS else ""
    )
    out.append(
        "<table id='flags-table'><tr><th>step</th><th>task/role</th><th>severity</th><th>rule</th><th>excerpt</th></tr>"
        + "".join(rows)
        + "</table>"
        + more
    )
    return "\n".join(out)


def _pre(label: str, value: Any, limit: int = 4000) -> str:
    text = value if isinstance(value, str) else repr(value)
    if len(text) > limit:
        text = text[:limit] + f"\n… ({len(text) - limit} more characters)"
    return f"<div><b>{escape(label)}</b><pre>{escape(text)}</pre></div>"


def _task_blocks(task: dict[str, Any]) -> str:
    io = "\n".join(f"f({i}) == {o}" for i, o in zip(task.get("inputs") or [], task.get("outputs") or []))
    return (
        _pre("program", task.get("program", ""))
        + _pre("inputs → outputs", io)
        + (_pre("message", task["message"]) if task.get("message") else "")
    )


def _sample(s: dict[str, Any]) -> str:
    """One saved rollout, whatever fields the environment wrote: short scalars inline, long text as blocks."""
    inline, blocks = [], []
    for k, v in s.items():
        if k.startswith("_") or k in ("task_type", "type", "role"):
            continue
        if isinstance(v, dict) and "program" in v:  # a Task.to_json record: the task proposed or solved
            blocks.append(f"<div><b>{escape(k)}</b>{_task_blocks(v)}</div>")
            continue
        if v is None or v == "":  # nothing to show (e.g. no rejection detail)
            continue
        if isinstance(v, (int, float, bool)) or (isinstance(v, str) and len(v) <= 60 and "\n" not in v):
            inline.append(f"{escape(k)}={escape(fmt(v) if isinstance(v, (int, float)) else str(v))}")
        else:
            blocks.append(_pre(k, v))
    return f"<details><summary>{escape(', '.join(inline)) or 'sample'}</summary>{''.join(blocks)}</details>"


def _examples(run: RunData) -> str:
    out = []
    for t in TYPES:
        parts = []
        for task in run.buffer_examples.get(t, [])[-2:]:
            parts.append(
                f"<div class='task'><p>Buffer task from step {escape(str(task.get('step', '?')))} "
                f"({escape(str(task.get('source', '')))})</p>{_task_blocks(task)}</div>"
            )
        for r in ROLES:
            # the environment writes `type`; `task_type` is accepted too
            picked = [
                s for s in run.samples if str(s.get("type", s.get("task_type"))) == t and str(s.get("role")) == r
            ][-3:]
            if picked:
                step = picked[-1].get("_step")
                parts.append(f"<p><b>{r}</b> rollouts (step {step}):</p>" + "".join(_sample(s) for s in picked))
        if parts:
            out.append(f"<h3>{t}</h3>" + "".join(parts))
    if not out:
        return "<p>No example tasks: the run has no buffers/ or samples/ yet.</p>"
    return "\n".join(out)


def build_report(run_dir: str | Path, out_dir: str | Path | None = None) -> Path:
    """Write `index.html` and its PNGs into `out_dir` (default RUN_DIR/report); returns the HTML path."""
    run = load_run(run_dir)
    out = Path(out_dir) if out_dir else Path(run_dir) / "report"
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("*.png"):  # figures without data this time must not linger from an older report
        stale.unlink()
    figs = {fn.__name__: fn(run, out) for fn in plots.ALL}
    body = [
        _header(run),
        _summary(run),
        "<h2 id='curves'>Training curves</h2>"
        + (_figure(out, figs["task_role_curves"]) or "<p>No per-task metrics yet.</p>")
        + _figure(out, figs["buffers"]),
        "<h2 id='programs'>Programs: complexity and diversity</h2>"
        + _programs(run)
        + _figure(out, figs["complexity"])
        + _figure(out, figs["diversity"]),
        "<h2 id='advantages'>Learning signal (advantages)</h2>" + _advantages(run) + _figure(out, figs["advantages"]),
        "<h2 id='rejections'>Rejection reasons</h2>" + _rejections(run) + _figure(out, figs["rejections"]),
        "<h2 id='eval'>Evaluation</h2>" + _evals(run) + _figure(out, figs["heldout"]) + _figure(out, figs["evals"]),
        "<h2 id='oversight'>Oversight</h2>" + _oversight(run) + _figure(out, figs["oversight"]),
        "<h2 id='examples'>Example tasks</h2>" + _examples(run),
    ]
    html = Template((Path(__file__).with_name("template.html")).read_text(encoding="utf-8")).substitute(
        title=escape(f"azr report: {Path(run_dir).name}"), body="\n".join(body)
    )
    from azr.io import atomic_write_text

    path = out / "index.html"
    atomic_write_text(path, html)
    os.chmod(path, 0o644)  # the atomic write's temp file is private; a report is meant to be opened and shared
    return path
