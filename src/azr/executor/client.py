"""Trainer side of the executor: `Executor`, a pool of zygote processes spoken to over pipes.

The trainer never executes model code and never evaluates or unpickles what a child produced: it applies the
static policy, sends length-prefixed JSON to a zygote (see `azr.executor.zygote`), and re-parses every
returned output with `azr.executor.values.parse_value` + `is_plain` under size caps before reporting it.

Failure handling: if a zygote exits, or no result arrives for longer than the slowest in-flight request can
take, the zygote is killed and restarted; its in-flight requests come back as `sandbox_error`, unsent ones go
to the new zygote. The caller never sees an exception for anything model code does.

Isolation is decided once per Executor (`sandbox.detect`-style probing in `_layers`) and reported by
`info()`. Without bubblewrap it falls back to seccomp + Landlock + rlimits and says so; with neither
bubblewrap nor seccomp it refuses to start unless `unsafe=True`, which is logged as a warning.
"""

from __future__ import annotations

import json
import logging
import os
import random
import selectors
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from azr.config import ExecutorConfig
from azr.executor import policy, sandbox
from azr.executor.types import ExecRequest, ExecResult, Status
from azr.executor.values import is_plain, parse_value
from azr.executor.zygote import HDR, frame

log = logging.getLogger("azr.executor")

START_TIMEOUT = 60.0
STALL_SLACK = 10.0  # seconds beyond the slowest in-flight request before a zygote counts as hung
_BOOT = "import sys; sys.path.insert(0, {src!r}); from azr.executor.zygote import main; main()"


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


class _ZygoteDied(Exception):
    pass


