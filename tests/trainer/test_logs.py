"""Append-only logs: a torn last line (a crash mid-append) is skipped on reading and cut off before the next
append, so it can no longer swallow the record written after it; damage anywhere else is one error line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from azr.buffer import TaskBuffers
from azr.config import load_config
from azr.io import FileError, append_jsonl, read_jsonl
from azr.tasks.types import Task, TaskType


def test_append_after_a_torn_line_keeps_the_new_record(tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    append_jsonl(log, [{"a": 1}])
    with open(log, "ab") as f:
        f.write(b'{"a": 2, "tor')  # the process died mid-write
    assert list(read_jsonl(log)) == [{"a": 1}]
    append_jsonl(log, [{"a": 3}])
    assert list(read_jsonl(log)) == [{"a": 1}, {"a": 3}]
    assert log.read_text() == '{"a": 1}\n{"a": 3}\n'


def test_a_torn_line_longer_than_one_read_block(tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    append_jsonl(log, [{"a": 1}])
    with open(log, "ab") as f:
        f.write(b'{"big": "' + b"x" * 200_000)
    append_jsonl(log, [{"a": 3}])
    assert list(read_jsonl(log)) == [{"a": 1}, {"a": 3}]
    log.write_bytes(b'{"only": "torn')  # a file that is nothing but a torn line
    append_jsonl(log, [{"a": 4}])
    assert list(read_jsonl(log)) == [{"a": 4}]


def test_a_buffer_log_with_a_torn_tail_keeps_the_next_task(tmp_path: Path) -> None:
    cfg = load_config(None, [])
    task = Task(type=TaskType.DEDUCTION, program="def f(a):\n    return a + 1", inputs=("1",), outputs=("2",), step=1)
    TaskBuffers(tmp_path, cfg)
    with open(tmp_path / "buffers" / "deduction.jsonl", "ab") as f:
        f.write(b'{"event": "add", "program": "def f(a): ret')
    assert TaskBuffers(tmp_path, cfg, upto_step=1).add([task]) == [task]
    assert TaskBuffers(tmp_path, cfg, upto_step=1).contains(task)  # before the fix: glued to the torn line, lost


@pytest.mark.parametrize(
    ("damage", "what"),
    [(b"\xff\xfe not utf-8\n", "not UTF-8 text"), (b'{"half": \n', "not a JSON record")],
)
def test_damage_before_the_last_line_is_one_error_line(tmp_path: Path, damage: bytes, what: str) -> None:
    log = tmp_path / "log.jsonl"
    log.write_bytes(json.dumps({"a": 1}).encode() + b"\n" + damage + json.dumps({"a": 2}).encode() + b"\n")
    with pytest.raises(FileError) as e:
        list(read_jsonl(log))
    assert str(e.value) == f"{log} is damaged: line 2 is {what}; restore or delete the file"
