"""The length-prefixed JSON frames both ends of the executor pipe decode with `take_frames`."""

from __future__ import annotations

from azr.executor.wire import frame, take_frames


def test_complete_frames_are_taken_and_a_partial_one_stays():
    data = frame({"id": 1}) + frame({"id": 2, "results": [["ok", "1", None]]}) + frame({"id": 3})
    buf = bytearray(data[:-3])
    assert take_frames(buf) == [{"id": 1}, {"id": 2, "results": [["ok", "1", None]]}]
    assert bytes(buf) == frame({"id": 3})[:-3]
    assert take_frames(buf) == [] and len(buf) == len(frame({"id": 3})) - 3
    buf += data[-3:]
    assert take_frames(buf) == [{"id": 3}] and buf == bytearray()


def test_a_header_split_across_reads_waits_for_the_rest():
    buf = bytearray(frame([1, 2])[:2])
    assert take_frames(buf) == [] and len(buf) == 2
