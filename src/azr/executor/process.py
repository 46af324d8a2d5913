"""Trainer side of one zygote: the process (inside bubblewrap when available), its pipes and the exchange loop.

`ZygoteProcess.run(items)` sends length-prefixed JSON requests and collects the answers with one selectors loop
(writing and reading at once, so neither side can block the other). If the zygote exits, or no answer arrives
for longer than the slowest in-flight request may take plus `STALL_SLACK`, the zygote is killed; the in-flight
items come back as None (the caller reports `sandbox_error`) and the unsent rest goes to a fresh zygote.
Nothing read from the zygote is evaluated: answers are JSON lists of strings, validated by the caller.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import selectors
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor

from azr.config import ExecutorConfig
from azr.executor import sandbox
from azr.executor.wire import HDR, frame, take_frames

log = logging.getLogger("azr.executor")

START_TIMEOUT = 60.0
STALL_SLACK = 10.0  # seconds beyond the slowest in-flight request before a zygote counts as hung
_BOOT = "import sys; sys.path.insert(0, {src!r}); from azr.executor.zygote import main; main()"


class ZygoteDied(Exception):
    pass


class ZygoteStartError(RuntimeError):
    """The zygote did not come up. `reason` is one line (the last line of its stderr, else what failed);
    `stderr` holds the zygote's whole stderr tail."""

    def __init__(self, reason: str, stderr: str = "") -> None:
        super().__init__(f"executor zygote failed to start: {reason}")
        self.reason, self.stderr = reason, stderr


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1][:300] if lines else ""


