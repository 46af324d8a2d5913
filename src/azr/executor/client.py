"""Trainer side of the executor: `Executor`, a pool of zygote processes spoken to over pipes.

The trainer never executes model code and never evaluates or unpickles what a child produced: it applies the
static policy, sends length-prefixed JSON to a zygote (see `azr.executor.zygote`), and re-parses every
returned output with `azr.executor.values.parse_value` + `is_plain` under size caps before reporting it.

Failure handling: if a zygote exits, or no result arrives for longer than the slowest in-flight request can
take, the zygote is killed and restarted; its in-flight requests come back as `sandbox_error`, unsent ones go
to the new zygote. The caller never sees an exception for anything model code does.

Isolation is decided once per Executor (`_layers`; the bubblewrap probe, `process.bwrap_problem`, runs once per
process) and reported by `info()`. Without working bubblewrap, `sandbox=auto` falls back to seccomp + Landlock +
rlimits and says why in one warning line; `sandbox=bwrap` raises `SandboxUnavailable` with the reason. Without
seccomp it refuses to start unless `unsafe=True`, which is logged as a warning.
"""

from __future__ import annotations

import logging
import os
import random
import tempfile
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import Any

from azr.config import ConfigError, ExecutorConfig
from azr.executor import policy, process, sandbox
from azr.executor.process import ZygoteProcess
from azr.executor.types import ExecRequest, ExecResult, Status
from azr.executor.values import is_plain, parse_value

log = logging.getLogger("azr.executor")


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


class SandboxUnavailable(ConfigError):
    """The configured sandbox cannot run here (`executor.sandbox=bwrap` without working bubblewrap). A config
    error, so every command ends with one line and exit 2."""


_warned: set[str] = set()


def _warn_once(message: str) -> None:
    """One line per process (eval starts two executors; tests start many)."""
    if message not in _warned:
        _warned.add(message)
        log.warning("%s", message)


def _layers(cfg: ExecutorConfig) -> dict:
    """Probe the isolation layers once. Raises when the configured sandbox is impossible."""
    if cfg.unsafe:
        log.warning(
            "azr executor: UNSAFE mode, model code runs WITHOUT bubblewrap, seccomp or Landlock "
            "(separate process and rlimits only). Never use this for untrusted code."
        )
        return {
            "bwrap": False,
            "bpf": None,
            "landlock_abi": 0,
            "unsafe": True,
            "scratch_root": tempfile.mkdtemp(prefix="azr-exec-"),
        }
    bpf = sandbox.seccomp_bpf_or_none()
    if bpf is None:
        raise RuntimeError(
            "seccomp is unavailable (pyseccomp/libseccomp); refusing to run model code "
            "without it (set executor.unsafe=true to override, loudly)"
        )
    abi = sandbox.landlock_abi()
    layers = {"bwrap": False, "bpf": bpf, "landlock_abi": abi, "unsafe": False, "scratch_root": None}
    fallback = f"seccomp + {f'Landlock ABI {abi}' if abi else 'no Landlock'} + rlimits without namespaces"
    if cfg.sandbox == "seccomp":
        log.info("azr executor: sandbox=seccomp configured, using %s", fallback)
    else:
        problem = process.bwrap_problem(abi, bpf)
        if problem is None:
            layers["bwrap"] = True  # scratch dirs live on the zygote's private tmpfs; nothing on the host
            return layers
        if cfg.sandbox == "bwrap":
            raise SandboxUnavailable(f"executor.sandbox=bwrap: {problem}")
        _warn_once(f"azr executor: {problem}; falling back to {fallback} (executor.sandbox=bwrap makes this an error)")
    layers["scratch_root"] = tempfile.mkdtemp(prefix="azr-exec-")
    return layers


