"""`azr report` on synthetic run dirs: images exist, shown numbers match metrics.jsonl, missing files are named."""

from __future__ import annotations

import base64
import json
from html.parser import HTMLParser
from pathlib import Path

import pytest
from report_fixtures import make_run

from azr.cli import main
from azr.report import build_report
from azr.report.build import SUMMARY_COLUMNS


class Page(HTMLParser):
    """Collects images, numeric cells (data-key) and element text by id."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[dict[str, str]] = []
        self.cells: list[dict[str, str]] = []
        self.text_by_id: dict[str, str] = {}
        self._open: list[tuple[str | None, dict[str, str] | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "img":
            self.images.append(a)
            return
        cell = dict(a, text="") if tag == "td" and "data-key" in a else None
        if cell is not None:
            self.cells.append(cell)
        self._open.append((a.get("id"), cell))
        if a.get("id"):
            self.text_by_id[a["id"]] = ""

    def handle_endtag(self, tag: str) -> None:
        if self._open and tag not in ("img", "br", "meta"):
            self._open.pop()

    def handle_data(self, data: str) -> None:
        for ident, cell in self._open:
            if ident:
                self.text_by_id[ident] += data
            if cell is not None:
                cell["text"] += data


def parse(path: Path) -> Page:
    p = Page()
    p.feed(path.read_text(encoding="utf-8"))
    return p


def metrics_by_step(run: Path) -> dict[int, dict]:
    out = {}
    for line in (run / "metrics.jsonl").read_text().splitlines():
        try:
            m = json.loads(line)
        except json.JSONDecodeError:
            continue
        out[m["step"]] = m
    return out


def check_images(page: Page, out: Path) -> None:
    assert page.images, "no figures in the report"
    for img in page.images:
        head, data = img["src"].split(",", 1)
        assert head == "data:image/png;base64"
        raw = base64.b64decode(data)
        assert raw.startswith(b"\x89PNG\r\n\x1a\n") and len(raw) > 1000
        # the PNG it embeds is also next to the HTML, byte for byte
        assert (out / img["data-file"]).read_bytes() == raw


def check_numbers(page: Page, run: Path) -> int:
    metrics = metrics_by_step(run)
    for cell in page.cells:
        m = metrics[int(cell["data-step"])]
        want = m[cell["data-key"]]
        assert float(cell["data-value"]) == want, cell
        assert abs(float(cell["text"]) - want) <= 5e-5, cell
    return len(page.cells)


@pytest.fixture
def full_run(tmp_path: Path) -> Path:
    return make_run(tmp_path, steps=6)


def test_report_on_synthetic_run(full_run: Path) -> None:
    html = build_report(full_run)
    out = full_run / "report"
    assert html == out / "index.html"
    page = parse(html)
    check_images(page, out)
    assert {i["data-file"] for i in page.images} == {
        "curves.png",
        "buffers.png",
        "complexity.png",
        "diversity.png",
        "rejections.png",
        "eval.png",
        "oversight.png",
        "advantages.png",
    }
    n = check_numbers(page, full_run)
    last = metrics_by_step(full_run)[6]
    summary = {c["data-key"] for c in page.cells if c.get("data-step") == "6"}
    # every per task x role number of the last step that the summary has a column for is shown
    expected = {k for k in last if k.count("/") == 2 and k.split("/")[2] in SUMMARY_COLUMNS}
    assert expected <= summary and n > len(expected)
    # the learning signal: every advantage statistic of the last step, and the degenerate-group share
    adv = {k for k in last if k.startswith("adv/") or k.rsplit("/", 1)[-1].startswith("adv_")}
    assert len(adv) == 19 and adv <= summary and "adv_zero_frac" in page.text_by_id["advantage-table"]
    # evaluation at every evaluated step
    evals = {(c["data-key"], c["data-step"]) for c in page.cells if c["data-key"].startswith("eval/")}
    assert ("eval/cruxeval-o/score", "2") in evals and ("eval/cruxeval-i/score", "4") in evals
    # rejection totals are the sums over steps and types
    text = html.read_text()
    total = sum(
        v for m in metrics_by_step(full_run).values() for k, v in m.items() if k.endswith("rejections/syntax_error")
    )
    assert f"<th>syntax_error</th><td class='num'>{total}</td>" in text
    # oversight flags with excerpts, escaped
    assert "1 flags" in page.text_by_id["flag-count"]
    assert "less intelligent humans" in page.text_by_id["flags-table"]
    assert "<script>x</script>" not in text and "&lt;script&gt;x&lt;/script&gt;" in text
    # example tasks with the model's proposals and answers, per type
    for t in ("deduction", "abduction", "induction"):
        assert f"<h3>{t}</h3>" in text
    assert "Tracing the code gives" in text and "tricky function for step 6" in text
    assert page.text_by_id["status"] == "finished" and "missing" not in page.text_by_id


def test_report_on_partial_run(tmp_path: Path) -> None:
    run = make_run(tmp_path, steps=6, partial=True)
    out = tmp_path / "out"
    html = build_report(run, out)
    page = parse(html)
    check_images(page, out)
    check_numbers(page, run)
    # the torn 7th line is skipped; the summary is the last complete step
    assert {c["data-step"] for c in page.cells} == {"6"}
    missing = page.text_by_id["missing"]
    for name in (
        "samples/",
        "oversight.jsonl",
        "eval/",
        "checkpoints/latest",
        "metrics.jsonl ends with a partial line",
    ):
        assert name in missing, name
    assert page.text_by_id["status"] == "running or interrupted"
    assert "0 flags" in page.text_by_id["flag-count"]


def test_report_on_minimal_and_empty_runs(tmp_path: Path) -> None:
    run = make_run(tmp_path, steps=2)
    for extra in ("buffers", "samples", "eval", "checkpoints"):
        for p in sorted((run / extra).rglob("*"), reverse=True):
            p.rmdir() if p.is_dir() else p.unlink()
        (run / extra).rmdir()
    (run / "oversight.jsonl").unlink()
    (run / "config.yaml").unlink()
    page = parse(build_report(run))
    check_images(page, run / "report")
    check_numbers(page, run)
    assert (
        "buffers/ is missing" in page.text_by_id["missing"] and "config.yaml is missing" in page.text_by_id["missing"]
    )
    # a run that has not finished its first step: no metrics, still a page that says so
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "config.yaml").write_text("trainer: {steps: 3}\n")
    page = parse(build_report(empty))
    assert page.images == [] and "metrics.jsonl" in page.text_by_id["missing"]


def test_report_command(full_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "elsewhere"
    assert main(["report", str(full_run), "--out", str(out)]) == 0
    assert (out / "index.html").exists() and str(out / "index.html") in capsys.readouterr().out
    # a regenerated report drops figures that no longer have data
    (out / "stale.png").write_bytes(b"x")
    assert main(["report", str(full_run), "--out", str(out)]) == 0 and not (out / "stale.png").exists()
    assert main(["report", str(tmp_path / "nope")]) == 2
    assert "run directory not found" in capsys.readouterr().err
    not_a_run = tmp_path / "not-a-run"
    not_a_run.mkdir()
    assert main(["report", str(not_a_run)]) == 2
    assert "does not look like a run directory" in capsys.readouterr().err


def test_report_on_a_scripted_training_run(tmp_path: Path) -> None:
    """The report reads what the trainer really writes (samples/, buffers/, metrics, checkpoints)."""
    from azr.config import load_config
    from azr.trainer import train

    cfg = load_config(
        None,
        [
            "rollout.backend=scripted",
            "model.template=plain",
            "trainer.steps=2",
            "selfplay.batch_size=2",
            "selfplay.mc_samples=2",
            "selfplay.references=1",
            "selfplay.induction_inputs=4",
            "executor.workers=1",
            "trainer.samples_per_step=2",
        ],
    )
    run = tmp_path / "run"
    train(cfg, run)
    html = build_report(run)
    page = parse(html)
    check_images(page, run / "report")
    assert check_numbers(page, run) > 0
    assert {c["data-step"] for c in page.cells} == {"2"}
    text = html.read_text()
    for t in ("deduction", "abduction", "induction"):
        assert f"<h3>{t}</h3>" in text
    assert "<b>propose</b> rollouts (step 2)" in text and "<b>solve</b> rollouts (step 2)" in text
    assert page.text_by_id["status"] == "finished"


def test_report_shows_heldout_curves_from_the_learning_benchmark(tmp_path: Path) -> None:
    """benchmarks/learning.py writes eval/step_N.json (step 0 too, with bootstrap intervals) and no metrics."""
    run = make_run(tmp_path)
    for step, score in ((0, 12.5), (6, 25.0)):
        rec = {"step": step, "eval/heldout-deduction/score": score, "eval/heldout-deduction/ci_low": score - 5,
               "eval/heldout-deduction/ci_high": score + 5, "eval/cruxeval-o/score": 30.0 + step}  # fmt: skip
        (run / "eval" / f"step_{step:06d}.json").write_text(json.dumps(rec))
    html = build_report(run)
    page = parse(html)
    check_images(page, run / "report")
    assert {"heldout.png", "eval.png"} <= {i["data-file"] for i in page.images}
    table = page.text_by_id["eval-table"]
    assert "heldout-deduction" in table and "12.5000 [7.5000, 17.5000]" in table and "25 [20, 30]" in table
    assert "bootstrap 95 % interval" in html.read_text()
