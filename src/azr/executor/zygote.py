"""The zygote: a warm interpreter (never the trainer) that forks one confined child per program.

Started by `azr.executor.client` (inside bubblewrap when available) and spoken to over stdin/stdout with
length-prefixed JSON frames:

* trainer -> zygote: first a config frame, then requests ``{"id", "code", "inputs", "timeout", "group"}``;
* zygote -> trainer: a ``{"ready": ...}`` frame, then one ``{"id", "results": [[status, output, error], ...]}``
  frame per request, in completion order.

A request's inputs run in one child (fresh globals per input, the program compiled once) when ``group`` is
true, else one child per input. Each child reports a frame per input on a capped pipe; the deadline restarts
at every frame. If a child dies mid-group (deadline SIGKILL, signal, ``os._exit``, overflow, or it detects
that the builtins were tampered with), the current input gets its status and the remaining inputs go to a
fresh child, so an input's result never depends on how inputs were grouped.

Not covered here: policy (checked by the trainer first) and output re-validation (the trainer re-parses every
output; this module's plain-data check only saves a round trip).
"""

from __future__ import annotations

import builtins
import gc
import importlib
import json
import math
import os
import selectors
import signal
import time
from collections import deque

from azr.executor.sandbox import Confiner, landlock_ruleset, set_child_subreaper, set_parent_death_signal
from azr.executor.types import MAX_TIMEOUT
from azr.executor.values import is_plain
from azr.executor.wire import (
    HDR,
    RES,
    STATUSES,
    encode_result,
    frame,
    read_exact,
    request_problem,
    take_frames,
    write_all,
)

# Allowed stdlib modules imported once here so children only pay fork + copy-on-write, not imports.
PRELOAD = (
    "math cmath collections collections.abc itertools functools heapq bisect string re typing dataclasses copy "
    "operator fractions decimal numbers enum array json textwrap unicodedata abc contextlib "
    "keyword difflib pprint reprlib graphlib colorsys struct binascii base64 html fnmatch"
).split()

EXIT_TAINTED = 77  # the child changed the builtins; remaining inputs need a fresh child
EXIT_SETUP = 78  # a confinement layer failed to apply: never run model code unconfined
EXIT_HARNESS = 79  # the program broke the child's harness (e.g. closed the result pipe)
GRACE = 0.25  # extra wall seconds for fork + confinement + compile before the first input


def _fmt_exc(e: BaseException) -> str:
    try:
        name, msg = type(e).__name__, str(e)
        if type(name) is not str or type(msg) is not str:
            raise TypeError
        text = f"{name}: {msg}" if msg else name
    except BaseException:  # noqa: BLE001 - a hostile __str__ must not break reporting
        text = "UnprintableException"
    return text[:2000]


def run_one(prog: object, text: str, max_chars: int) -> list:
    """One input in fresh globals: [status, output repr | None, error | None]."""
    g = {"__name__": "__main__", "__builtins__": builtins}
    try:
        if isinstance(prog, BaseException):
            raise prog
        exec(prog, g)  # noqa: S102 - this is the confined child; running model code is its job
        value = eval(compile("f(" + text + "\n)", "<input>", "eval"), g)  # noqa: S307
    except MemoryError:
        return ["memory", None, "MemoryError"]
    except BaseException as e:  # noqa: BLE001 - SystemExit/KeyboardInterrupt from model code are errors too
        return ["error", None, _fmt_exc(e)]
    try:
        if not is_plain(value):
            return ["output_limit", None, "NonPlainOutput: not plain data within the depth/size caps"]
        out = repr(value)
    except MemoryError:
        return ["memory", None, "MemoryError"]
    except BaseException as e:  # noqa: BLE001 - e.g. int too large to convert to str
        return ["output_limit", None, "Unrepresentable: " + _fmt_exc(e)]
    if len(out) > max_chars:
        return ["output_limit", None, f"OutputTooLarge: {len(out)} characters (limit {max_chars})"]
    return ["ok", out, None]