class Executor:
    """Batch in, batch out: `run(requests) -> list[list[ExecResult]]` (input order), see docs/executor.md."""

    def __init__(self, cfg: ExecutorConfig | None = None, *, static_policy: bool = True) -> None:
        """`static_policy=False` skips the AST policy (the sandbox still holds on its own, as the attack tests
        show): for benchmark reference code that legitimately imports `random`/`hashlib`, and for those tests."""
        self.cfg = cfg or ExecutorConfig()
        self.workers = self.cfg.workers or _cpu_count()
        self._skip_policy = not static_policy
        self._layers: dict | None = None
        self._zygotes: list[ZygoteProcess] = []
        self._lock = threading.Lock()
        self._spawner = ThreadPoolExecutor(1, thread_name_prefix="azr-executor-spawner")
        seeds = random.SystemRandom().sample(range(1, 2**32 - 1), 2)
        self._seeds = seeds

    # ---- lifecycle --------------------------------------------------------------------------------------

    def _zygote(self, i: int) -> ZygoteProcess:
        with self._lock:
            if self._layers is None:
                self._layers = _layers(self.cfg)
            while len(self._zygotes) <= i:
                seed = self._seeds[len(self._zygotes)]
                self._zygotes.append(ZygoteProcess(self._layers, self.cfg, self.workers, seed, self._spawner))
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
                self._layers = None  # a later run probes again and makes a fresh scratch root

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
        names.append("static AST policy" + (" (off: static_policy=False)" if self._skip_policy else ""))
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
        return self._run_on((0,), requests)[0]

    def run_checked(self, requests: Sequence[ExecRequest]) -> list[list[ExecResult]]:
        """Run in two zygotes with different PYTHONHASHSEED (and ASLR); inputs whose two results differ become
        `ExecResult(Status.ERROR, error="NonDeterministic: ...")`. Returns the first run's results otherwise."""
        a, b = self._run_on((0, 1), requests)
        return [[_merge(x, y) for x, y in zip(ra, rb)] for ra, rb in zip(a, b)]

    def _run_on(self, zis: tuple[int, ...], requests: Sequence[ExecRequest]) -> list[list[list[ExecResult]]]:
        """Policy-check once, run the same items on each zygote in `zis` (concurrently), convert per zygote.

        All AST work (policy, output re-validation) stays in the calling thread: CPython 3.11's parser is not
        safe in concurrent threads (gh-106905); the helper threads only move bytes."""
        template: list[list[ExecResult | None]] = [[None] * len(r.inputs) for r in requests]
        items: list[dict] = []
        for ri, req in enumerate(requests):
            reason = None if self._skip_policy else policy.check(req.code)
            if reason is not None:
                template[ri] = [ExecResult(Status.POLICY_REJECTED, error=reason)] * len(req.inputs)
                continue
            send: list[str] = []
            where: list[int] = []
            for ii, text in enumerate(req.inputs):
                why = policy.check_call(text) if not self._skip_policy or not isinstance(text, str) else None
                if why is not None:
                    template[ri][ii] = ExecResult(Status.POLICY_REJECTED, error=why)
                else:
                    send.append(text)
                    where.append(ii)
            if send:
                timeout = float(req.timeout) if req.timeout else self.cfg.timeout
                group = len(send) > 1 and not policy.mutates_shared_state(req.code)
                items.append(
                    {
                        "key": len(items),
                        "code": req.code,
                        "inputs": send,
                        "timeout": timeout,
                        "group": group,
                        "_ri": ri,
                        "_where": where,
                    }
                )
        if not items:
            raws: list[dict] = [{} for _ in zis]
        elif len(zis) == 1:
            raws = [self._dispatch(zis[0], items)]
        else:
            with ThreadPoolExecutor(len(zis)) as pool:
                raws = list(pool.map(lambda zi: self._dispatch(zi, items), zis))
        out = []
        for raw in raws:
            results = [list(row) for row in template]
            for it in items:
                got = raw.get(it["key"])
                for k, ii in enumerate(it["_where"]):
                    res = self._convert(got[k]) if got is not None and k < len(got) else None
                    results[it["_ri"]][ii] = res or ExecResult(
                        Status.SANDBOX_ERROR, error="SandboxError: zygote failed"
                    )
            out.append(results)
        return out  # type: ignore[return-value]

    def _dispatch(self, zi: int, items: list[dict]) -> dict:
        try:
            return self._zygote(zi).run(items)
        except RuntimeError as e:  # the zygote cannot start at all: every item is a sandbox error
            log.error("%s", e)
            return {}

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
        if len(output) > self.cfg.max_output_chars:
            ok = False
        elif len(output) <= 1024:
            ok = _valid_short_output(output)
        else:
            ok = _valid_output(output)
        if not ok:
            return ExecResult(Status.OUTPUT_LIMIT, error="NonPlainOutput: output failed re-validation")
        return ExecResult(Status.OK, output=output)


def _valid_output(text: str) -> bool:
    """Does the repr a child sent parse (literal-only, see values.parse_value) to plain data?"""
    try:
        return is_plain(parse_value(text, max_chars=len(text)))
    except (ValueError, MemoryError, RecursionError):
        return False


# Short outputs repeat a lot (k solver answers, grouped inputs); the check is a pure function of the text.
_valid_short_output = lru_cache(maxsize=65536)(_valid_output)


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


__all__ = ["Executor", "SandboxUnavailable", "run_requests"]
