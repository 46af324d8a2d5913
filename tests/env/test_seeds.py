"""Shipped AZR seed files and CRUXEval through validation, seed loading into buffers, and `azr validate`."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from envhelpers import data_path, small_cfg

from azr.buffer import TaskBuffers
from azr.cli import main
from azr.seeds import load_seed_files
from azr.tasks.records import TaskFileError, read_task_file
from azr.tasks.types import TaskType
from azr.validate import REJECTION_REASONS, validate_tasks

SEEDS = [
    "7b_coder_seed_io.jsonl",
    pytest.param("3b_coder_seed_io.jsonl", marks=pytest.mark.slow),
    pytest.param("3b_coder_code_f_seed_io.jsonl", marks=pytest.mark.slow),
    "7b_coder_code_f_seed_io.jsonl",
]


@pytest.mark.parametrize("name", SEEDS)
def test_shipped_seed_files_validate(executor, name):
    records = read_task_file(data_path("azr_seeds", name))
    assert len(records) == 256
    out = validate_tasks([r.task for r in records], executor, None, 0, small_cfg())
    reasons = Counter(v.reason for v in out if v.reason)
    print(name, dict(reasons))  # the rejection reasons, reported
    assert set(reasons) <= set(REJECTION_REASONS)
    valid = sum(v.valid for v in out)
    assert valid >= 0.7 * len(records)  # most model-written seeds are valid; the rest have named reasons
    assert out[0].valid and out[0].task.outputs[0] == "'Hello world'"  # line 1 is the zero task


def test_seed_loading_fills_both_deduction_and_abduction(executor, tmp_path):
    cfg = small_cfg()
    b = TaskBuffers(tmp_path, cfg)
    counts = load_seed_files(b, [data_path("azr_seeds", "7b_coder_seed_io.jsonl")], executor, cfg)
    assert counts["valid"] > 200 and b.size(TaskType.DEDUCTION) == b.size(TaskType.ABDUCTION)
    assert b.size(TaskType.DEDUCTION) == counts["valid"]  # line 1 duplicates the zero triplet
    assert all(
        t.step == 0 and (t.source == "zero" or t.source.startswith("seed:")) for t in b.tasks(TaskType.ABDUCTION)
    )
    # A resumed run does not load the same file twice.
    again = TaskBuffers(tmp_path, cfg)
    assert load_seed_files(again, [data_path("azr_seeds", "7b_coder_seed_io.jsonl")], executor, cfg) == {}
    assert again.sizes() == b.sizes()


def test_unreadable_task_files(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"snippet": "def f(a): return a"}\n')
    with pytest.raises(TaskFileError):
        read_task_file(bad)
    bad.write_text("not json\n")
    with pytest.raises(TaskFileError, match="line 1"):
        read_task_file(bad)


def test_cli_validate_last_line(capsys, tmp_path):
    rc = main(["validate", str(data_path("cruxeval", "cruxeval.jsonl")), "executor.timeout=5", "--limit", "40"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert rc == 0
    m = re.fullmatch(r"validate: valid=(\d+) invalid=(\d+) agree=(\d+)/(\d+)", lines[-1])
    assert m and int(m[1]) + int(m[2]) == 40 and m[3] == m[4] == m[1]


def test_cli_validate_unreadable_input(capsys, tmp_path):
    assert main(["validate", str(tmp_path / "missing.jsonl")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("azr validate: error: no such file") and "\n" not in err
