"""Crash-safe file writes: whole files are replaced atomically, logs are appended line by line.

Also the checks at the edge for the files a user names or a run holds: an output directory that cannot be
written, a log that is damaged or not UTF-8. Both end as one `FileError` line (exit 2), never a traceback.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

TMP_SUFFIX = ".tmp"


class FileError(Exception):
    """A file or directory cannot be used as needed (damaged, not UTF-8, not writable); one-line message."""


def fsync_dir(path: str | Path) -> None:
    fd = os.open(str(path), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write to a temp file in the same directory, fsync, then rename over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def remove_stale_tmp(directory: str | Path, name: str = "*") -> None:
    """Delete the temp files `atomic_write_bytes` leaves behind for `name` when the process is killed mid-write.

    Only call this where no other process is writing the same directory (a run's own directories)."""
    for stray in Path(directory).glob(f".{name}.*{TMP_SUFFIX}"):
        if stray.is_file():
            stray.unlink(missing_ok=True)


def append_jsonl(path: str | Path, records: Iterable[dict[str, Any]]) -> None:
    """Append records, one JSON object per line, flushed and fsynced.

    A crash can leave at most one partial last line. Before appending, a partial last line is cut off, so the
    next record starts on a line of its own instead of being glued to (and lost with) the torn one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in records)
    if not lines:
        return
    with open(path, "a+b") as f:  # a+: reads see the tail; writes still go to the end
        drop_torn_tail(f)
        f.write(lines.encode("utf-8"))
        f.flush()
        os.fsync(f.fileno())


def drop_torn_tail(f: Any) -> bool:
    """Truncate a binary file open for appending back to its last newline; True if there was a torn tail."""
    end = f.seek(0, os.SEEK_END)
    if end == 0:
        return False
    f.seek(end - 1)
    if f.read(1) == b"\n":
        return False
    keep, pos = 0, end
    while pos > 0:  # scan backwards in blocks: a torn record can be long
        start = max(0, pos - (1 << 16))
        f.seek(start)
        block = f.read(pos - start)
        nl = block.rfind(b"\n")
        if nl >= 0:
            keep = start + nl + 1
            break
        pos = start
    f.truncate(keep)
    f.seek(keep)
    return True


def read_jsonl(path: str | Path) -> Iterator[dict[str, Any]]:
    """Yield the records of a JSONL file, skipping a torn last line (no final newline) left by a crash.

    Any other line that is not UTF-8 JSON means the file was damaged: FileError naming the file and line.
    """
    path = Path(path)
    if not path.exists():
        return
    with open(path, "rb") as f:
        for number, raw in enumerate(f, 1):
            complete = raw.endswith(b"\n")
            if not raw.strip():
                continue
            try:
                yield json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as e:
                if not complete:
                    return  # the torn last line of an interrupted append
                what = "not UTF-8 text" if isinstance(e, UnicodeDecodeError) else "not a JSON record"
                raise FileError(f"{path} is damaged: line {number} is {what}; restore or delete the file") from None


def check_out_dir(path: str | Path, flag: str = "--out") -> Path:
    """Fail early, in one line, when `path` cannot become a writable directory: it is a file, lies under a file,
    or its nearest existing ancestor refuses new entries (read-only, /proc, no permission). Creates nothing."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise FileError(f"{flag} {path} is a file, not a directory")
    anchor = path
    while not anchor.is_dir():
        if anchor.exists() or anchor.is_symlink():
            raise FileError(f"{flag} {path}: {anchor} is not a directory")
        if anchor.parent == anchor:
            break
        anchor = anchor.parent
    try:  # a real probe: access(2) says yes to root on read-only and virtual file systems
        os.rmdir(tempfile.mkdtemp(dir=anchor, prefix=".azr-probe-"))
    except OSError as e:
        raise FileError(f"{flag} {path} is not writable ({e.strerror or type(e).__name__} in {anchor})") from None
    return path
