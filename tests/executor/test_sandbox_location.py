"""Full isolation wherever the checkout and the venv live (issue 13 req 1 and req 9).

bubblewrap applies mounts in order; when its private `--tmpfs /tmp` came after the read-only binds, an
interpreter, venv or checkout under /tmp was hidden, `azr exec` fell back to seccomp + Landlock (venv under /tmp)
or the zygote died with `ModuleNotFoundError: azr` (checkout under /tmp: the old probe never imported azr).
These tests build real layouts (a venv whose interpreter lives under the base directory, a copy of the azr
sources in a path with a space) and run `azr exec` from them, plus attack tests for the new mount layout.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import uuid
from pathlib import Path

import pytest

from azr.executor import process, sandbox

SRC = Path(sandbox.__file__).resolve().parents[1]  # the azr package under test
CLI = "import sys; from azr.cli import main; sys.exit(main())"


def _bwrap_works_here() -> bool:
    return process.bwrap_problem(sandbox.landlock_abi(), None) is None


needs_bwrap = pytest.mark.skipif(not _bwrap_works_here(), reason="bubblewrap cannot create namespaces here")


def _layout(base: Path, *, venv: bool) -> tuple[Path, dict[str, str], Path]:
    """Under `base`: a directory with a space holding a copy of azr ("proj src/azr") and, with `venv`, a venv
    whose interpreter is there too. Returns (python, env, root); the venv sees the project copy first and this
    test environment's site-packages (pyseccomp, yaml, ...) after it, like an editable install would."""
    root = Path(tempfile.mkdtemp(prefix="azr sandbox ", dir=base))
    src = root / "proj src"
    shutil.copytree(SRC, src / "azr", ignore=shutil.ignore_patterns("__pycache__"))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    if venv:
        subprocess.run(
            [sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", str(root / "venv")],
            check=True,
            capture_output=True,
            timeout=60,
        )
        python = root / "venv" / "bin" / "python"
        purelib = subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout.strip()
        Path(purelib, "azr-under-test.pth").write_text(f"{src}\n{sysconfig.get_paths()['purelib']}\n")
    else:
        python = Path(sys.executable)
        env["PYTHONPATH"] = str(src)
    return python, env, root


def _azr(python: Path, env: dict[str, str], *args: str, stdin: bytes = b"") -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(python), "-c", CLI, *args], input=stdin, capture_output=True, env=env, cwd="/", timeout=120
    )


@pytest.fixture
def tmp_layout(request):
    base, venv = request.param
    python, env, root = _layout(Path(base), venv=venv)
    try:
        yield python, env, root
    finally:
        shutil.rmtree(root, ignore_errors=True)


@needs_bwrap
@pytest.mark.parametrize(
    "tmp_layout",
    [("/tmp", True), ("/tmp", False), ("/var/tmp", True), (str(Path.home()), True)],
    indirect=True,
    ids=["venv+checkout-under-tmp", "checkout-under-tmp", "var-tmp", "home"],
)
def test_checkout_and_venv_anywhere_run_in_bwrap(tmp_layout):
    python, env, root = tmp_layout
    p = _azr(python, env, "exec", "--info")
    assert p.returncode == 0, p.stderr.decode()
    info = json.loads(p.stdout)
    assert info["mode"] == "bwrap" and info["bwrap"], info
    assert p.stderr == b"", p.stderr.decode()  # no fallback warning
    loaded = subprocess.run(
        [str(python), "-c", "import azr; print(azr.__file__)"], env=env, capture_output=True, text=True, timeout=60
    ).stdout
    assert loaded.startswith(str(root)), loaded  # really the copy under the base directory, not this checkout
    line = json.dumps({"code": "def f(a, b):\n    return a + b", "inputs": ["1, 2"]}).encode() + b"\n"
    p = _azr(python, env, "exec", "--sandbox", "bwrap", stdin=line)
    assert p.returncode == 0, p.stderr.decode()
    assert json.loads(p.stdout)["results"][0] == {"status": "ok", "output": "3", "error": None}


_PEEK = """
import json, sys
from azr.config import ExecutorConfig
from azr.executor import ExecRequest, Executor
paths = json.loads(sys.argv[1])
code = ("import os\\ndef f(p):\\n    try:\\n        body = sorted(os.listdir(p)) if os.path.isdir(p) else open(p).read()\\n"
        "    except OSError as e:\\n        body = type(e).__name__\\n    return [os.path.exists(p), body]")
with Executor(ExecutorConfig(sandbox=sys.argv[2], timeout=5.0), static_policy=False) as ex:
    [res] = ex.run([ExecRequest(code, tuple(repr(p) for p in paths))])
    print(json.dumps({"mode": ex.info()["mode"], "results": [[r.status.value, r.output, r.error] for r in res]}))
"""


