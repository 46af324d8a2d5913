"""Plain-line progress (`azr.progress.LineProgress`): what a log shows when no terminal draws bars."""

from __future__ import annotations

import io

from azr.progress import LineProgress, duration


def test_lines_per_tenth_with_rate_and_eta_and_a_final_line() -> None:
    out = io.StringIO()
    p = LineProgress(out, every_s=1e9)
    tid = p.add_task("bench", 20)
    for _ in range(20):
        p.advance(tid, 1)
    lines = out.getvalue().splitlines()
    assert lines[0] == "bench: 0/20" and lines[-1].startswith("bench: 20/20 (")
    assert len(lines) == 11  # the start, then one per tenth (the last one is the end)
    assert all("eta" in ln for ln in lines[1:-1]) and "eta" not in lines[-1]


def test_a_heartbeat_task_prints_only_on_the_clock() -> None:
    out = io.StringIO()
    p = LineProgress(out, every_s=1e9)
    tid = p.add_task("generate 8", 8, tenths=False)
    p.update(tid, completed=8)
    p.reset(tid, total=4, description="generate 4")
    p.update(tid, completed=2)
    assert out.getvalue() == ""
    p.every_s = 0.0
    p.update(tid, completed=3)
    assert out.getvalue().startswith("generate 4: 3/4 (")


def test_durations_read_at_a_glance() -> None:
    assert [duration(s) for s in (0.4, 42, 725, 3720)] == ["0s", "42s", "12m05s", "1h02m"]
