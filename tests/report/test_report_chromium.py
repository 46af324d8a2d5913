"""The report renders in a real browser (headless Debian `chromium`, installed by `make sysdeps`) without errors."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from report_fixtures import make_run

from azr.report import build_report

pytestmark = pytest.mark.slow

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=0",
    "--virtual-time-budget=5000",
]


def chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:  # CI installs it (`make sysdeps`); a silent skip would hide a broken setup
        pytest.fail("chromium not found: run `make sysdeps` (apt-get install chromium)")
    return exe


def run_chromium(args: list[str], tmp: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [chromium(), *FLAGS, f"--user-data-dir={tmp / 'profile'}", *args], capture_output=True, text=True, timeout=120
    )


def test_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    html = build_report(make_run(tmp_path, steps=5))
    url = html.resolve().as_uri()
    dom = run_chromium(["--dump-dom", url], tmp_path)
    assert dom.returncode == 0, dom.stderr[-2000:]
    # page scripts ran and every figure decoded (the report's own load-time self-check)
    m = re.search(r'data-images-loaded="(\d+)/(\d+)"', dom.stdout)
    assert m, dom.stdout[:500]
    assert m.group(1) == m.group(2) and int(m.group(2)) >= 6
    assert "azr run report" in dom.stdout and "Summary at step 5" in dom.stdout
    # no JavaScript errors or failed loads in the console log
    console = [
        ln for ln in dom.stderr.splitlines() if "CONSOLE" in ln or "Uncaught" in ln or "ERR_FILE_NOT_FOUND" in ln
    ]
    assert not console, console

    shot = tmp_path / "shot.png"
    res = run_chromium(["--window-size=1280,2400", f"--screenshot={shot}", url], tmp_path)
    assert res.returncode == 0 and shot.stat().st_size > 20_000, res.stderr[-2000:]
    # not a blank page: the screenshot holds many distinct colours (text, tables, plots)
    from matplotlib import image

    pixels = image.imread(str(shot))[::8, ::8, :3].reshape(-1, 3)
    assert len({tuple((p * 255).astype(int)) for p in pixels}) > 50
