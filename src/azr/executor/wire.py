"""Wire formats of the executor: trainer <-> zygote frames (length-prefixed JSON) and child -> zygote results.

Kept apart from the zygote so both ends (the trainer's `process` module and the zygote) share one definition.
"""

from __future__ import annotations

import json
import math
import os
import struct

HDR = struct.Struct(">I")
# Child -> zygote result frame: status code, output byte length, error byte length, then the UTF-8 bytes.
# Binary rather than JSON so a child touches (copies) as few of the zygote's pages as possible.
RES = struct.Struct(">BII")
STATUSES = ("ok", "error", "timeout", "memory", "crashed", "output_limit", "policy_rejected", "sandbox_error")
_CODE = {name: i for i, name in enumerate(STATUSES)}


def request_problem(msg: dict) -> str | None:
    """What is wrong with a trainer -> zygote request frame, or None. The trainer validates first; the zygote
    checks again so one malformed request is answered as a bad request instead of killing the zygote. Timeouts
    above MAX_TIMEOUT are not a problem: the zygote clamps them."""
    t = msg.get("timeout")
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not (math.isfinite(t) and t > 0):
        return f"timeout {t!r} is not a finite positive number"
    if not isinstance(msg.get("code"), str) or not all(isinstance(x, str) for x in msg["inputs"]):
        return "code and inputs must be strings"
    return None


def read_exact(fd: int, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = os.read(fd, n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def frame(obj: object) -> bytes:
    data = json.dumps(obj, ensure_ascii=True).encode()
    return HDR.pack(len(data)) + data


def encode_result(res: list) -> bytes:
    out = (res[1] or "").encode("utf-8", "surrogatepass")
    err = (res[2] or "").encode("utf-8", "surrogatepass")
    return RES.pack(_CODE[res[0]], len(out), len(err)) + out + err


def take_frames(buf: bytearray) -> list:
    """Decode every complete frame at the front of `buf` and remove their bytes; a partial frame stays."""
    msgs = []
    pos = 0
    while len(buf) - pos >= HDR.size:
        (size,) = HDR.unpack_from(buf, pos)
        end = pos + HDR.size + size
        if len(buf) < end:
            break
        msgs.append(json.loads(buf[pos + HDR.size : end]))
        pos = end
    del buf[:pos]
    return msgs