@needs_bwrap
@pytest.mark.parametrize("mode", ["bwrap", "seccomp"])
@pytest.mark.parametrize("tmp_layout", [("/tmp", True)], indirect=True, ids=["venv+checkout-under-tmp"])
def test_child_sees_nothing_else_of_tmp(tmp_layout, mode):
    """Attack: with the venv and checkout under /tmp, a child lists and reads /tmp, the checkout and secrets.
    Nothing but the bound directories may be readable: not the host's other /tmp files, not a file beside the
    venv or beside the azr package. Under bubblewrap those files do not even exist (private tmpfs, only the
    binds on top); without it Landlock denies reading them (they can be stat'ed, not read or listed)."""
    python, env, root = tmp_layout
    outside = Path("/tmp") / f"azr-secret-{uuid.uuid4().hex}"
    secrets = [outside, root / "secret.txt", root / "proj src" / "secret.txt"]
    for f in secrets:
        f.write_text("TOPSECRET")
    try:
        paths = ["/tmp", str(root), str(root / "proj src"), *map(str, secrets)]
        p = subprocess.run(
            [str(python), "-c", _PEEK, json.dumps(paths), mode],
            capture_output=True,
            env=env,
            cwd="/",
            text=True,
            timeout=120,
        )
        assert p.returncode == 0, p.stderr
        got = json.loads(p.stdout.splitlines()[-1])
        assert got["mode"] == mode
        seen = {}
        for path, (status, output, error) in zip(paths, got["results"]):
            assert status == "ok", (path, error)
            assert "TOPSECRET" not in output and outside.name not in output and "secret.txt" not in output, path
            seen[path] = output
        if mode == "bwrap":
            assert all(seen[str(f)] == "[False, 'FileNotFoundError']" for f in secrets), seen
            assert seen[str(root / "proj src")].startswith("[True, ")  # the path to the bound azr package
        for f in secrets:
            assert f.read_text() == "TOPSECRET"
    finally:
        outside.unlink()


# ---- bubblewrap installed but failing: auto says why once, bwrap is a one-line error -------------------------

FAKE_BWRAP = "#!/bin/sh\necho 'bwrap: Creating new namespace failed: Operation not permitted' >&2\nexit 1\n"
REASON = "bubblewrap is installed but cannot start the executor: bwrap: Creating new namespace failed"


@pytest.fixture
def failing_bwrap(tmp_path):
    """PATH with a bwrap that fails the way it does in default Docker/Kubernetes."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "bwrap").write_text(FAKE_BWRAP)
    (bindir / "bwrap").chmod(0o755)
    return dict(os.environ, PATH=f"{bindir}{os.pathsep}{os.environ['PATH']}")


def test_auto_falls_back_and_says_why(failing_bwrap):
    p = _azr(Path(sys.executable), failing_bwrap, "exec", "--info")
    assert p.returncode == 0, p.stderr.decode()
    assert json.loads(p.stdout)["mode"] == "seccomp"
    [line] = p.stderr.decode().splitlines()
    assert REASON in line and "falling back to seccomp" in line


def test_bwrap_required_fails_in_one_line(failing_bwrap):
    p = _azr(Path(sys.executable), failing_bwrap, "exec", "--info", "--sandbox", "bwrap")
    assert p.returncode == 2
    [line] = p.stderr.decode().splitlines()
    assert line.startswith("azr exec: error: executor.sandbox=bwrap: ") and REASON in line


@pytest.mark.slow
def test_train_start_says_why_or_fails_in_one_line(failing_bwrap, tmp_path):
    def train(out: str, *overrides: str) -> subprocess.CompletedProcess:
        return _azr(
            Path(sys.executable),
            failing_bwrap,
            "train",
            "--config",
            "debug",
            "--out",
            str(tmp_path / out),
            "rollout.backend=scripted",
            "trainer.steps=1",
            *overrides,
        )

    p = train("auto")
    assert p.returncode == 0, p.stderr.decode()
    first = (p.stderr + p.stdout).decode().splitlines()[0]
    assert REASON in first, first  # before anything else the run prints
    p = train("required", "executor.sandbox=bwrap")
    assert p.returncode == 2
    [line] = p.stderr.decode().splitlines()
    assert line.startswith("azr train: error: executor.sandbox=bwrap: ") and REASON in line


# ---- the mount layout itself (no bwrap needed) ---------------------------------------------------------------


def test_private_tmp_is_mounted_before_the_binds():
    cmd = sandbox.bwrap_command({})
    tmpfs = cmd.index("--tmpfs")
    assert cmd[tmpfs + 1] == "/tmp"
    binds = [i for i, a in enumerate(cmd) if a == "--ro-bind"]
    assert binds and tmpfs < min(binds), "a bind before the tmpfs is hidden by it"


def test_only_the_azr_package_is_bound_not_its_parent():
    paths = sandbox.interpreter_paths()
    assert str(SRC) in paths or any(str(SRC).startswith(p + os.sep) for p in paths)
    assert str(SRC.parent) not in paths  # a checkout's other files (or all of /tmp) stay outside


def test_a_path_that_would_cover_the_private_tmp_is_refused(monkeypatch):
    monkeypatch.setattr(sandbox, "interpreter_paths", lambda: ["/usr", "/tmp"])
    with pytest.raises(ValueError, match="/tmp"):
        sandbox.bwrap_command({})