class _Zygote:
    """One zygote process (optionally inside bwrap) and the pipes to it. Not thread-safe: one user at a time."""

    def __init__(self, layers: dict, cfg: ExecutorConfig, workers: int, hash_seed: int) -> None:
        self.layers, self.cfg, self.workers, self.hash_seed = layers, cfg, workers, hash_seed
        self.proc: subprocess.Popen | None = None
        self.ready: dict = {}
        self.next_id = 0
        self.lock = threading.Lock()
        self.restarts = 0

    # ---- process lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        env = {"PYTHONHASHSEED": str(self.hash_seed), "PYTHONDONTWRITEBYTECODE": "1", "PATH": "/usr/bin:/bin",
               "LANG": "C.UTF-8"}
        src = sandbox.interpreter_paths()[-1]
        argv = [sys.executable, "-s", "-c", _BOOT.format(src=src)]
        if self.layers["bwrap"]:
            argv = sandbox.bwrap_command(env) + argv
        self._stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
                                     env=env, cwd="/", start_new_session=True, close_fds=True)
        cfg = {"workers": self.workers, "max_output_chars": self.cfg.max_output_chars,
               "memory_mb": self.cfg.memory_mb, "bpf": (self.layers["bpf"] or b"").hex(),
               "landlock_abi": self.layers["landlock_abi"], "read_paths": sandbox.interpreter_paths(),
               "scratch_root": "/tmp" if self.layers["bwrap"] else self.layers["scratch_root"]}
        try:
            self.proc.stdin.write(frame(cfg))
            self.proc.stdin.flush()
            self.ready = self._read_frame_blocking(START_TIMEOUT)
        except (OSError, _ZygoteDied, ValueError) as e:
            err = self._stderr_tail()
            self.kill()
            raise RuntimeError(f"executor zygote failed to start: {e}; stderr: {err}") from None
        if not self.ready.get("ready"):
            self.kill()
            raise RuntimeError(f"executor zygote sent {self.ready!r} instead of ready")
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
                    raise _ZygoteDied("timed out waiting for the zygote")
                chunk = os.read(fd, need - len(buf))
                if not chunk:
                    raise _ZygoteDied("zygote exited")
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

    def run(self, items: list[dict]) -> dict[int, list | None]:
        """Send `items` (each {"key", "code", "inputs", "timeout", "group"}), return key -> raw results, or
        None for items lost to a zygote failure (restarting the zygote for the rest)."""
        with self.lock:
            out: dict[int, list | None] = {}
            pending = list(items)
            attempts = 0
            while pending:
                if not self.alive():
                    if attempts >= 2:
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
        unsent = list(items)
        wbuf = b""
        rbuf = b""
        last_progress = time.monotonic()
        sel = selectors.DefaultSelector()
        sel.register(rfd, selectors.EVENT_READ, "r")
        writing = False
        try:
            while unsent or inflight or wbuf:
                while unsent and len(wbuf) < (1 << 20):
                    it = unsent.pop(0)
                    rid = self.next_id = self.next_id + 1
                    inflight[rid] = it
                    wbuf += frame({"id": rid, "code": it["code"], "inputs": it["inputs"],
                                   "timeout": it["timeout"], "group": it["group"]})
                if wbuf and not writing:
                    sel.register(wfd, selectors.EVENT_WRITE, "w")
                    writing = True
                stall = max((it["timeout"] * max(1, len(it["inputs"])) for it in inflight.values()), default=0)
                events = sel.select(timeout=1.0)
                for key, _ in events:
                    if key.data == "w":
                        try:
                            n = os.write(wfd, wbuf)
                        except BlockingIOError:
                            n = 0
                        except (BrokenPipeError, OSError) as e:
                            raise _ZygoteDied(f"write failed: {e}") from None
                        wbuf = wbuf[n:]
                        if not wbuf:
                            sel.unregister(wfd)
                            writing = False
                    else:
                        try:
                            chunk = os.read(rfd, 1 << 20)
                        except BlockingIOError:
                            continue
                        if not chunk:
                            raise _ZygoteDied("zygote exited")
                        rbuf += chunk
                        while len(rbuf) >= 4:
                            size = HDR.unpack_from(rbuf)[0]
                            if len(rbuf) < 4 + size:
                                break
                            msg, rbuf = json.loads(rbuf[4:4 + size]), rbuf[4 + size:]
                            it = inflight.pop(msg["id"], None)
                            if it is not None:
                                out[it["key"]] = msg["results"]
                            last_progress = time.monotonic()
                if inflight and time.monotonic() - last_progress > stall + STALL_SLACK:
                    raise _ZygoteDied("zygote hung")
            return []
        except (_ZygoteDied, ValueError, KeyError) as e:
            log.warning("executor zygote failed (%s); restarting, %d in-flight requests lost", e, len(inflight))
            self.restarts += 1
            for it in inflight.values():
                out[it["key"]] = None
            self.kill()
            return unsent
        finally:
            sel.close()


def _layers(cfg: ExecutorConfig) -> dict:
    """Probe the isolation layers once. Raises RuntimeError when the configured sandbox is impossible."""
    if cfg.unsafe:
        log.warning("azr executor: UNSAFE mode, model code runs WITHOUT bubblewrap, seccomp or Landlock "
                    "(separate process and rlimits only). Never use this for untrusted code.")
        return {"bwrap": False, "bpf": None, "landlock_abi": 0, "unsafe": True,
                "scratch_root": tempfile.mkdtemp(prefix="azr-exec-")}
    bwrap = cfg.sandbox in ("auto", "bwrap") and sandbox.bwrap_works()
    if cfg.sandbox == "bwrap" and not bwrap:
        raise RuntimeError("executor.sandbox=bwrap but bubblewrap cannot create namespaces here")
    bpf = sandbox.seccomp_bpf_or_none()
    if bpf is None:
        raise RuntimeError("seccomp is unavailable (pyseccomp/libseccomp); refusing to run model code "
                           "without it (set executor.unsafe=true to override, loudly)")
    abi = sandbox.landlock_abi()
    if not bwrap:
        log.warning("azr executor: bubblewrap unavailable, falling back to seccomp + %s + rlimits",
                    f"Landlock ABI {abi}" if abi else "no Landlock")
    return {"bwrap": bwrap, "bpf": bpf, "landlock_abi": abi, "unsafe": False,
            "scratch_root": tempfile.mkdtemp(prefix="azr-exec-")}


