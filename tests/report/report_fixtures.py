"""A synthetic run directory in the layout of docs/ARCHITECTURE.md, for the report tests."""

from __future__ import annotations

import json
import random
from pathlib import Path

import yaml

TYPES = ("deduction", "abduction", "induction")
PROGRAMS = [
    "def f(a):\n    return a",
    "def f(xs):\n    return sorted(xs)[::-1]",
    "def f(s, k):\n    out = ''\n    for i, c in enumerate(s):\n        if i % k == 0:\n            out += c.upper()\n"
    "        else:\n            out += c\n    return out",
    "def f(n):\n    if n < 2:\n        return n\n    return f(n - 1) + f(n - 2)",
    "def f(d):\n    return {v: k for k, v in d.items() if isinstance(v, int)}",
]
INPUTS = ["[3, 1, 2]", "'hello', 2", "7", "{'a': 1, 'b': 'x'}", "'abc'"]
OUTPUTS = ["[3, 2, 1]", "'HeLlO'", "13", "{1: 'a'}", "'abc'"]


def metrics_line(step: int, rng: random.Random, with_eval: bool = True) -> dict:
    m: dict = {"step": step, "time": 1_700_000_000.0 + step}
    for t in TYPES:
        m[f"{t}/propose/count"] = 8
        m[f"{t}/propose/valid_rate"] = round(rng.random(), 6)
        m[f"{t}/propose/format_error_rate"] = rng.random() / 4
        m[f"{t}/propose/learnability_mean"] = rng.random() / 2
        m[f"{t}/propose/reward_mean"] = rng.random() - 0.5
        m[f"{t}/propose/response_len_mean"] = 100 + 20 * step + rng.random()
        m[f"{t}/propose/program_chars_mean"] = 80.0 + step
        m[f"{t}/propose/program_ast_nodes_mean"] = 12.0 + step / 3
        m[f"{t}/propose/rejections/syntax_error"] = rng.randint(0, 3)
        m[f"{t}/propose/rejections/nondeterministic"] = rng.randint(0, 2)
        m[f"{t}/propose/rejections/forbidden_import"] = rng.randint(0, 1)
        m[f"{t}/solve/count"] = 8
        m[f"{t}/solve/solve_rate"] = rng.random()
        m[f"{t}/solve/format_error_rate"] = rng.random() / 5
        m[f"{t}/solve/reward_mean"] = rng.random() - 0.25
        m[f"{t}/solve/response_len_mean"] = 200 + 10 * step + rng.random()
        m[f"buffer/{t}"] = 4 + 3 * step
        for r in ("propose", "solve"):
            m[f"{t}/{r}/adv_abs_mean"] = rng.random()
            m[f"{t}/{r}/adv_std"] = rng.random()
            m[f"{t}/{r}/adv_zero_frac"] = rng.randint(0, 8) / 8
    for phase in ("generate", "executor", "update", "other", "total"):
        m[f"timing/{phase}"] = rng.random() * 10
    m["adv/degenerate_groups"] = rng.randint(0, 6) / 6
    m["update/loss"] = rng.random()
    m["update/grad_norm"] = rng.random() * 3
    m["oversight/flags"] = 1 if step == 3 else 0
    m["oversight/high"] = 1 if step == 3 else 0
    if with_eval and step % 2 == 0:
        m["eval/cruxeval-o/score"] = 0.1 + step / 100
        m["eval/cruxeval-i/score"] = 0.05 + step / 200
    return m


def make_run(root: Path, steps: int = 6, partial: bool = False, seed: int = 0) -> Path:
    """Full run (`partial=False`) or a run being written: torn last metrics line, no samples/eval/oversight/ckpt."""
    rng = random.Random(seed)
    run = root / ("partial-run" if partial else "run")
    run.mkdir(parents=True)
    (run / "config.yaml").write_text(
        yaml.safe_dump({"model": {"spec": "tiny-random"}, "trainer": {"steps": steps + (4 if partial else 0)}})
    )
    lines = [json.dumps(metrics_line(s, rng, with_eval=not partial)) + "\n" for s in range(1, steps + 1)]
    text = "".join(lines)
    if partial:
        text += json.dumps(metrics_line(steps + 1, rng))[:57]  # a write in progress
    (run / "metrics.jsonl").write_text(text)

    (run / "buffers").mkdir()
    for ti, t in enumerate(TYPES):
        recs = []
        seq = 0
        for step in range(0, steps + 1):
            for j in range(2 if step else 1):
                k = (step + j + ti) % len(PROGRAMS)
                n = 4 if t == "induction" else 1
                recs.append(
                    {
                        "type": t,
                        "program": PROGRAMS[k],
                        "inputs": [INPUTS[k]] * n,
                        "outputs": [OUTPUTS[k]] * n,
                        "message": "reverse-sort a list" if t == "induction" else "",
                        "imports": [],
                        "step": step,
                        "source": "zero" if step == 0 else "proposed",
                        "meta": {},
                        "event": "add",
                        "seq": seq,
                    }
                )
                seq += 1
            if step == 4:
                recs.append({"event": "evict", "seq": 1, "step": step, "type": t})
        (run / "buffers" / f"{t}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    if partial:
        return run

    (run / "samples").mkdir()
    for step in range(1, steps + 1):
        rows = []
        for t in TYPES:
            rows.append(
                {
                    "task_type": t,
                    "role": "propose",
                    "reward": 0.5,
                    "valid": True,
                    "reason": None,
                    "completion": f"<think>Let me write a tricky function for step {step}.</think>\n<answer>\n"
                    f"```python\n{PROGRAMS[step % 5]}\n```\n```input\n{INPUTS[step % 5]}\n```\n</answer>",
                    "program": PROGRAMS[step % 5],
                    "input": INPUTS[step % 5],
                }
            )
            rows.append(
                {
                    "task_type": t,
                    "role": "solve",
                    "reward": 1.0,
                    "correct": True,
                    "completion": f"<think>Tracing the code gives {OUTPUTS[step % 5]}.</think><answer>{OUTPUTS[step % 5]}</answer>",
                    "answer": OUTPUTS[step % 5],
                    "expected": OUTPUTS[step % 5],
                }
            )
        (run / "samples" / f"step_{step:06d}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    flag = {
        "step": 3,
        "task_type": "deduction",
        "role": "propose",
        "rule": "deceive-humans",
        "ruleset": "1.0.0",
        "severity": "high",
        "category": "deception",
        "source": "rules",
        "excerpt": "The aim is to outsmart all these groups of intelligent machines and less intelligent humans <script>x</script>",
    }
    (run / "oversight.jsonl").write_text(json.dumps(flag) + "\n")
    (run / "eval").mkdir()
    for step in range(2, steps + 1, 2):
        (run / "eval" / f"step_{step:06d}.json").write_text(json.dumps({"cruxeval-o": {"score": 0.1 + step / 100}}))
    (run / "checkpoints" / f"step_{steps:06d}").mkdir(parents=True)
    (run / "checkpoints" / "latest").write_text(f"step_{steps:06d}\n")
    return run