class Zygote:
    def __init__(self, cfg: dict) -> None:
        self.workers = max(1, int(cfg["workers"]))
        self.max_chars = int(cfg["max_output_chars"])
        self.frame_cap = 4 * self.max_chars + 8192  # UTF-8 repr plus error text
        self.null = _high_fd(os.open(os.devnull, os.O_RDWR))  # above 3/4, which a child overwrites
        self.scratch_root = cfg.get("scratch_root") or "/tmp"
        os.makedirs(self.scratch_root, exist_ok=True)
        self.scratch = {}
        landlock_fds: dict[int, int] = {}
        for slot in range(self.workers):
            d = os.path.join(self.scratch_root, f"azr-slot-{os.getpid()}-{slot}")
            os.makedirs(d, mode=0o700, exist_ok=True)
            self.scratch[slot] = d
            if cfg.get("landlock_abi"):
                fd = landlock_ruleset(cfg["read_paths"], [d], int(cfg["landlock_abi"]))
                landlock_fds[slot] = _high_fd(fd)
        bpf = bytes.fromhex(cfg["bpf"]) if cfg.get("bpf") else None
        self.confiner = Confiner(bpf, landlock_fds, int(cfg["memory_mb"]))
        self.free = list(range(self.workers))
        self.queue: deque = deque()
        self.reqs: dict[int, dict] = {}
        self.children: dict[int, dict] = {}  # pid -> child record
        self.sel = selectors.DefaultSelector()
        self.inbuf = bytearray()
        self.builtins_snapshot = dict(builtins.__dict__)

    # ---- child side -------------------------------------------------------------------------------------

    def _child(self, unit: dict, slot: int, w: int) -> None:
        os.setsid()  # own process group: the deadline kill takes everything it could have started
        set_parent_death_signal()
        os.dup2(w, 3)
        for fd in (0, 1, 2):
            os.dup2(self.null, fd)
        ll = self.confiner.landlock_fds.get(slot)
        if ll is not None:
            os.dup2(ll, 4)
        os.closerange(5 if ll is not None else 4, 1 << 16)  # the zygote's pipes, other children's fds
        os.chdir(self.scratch[slot])
        n = len(unit["inputs"])
        self.confiner.confine(int(math.ceil(unit["timeout"] * n)) + 1, 4 if ll is not None else None)
        for s in (signal.SIGINT, signal.SIGTERM):
            signal.signal(s, signal.SIG_DFL)
        try:
            self._run_unit(unit)
        finally:  # past this point the harness is the model's: a failure is the program's doing, not ours
            os._exit(EXIT_HARNESS)

    def _run_unit(self, unit: dict) -> None:
        n = len(unit["inputs"])
        try:
            prog: object = compile(unit["code"], "<program>", "exec")
        except BaseException as e:  # noqa: BLE001 - reported per input as the program's error
            prog = e
        snap = self.builtins_snapshot
        for i, (_, text) in enumerate(unit["inputs"]):
            write_all(3, encode_result(run_one(prog, text, self.max_chars)))
            if i + 1 < n:
                d = builtins.__dict__
                if len(d) != len(snap) or any(d.get(k, snap) is not v for k, v in snap.items()):
                    os._exit(EXIT_TAINTED)
        os._exit(0)

    # ---- zygote side ------------------------------------------------------------------------------------

    def _spawn(self, unit: dict) -> None:
        slot = self.free.pop()
        r, w = os.pipe()
        try:
            pid = os.fork()
        except OSError as e:
            os.close(r)
            os.close(w)
            self.free.append(slot)
            for idx, _ in unit["inputs"]:
                self._result(unit["id"], idx, ["sandbox_error", None, f"fork failed: {e}"])
            return
        if pid == 0:
            try:
                self._child(unit, slot, w)
            finally:
                os._exit(EXIT_SETUP)
        os.close(w)
        os.set_blocking(r, False)
        pidfd = os.pidfd_open(pid)
        now = time.monotonic()
        ch = {
            "pid": pid,
            "r": r,
            "pidfd": pidfd,
            "unit": unit,
            "done": 0,
            "buf": b"",
            "bytes": 0,
            "deadline": now + unit["timeout"] + GRACE,
            "killed": None,
            "slot": slot,
        }
        self.children[pid] = ch
        self.sel.register(r, selectors.EVENT_READ, ("pipe", pid))
        self.sel.register(pidfd, selectors.EVENT_READ, ("exit", pid))

    def _result(self, rid: int, idx: int, res: list) -> None:
        req = self.reqs[rid]
        if req["results"][idx] is None:
            req["results"][idx] = res
            req["left"] -= 1
        if req["left"] == 0:
            del self.reqs[rid]
            write_all(1, frame({"id": rid, "results": req["results"]}))

    def _kill(self, ch: dict, reason: str) -> None:
        if ch["killed"] is None:
            ch["killed"] = reason
        try:
            os.killpg(ch["pid"], signal.SIGKILL)
        except ProcessLookupError:
            pass

    def _read_child(self, ch: dict) -> None:
        while True:
            try:
                data = os.read(ch["r"], 65536)
            except BlockingIOError:
                return
            if not data:  # EOF: stop polling the pipe (it stays readable) until the pidfd reports the exit
                if not ch.get("eof"):
                    ch["eof"] = True
                    self.sel.unregister(ch["r"])
                return
            ch["bytes"] += len(data)
            ch["buf"] += data
            unit = ch["unit"]
            while len(ch["buf"]) >= RES.size:
                code, n_out, n_err = RES.unpack_from(ch["buf"])
                size = RES.size + n_out + n_err
                if n_out + n_err > self.frame_cap or code >= len(STATUSES):
                    self._kill(ch, "output" if code < len(STATUSES) else "protocol")
                    return
                if len(ch["buf"]) < size:
                    break
                body, ch["buf"] = ch["buf"][:size], ch["buf"][size:]
                if ch["done"] >= len(unit["inputs"]):
                    self._kill(ch, "protocol")
                    return
                try:
                    out = body[RES.size : RES.size + n_out].decode("utf-8", "surrogatepass")
                    err = body[RES.size + n_out :].decode("utf-8", "surrogatepass")
                except UnicodeDecodeError:  # the child's harness was tampered with; it is not trusted further
                    self._kill(ch, "protocol")
                    return
                status = STATUSES[code]
                res = [status, out if status == "ok" else None, err if status != "ok" else None]
                self._result(unit["id"], unit["inputs"][ch["done"]][0], res)
                ch["done"] += 1
                ch["deadline"] = time.monotonic() + unit["timeout"]
            if len(ch["buf"]) > self.frame_cap + 4:
                self._kill(ch, "output")
                return

    def _reap(self, pid: int) -> None:
        ch = self.children.pop(pid)
        _, status = os.waitpid(pid, 0)
        try:
            os.killpg(pid, signal.SIGKILL)  # strays of the group (only possible without seccomp)
        except (ProcessLookupError, PermissionError):
            pass
        if ch["killed"] is None:
            self._read_child(ch)
        if not ch.get("eof"):
            self.sel.unregister(ch["r"])
        self.sel.unregister(ch["pidfd"])
        os.close(ch["r"])
        os.close(ch["pidfd"])
        self.free.append(ch["slot"])
        unit, done = ch["unit"], ch["done"]
        rest = unit["inputs"][done:]
        if not rest:
            return
        idx = rest[0][0]
        code = os.waitstatus_to_exitcode(status)
        killed = ch["killed"]
        if killed == "timeout" or code == -signal.SIGXCPU:
            res = ["timeout", None, f"Timeout: exceeded {unit['timeout']:g} s"]
        elif killed == "output":
            res = ["output_limit", None, "OutputTooLarge: result pipe cap exceeded"]
        elif killed == "protocol":
            res = ["sandbox_error", None, "ProtocolError: malformed result frame"]
        elif code == EXIT_SETUP:
            for i, _ in rest:
                self._result(unit["id"], i, ["sandbox_error", None, "SandboxSetup: confinement failed"])
            return
        elif code == EXIT_TAINTED:
            res = None
        elif code == EXIT_HARNESS:
            res = ["crashed", None, "HarnessError: the program broke the result channel"]
        elif code < 0:
            res = ["crashed", None, f"signal {signal.Signals(-code).name}"]
        else:
            res = ["crashed", None, f"exit code {code}"]
        if res is not None:
            self._result(unit["id"], idx, res)
            rest = rest[1:]
        if rest:
            self.queue.appendleft(dict(unit, inputs=rest))

    def _reap_strays(self) -> None:
        """Reap orphans re-parented to us (subreaper) without stealing a tracked child's exit status."""
        while True:
            try:
                info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                return
            if info is None or info.si_pid in self.children:
                return
            os.waitpid(info.si_pid, 0)

    def _on_request(self, msg: dict) -> None:
        rid, inputs = int(msg["id"]), list(enumerate(msg.get("inputs") or ()))
        self.reqs[rid] = {"results": [None] * len(inputs), "left": len(inputs)}
        if not inputs:
            del self.reqs[rid]
            write_all(1, frame({"id": rid, "results": []}))
            return
        why = request_problem(msg)
        if why is not None:  # answered, not fatal: one malformed request must not take the others with it
            for idx, _ in inputs:
                self._result(rid, idx, ["sandbox_error", None, f"BadRequest: {why}"])
            return
        base = {"id": rid, "code": msg["code"], "timeout": min(float(msg["timeout"]), MAX_TIMEOUT)}
        if msg.get("group", True):
            self.queue.append(dict(base, inputs=inputs))
        else:
            self.queue.extend(dict(base, inputs=[item]) for item in inputs)

    def _read_stdin(self) -> bool:
        data = os.read(0, 1 << 20)
        if not data:
            return False
        self.inbuf += data
        for msg in take_frames(self.inbuf):
            self._on_request(msg)
        return True

    def serve(self) -> None:
        self.sel.register(0, selectors.EVENT_READ, ("stdin", 0))
        while True:
            while self.queue and self.free:
                self._spawn(self.queue.popleft())
            timeout = None
            if self.children:
                timeout = max(0.0, min(c["deadline"] for c in self.children.values()) - time.monotonic())
            for key, _ in self.sel.select(timeout):
                kind, pid = key.data
                if kind == "stdin":
                    if not self._read_stdin():
                        return
                elif pid in self.children:
                    if kind == "pipe":
                        self._read_child(self.children[pid])
                    else:
                        self._reap(pid)
            self._reap_strays()
            now = time.monotonic()
            for ch in list(self.children.values()):
                if ch["killed"] is None and now >= ch["deadline"]:
                    self._kill(ch, "timeout")

    def shutdown(self) -> None:
        for pid in list(self.children):
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        import shutil

        for d in self.scratch.values():
            shutil.rmtree(d, ignore_errors=True)


def _high_fd(fd: int) -> int:
    """Move `fd` above the range a child overwrites (3, 4) and mark it close-on-exec."""
    import fcntl

    new = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 100)
    os.close(fd)
    return new


def main() -> None:
    set_parent_death_signal()
    set_child_subreaper()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in the trainer's terminal is the trainer's business
    (size,) = HDR.unpack(read_exact(0, 4))
    cfg = json.loads(read_exact(0, size))
    loaded = 0
    for name in PRELOAD:
        try:
            importlib.import_module(name)
            loaded += 1
        except ImportError:
            pass
    zyg = Zygote(cfg)
    gc.collect()
    gc.freeze()  # children share the zygote's heap; keep the collector off those pages (copy-on-write)
    write_all(
        1,
        frame(
            {
                "ready": True,
                "pid": os.getpid(),
                "seccomp": zyg.confiner.seccomp,
                "landlock_abi": int(cfg.get("landlock_abi") or 0),
                "preloaded": loaded,
                "workers": zyg.workers,
            }
        ),
    )
    try:
        zyg.serve()
    finally:
        zyg.shutdown()


if __name__ == "__main__":
    main()