class ZygoteProcess:
    """One zygote process (optionally inside bwrap) and the pipes to it. Not thread-safe: one user at a time."""

    def __init__(
        self, layers: dict, cfg: ExecutorConfig, workers: int, hash_seed: int, spawner: ThreadPoolExecutor | None
    ) -> None:
        self.layers, self.cfg, self.workers, self.hash_seed = layers, cfg, workers, hash_seed
        self.spawner = spawner
        self.proc: subprocess.Popen | None = None
        self.ready: dict = {}
        self.next_id = 0
        self.lock = threading.Lock()
        self.restarts = 0

    # ---- process lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the zygote and wait for its ready frame; raises ZygoteStartError with a one-line reason."""
        env = {
            "PYTHONHASHSEED": str(self.hash_seed),
            "PYTHONDONTWRITEBYTECODE": "1",
            "PATH": "/usr/bin:/bin",
            "LANG": "C.UTF-8",
        }
        argv = [sys.executable, "-s", "-c", _BOOT.format(src=sandbox.azr_path_entry())]
        self._stderr = tempfile.TemporaryFile()
        try:
            if self.layers["bwrap"]:
                argv = sandbox.bwrap_command(env) + argv
            # Spawned from the Executor's long-lived spawner thread: the zygote (and bwrap --die-with-parent) use
            # PR_SET_PDEATHSIG, which fires when the *thread* that forked them exits, e.g. a caller's worker thread.
            popen = functools.partial(
                subprocess.Popen,
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._stderr,
                env=env,
                cwd="/",
                start_new_session=True,
                close_fds=True,
            )
            self.proc = self.spawner.submit(popen).result() if self.spawner else popen()
        except (OSError, ValueError) as e:
            self._stderr.close()
            raise ZygoteStartError(str(e)) from None
        cfg = {
            "workers": self.workers,
            "max_output_chars": self.cfg.max_output_chars,
            "memory_mb": self.cfg.memory_mb,
            "bpf": (self.layers["bpf"] or b"").hex(),
            "landlock_abi": self.layers["landlock_abi"],
            "read_paths": sandbox.interpreter_paths(),
            "scratch_root": "/tmp" if self.layers["bwrap"] else self.layers["scratch_root"],
        }
        try:
            self.proc.stdin.write(frame(cfg))
            self.proc.stdin.flush()
            self.ready = self._read_frame_blocking(START_TIMEOUT)
        except (OSError, ZygoteDied, ValueError) as e:
            err = self._stderr_tail()
            self.kill()
            raise ZygoteStartError(_last_line(err) or str(e), err) from None
        if not self.ready.get("ready"):
            self.kill()
            raise ZygoteStartError(f"it sent {str(self.ready)[:200]} instead of ready")
        os.set_blocking(self.proc.stdin.fileno(), False)
        os.set_blocking(self.proc.stdout.fileno(), False)

    def _stderr_tail(self) -> str:
        try:
            self._stderr.seek(0)
            return self._stderr.read()[-2000:].decode(errors="replace").strip()
        except (OSError, ValueError):
            return ""

    def _read_frame_blocking(self, timeout: float) -> dict:
        fd = self.proc.stdout.fileno()
        buf = b""
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while True:
                need = 4 if len(buf) < 4 else 4 + HDR.unpack_from(buf)[0]
                if len(buf) >= need and len(buf) >= 4 and need > 4:
                    return json.loads(buf[4:need])
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    raise ZygoteDied("timed out waiting for the zygote")
                chunk = os.read(fd, need - len(buf))
                if not chunk:
                    raise ZygoteDied("zygote exited")
                buf += chunk

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, 9)  # the zygote (and bwrap); children die by PDEATHSIG / pid namespace
        except (ProcessLookupError, PermissionError):
            pass
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self._stderr.close()
        self.proc = None

    # ---- exchange ---------------------------------------------------------------------------------------

    def run(self, items: list[dict], starts: int = 2) -> dict[int, list | None]:
        """Send `items` (each {"key", "code", "inputs", "timeout", "group"}), return key -> raw results, or
        None for items lost to a zygote failure (starting the zygote at most `starts` times for the rest)."""
        with self.lock:
            out: dict[int, list | None] = {}
            pending = list(items)
            attempts = 0
            while pending:
                if not self.alive():
                    if attempts >= starts:
                        out.update({it["key"]: None for it in pending})
                        break
                    attempts += 1
                    self.start()
                pending = self._exchange(pending, out)
            return out

    def _exchange(self, items: list[dict], out: dict) -> list[dict]:
        """Runs until all items are answered (returns []) or the zygote fails (in-flight -> None, returns the
        unsent rest)."""
        wfd, rfd = self.proc.stdin.fileno(), self.proc.stdout.fileno()
        inflight: dict[int, dict] = {}
        unsent = deque(items)
        wbuf = bytearray()
        rbuf = bytearray()
        stall = 0.0  # the longest any sent request may take; conservative (never shrinks)
        last_progress = time.monotonic()
        sel = selectors.DefaultSelector()
        sel.register(rfd, selectors.EVENT_READ, "r")
        writing = False
        try:
            while unsent or inflight or wbuf:
                while unsent and len(wbuf) < (1 << 18):
                    it = unsent.popleft()
                    rid = self.next_id = self.next_id + 1
                    inflight[rid] = it
                    stall = max(stall, it["timeout"] * max(1, len(it["inputs"])))
                    wbuf += frame(
                        {
                            "id": rid,
                            "code": it["code"],
                            "inputs": it["inputs"],
                            "timeout": it["timeout"],
                            "group": it["group"],
                        }
                    )
                if wbuf and not writing:
                    sel.register(wfd, selectors.EVENT_WRITE, "w")
                    writing = True
                events = sel.select(timeout=1.0)
                for key, _ in events:
                    if key.data == "w":
                        try:
                            n = os.write(wfd, wbuf)
                        except BlockingIOError:
                            n = 0
                        except (BrokenPipeError, OSError) as e:
                            raise ZygoteDied(f"write failed: {e}") from None
                        del wbuf[:n]
                        if not wbuf:
                            sel.unregister(wfd)
                            writing = False
                    else:
                        try:
                            chunk = os.read(rfd, 1 << 20)
                        except BlockingIOError:
                            continue
                        if not chunk:
                            raise ZygoteDied("zygote exited")
                        rbuf += chunk
                        for msg in take_frames(rbuf):
                            it = inflight.pop(msg["id"], None)
                            if it is not None:
                                out[it["key"]] = msg["results"]
                            last_progress = time.monotonic()
                if inflight and time.monotonic() - last_progress > stall + STALL_SLACK:
                    raise ZygoteDied("zygote hung")
            return []
        except (ZygoteDied, ValueError, KeyError) as e:
            log.warning(
                "executor zygote failed (%s); %d in-flight requests lost; stderr: %s",
                e,
                len(inflight),
                self._stderr_tail()[-500:],
            )
            self.restarts += 1
            for it in inflight.values():
                out[it["key"]] = None
            self.kill()
            return list(unsent)
        finally:
            sel.close()


_PROBE_CODE = "def f():\n    return 1"
_probe_cache: dict[int, str | None] = {}


def bwrap_problem(landlock_abi: int, bpf: bytes | None) -> str | None:
    """Why the zygote cannot run inside bubblewrap here, as one line; None when it can. Cached per process.

    The probe starts exactly what an executor starts (bwrap with the same mounts, the interpreter, the zygote
    with its preload, scratch dirs and Landlock rulesets) and runs one program in a confined child, so a
    checkout or venv that bwrap cannot see fails here, with its reason, instead of in the first real zygote."""
    if landlock_abi in _probe_cache:
        return _probe_cache[landlock_abi]
    if not sandbox.bwrap_installed():
        problem: str | None = "bubblewrap (bwrap) is not installed"
    else:
        layers = {"bwrap": True, "bpf": bpf, "landlock_abi": landlock_abi, "scratch_root": None}
        z = ZygoteProcess(layers, ExecutorConfig(), 1, 0, None)
        problem = None
        try:
            z.start()
            got = z.run([{"key": 0, "code": _PROBE_CODE, "inputs": [""], "timeout": 10.0, "group": False}], starts=0)
            if got.get(0) != [["ok", "1", None]]:
                problem = f"a probe program returned {str(got.get(0))[:200]}"
        except ZygoteStartError as e:
            problem = e.reason
        finally:
            z.kill()
        if problem is not None:
            problem = "bubblewrap is installed but cannot start the executor: " + problem
    _probe_cache[landlock_abi] = problem
    return problem