class Executor:
    """Batch in, batch out: `run(requests) -> list[list[ExecResult]]` (input order), see docs/executor.md."""

    def __init__(self, cfg: ExecutorConfig | None = None, *, _skip_policy: bool = False) -> None:
        self.cfg = cfg or ExecutorConfig()
        self.workers = self.cfg.workers or _cpu_count()
        # Test hook: attack tests bypass the AST policy to prove the sandbox layers hold on their own.
        self._skip_policy = _skip_policy
        self._layers: dict | None = None
        self._zygotes: list[_Zygote] = []
        self._lock = threading.Lock()
        seeds = random.SystemRandom().sample(range(1, 2**32 - 1), 2)
        self._seeds = seeds

    # ---- lifecycle --------------------------------------------------------------------------------------

    def _zygote(self, i: int) -> _Zygote:
        with self._lock:
            if self._layers is None:
                self._layers = _layers(self.cfg)
            while len(self._zygotes) <= i:
                self._zygotes.append(_Zygote(self._layers, self.cfg, self.workers, self._seeds[len(self._zygotes)]))
            return self._zygotes[i]

    def start(self) -> Executor:
        """Start the first zygote now (otherwise it starts on the first run)."""
        z = self._zygote(0)
        with z.lock:
            if not z.alive():
                z.start()
        return self

    def close(self) -> None:
        with self._lock:
            for z in self._zygotes:
                with z.lock:
                    z.kill()
            self._zygotes = []
            if self._layers and self._layers.get("scratch_root"):
                import shutil

                shutil.rmtree(self._layers["scratch_root"], ignore_errors=True)

    def __enter__(self) -> Executor:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass

    def info(self) -> dict[str, Any]:
        """Active isolation layers, worker slots and zygote pids."""
        z = self._zygote(0)
        layers = self._layers or {}
        names = []
        if layers.get("bwrap"):
            names.append("bwrap(user,pid,net,ipc,uts,cgroup,mount; ro system; private tmpfs)")
        names.append("separate zygote process, fork per program, new session, closed fds, scratch dir")
        names.append("rlimits(as,cpu,fsize,nofile,core)")
        if layers.get("bpf"):
            names.append("seccomp-bpf")
        if layers.get("landlock_abi"):
            names.append(f"landlock(abi {layers['landlock_abi']})")
        names.append("wall deadline + SIGKILL of process group; capped result pipe")
        names.append("static AST policy" + (" (SKIPPED: test hook)" if self._skip_policy else ""))
        return {
            "layers": names,
            "bwrap": bool(layers.get("bwrap")),
            "seccomp": bool(layers.get("bpf")),
            "landlock_abi": int(layers.get("landlock_abi") or 0),
            "unsafe": bool(layers.get("unsafe")),
            "mode": "unsafe" if layers.get("unsafe") else ("bwrap" if layers.get("bwrap") else "seccomp"),
            "workers": self.workers,
            "timeout": self.cfg.timeout,
            "memory_mb": self.cfg.memory_mb,
            "pids": [zz.proc.pid for zz in self._zygotes if zz.alive()],
            "zygote_ready": z.ready,
            "restarts": sum(zz.restarts for zz in self._zygotes),
        }

    # ---- running ----------------------------------------------------------------------------------------

    def run(self, requests: Sequence[ExecRequest]) -> list[list[ExecResult]]:
        return self._run_on(0, requests)

    def run_checked(self, requests: Sequence[ExecRequest]) -> list[list[ExecResult]]:
        """Run in two zygotes with different PYTHONHASHSEED (and ASLR); inputs whose two results differ become
        `ExecResult(Status.ERROR, error="NonDeterministic: ...")`. Returns the first run's results otherwise."""
        with ThreadPoolExecutor(2) as pool:
            fa, fb = pool.submit(self._run_on, 0, requests), pool.submit(self._run_on, 1, requests)
            a, b = fa.result(), fb.result()
        return [[_merge(x, y) for x, y in zip(ra, rb)] for ra, rb in zip(a, b)]

    def _run_on(self, zi: int, requests: Sequence[ExecRequest]) -> list[list[ExecResult]]:
        results: list[list[ExecResult | None]] = [[None] * len(r.inputs) for r in requests]
        items: list[dict] = []
        for ri, req in enumerate(requests):
            reason = None if self._skip_policy else policy.check(req.code)
            if reason is not None:
                results[ri] = [ExecResult(Status.POLICY_REJECTED, error=reason)] * len(req.inputs)
                continue
            send: list[str] = []
            where: list[int] = []
            for ii, text in enumerate(req.inputs):
                why = policy.check_call(text) if not self._skip_policy or not isinstance(text, str) else None
                if why is not None:
                    results[ri][ii] = ExecResult(Status.POLICY_REJECTED, error=why)
                else:
                    send.append(text)
                    where.append(ii)
            if send:
                timeout = float(req.timeout) if req.timeout else self.cfg.timeout
                group = len(send) > 1 and not policy.mutates_shared_state(req.code)
                items.append({"key": len(items), "code": req.code, "inputs": send, "timeout": timeout,
                              "group": group, "_ri": ri, "_where": where})
        if items:
            z = self._zygote(zi)
            try:
                raw = z.run(items)
            except RuntimeError as e:  # the zygote cannot start at all
                log.error("%s", e)
                raw = {it["key"]: None for it in items}
            for it in items:
                got = raw.get(it["key"])
                for k, ii in enumerate(it["_where"]):
                    res = self._convert(got[k]) if got is not None and k < len(got) else None
                    results[it["_ri"]][ii] = res or ExecResult(Status.SANDBOX_ERROR, error="SandboxError: zygote failed")
        return results  # type: ignore[return-value]

    def _convert(self, raw: Any) -> ExecResult | None:
        """Child frame -> ExecResult; the output is re-validated here, never trusted."""
        if not (isinstance(raw, list) and len(raw) == 3):
            return None
        status, output, error = raw
        try:
            st = Status(status)
        except ValueError:
            return ExecResult(Status.SANDBOX_ERROR, error="ProtocolError: unknown status")
        error = error[:2000] if isinstance(error, str) else None
        if st is not Status.OK:
            return ExecResult(st, error=error)
        if not isinstance(output, str):
            return ExecResult(Status.SANDBOX_ERROR, error="ProtocolError: missing output")
        try:
            ok = is_plain(parse_value(output, self.cfg.max_output_chars))
        except ValueError:
            ok = False
        except (MemoryError, RecursionError):
            ok = False
        if not ok:
            return ExecResult(Status.OUTPUT_LIMIT, error="NonPlainOutput: output failed re-validation")
        return ExecResult(Status.OK, output=output)


def _merge(a: ExecResult, b: ExecResult) -> ExecResult:
    if a.status is Status.SANDBOX_ERROR or b.status is Status.SANDBOX_ERROR:
        return a if a.status is Status.SANDBOX_ERROR else b
    if a == b:
        return a
    if a.status is Status.POLICY_REJECTED:
        return a
    what = f"run 1 {a.status.value} {_short(a)} vs run 2 {b.status.value} {_short(b)}"
    return ExecResult(Status.ERROR, error=f"NonDeterministic: {what}")


def _short(r: ExecResult) -> str:
    text = r.output if r.output is not None else (r.error or "")
    return text if len(text) <= 80 else text[:77] + "..."


def run_requests(requests: Iterable[ExecRequest], cfg: ExecutorConfig | None = None) -> list[list[ExecResult]]:
    """One-shot convenience: start an executor, run, close."""
    with Executor(cfg) as ex:
        return ex.run(list(requests))


__all__ = ["Executor", "run_requests"]
