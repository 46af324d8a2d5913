"""Isolation layers: feature detection, the bubblewrap command, seccomp BPF, Landlock and rlimits.

Trainer side (`detect`, `build_seccomp_bpf`, `bwrap_command`) decides at start which layers exist here and
compiles the seccomp filter once. Zygote side (`Confiner`) prepares everything that can be prepared before
`fork` (the BPF program in memory, one Landlock ruleset per slot) so that confining a child costs a handful
of syscalls. Stdlib + ctypes only: the zygote imports this module and must stay small.

Covered: namespaces via bubblewrap (user, pid, net, ipc, uts, cgroup, mount; read-only binds of only the
interpreter, the virtual environment and azr's sources; private tmpfs; cleared environment), seccomp (no
sockets, no process creation, no signals, no ptrace, no mounts/namespaces/bpf/perf/keyrings/io_uring, no
file mutation, no `open` for writing), Landlock (read-only allow-list, read-write scratch only, no TCP, signal
and abstract-socket scoping, per the kernel's ABI), rlimits (address space, CPU, file size, fds, core).
Not covered: cgroups (no per-child memory accounting beyond RLIMIT_AS), CPU side channels.
"""

from __future__ import annotations

import ctypes
import errno
import os
import resource
import sys
from pathlib import Path

# --------------------------------------------------------------------------------------------------------------
# seccomp (trainer side: compiled once with libseccomp through pyseccomp, shipped to the zygote as BPF bytes)

_DENY_SYSCALLS = """
socket socketpair connect bind listen accept accept4 sendto sendmsg sendmmsg recvfrom recvmsg recvmmsg
fork vfork execve execveat kill tkill tgkill rt_sigqueueinfo rt_tgsigqueueinfo pidfd_open pidfd_send_signal
pidfd_getfd ptrace process_vm_readv process_vm_writev kcmp mount umount2 pivot_root chroot unshare setns
move_mount open_tree fsopen fsmount fspick mount_setattr bpf perf_event_open keyctl add_key request_key
io_uring_setup io_uring_enter io_uring_register userfaultfd init_module finit_module delete_module kexec_load
kexec_file_load reboot swapon swapoff acct quotactl syslog settimeofday clock_settime clock_adjtime adjtimex
sethostname setdomainname iopl ioperm personality setuid setgid setreuid setregid setresuid setresgid
setfsuid setfsgid setgroups capset mknod mknodat creat unlink unlinkat rename renameat renameat2 mkdir mkdirat
rmdir link linkat symlink symlinkat chmod fchmod fchmodat chown fchown lchown fchownat truncate ftruncate
utime utimes utimensat futimesat setxattr lsetxattr fsetxattr removexattr lremovexattr fremovexattr
fanotify_init inotify_init inotify_init1 name_to_handle_at open_by_handle_at lookup_dcookie
memfd_secret process_madvise set_mempolicy migrate_pages move_pages mbind
""".split()
_O_WRITE_FLAGS = (os.O_WRONLY, os.O_RDWR, os.O_CREAT, os.O_TRUNC, os.O_APPEND)
_CLONE_THREAD = 0x00010000


def build_seccomp_bpf() -> bytes:
    """Compile the child filter to BPF (default allow, listed calls fail with EPERM). Raises on failure."""
    import tempfile

    import pyseccomp as sc

    f = sc.SyscallFilter(defaction=sc.ALLOW)
    eperm = sc.ERRNO(errno.EPERM)
    for name in _DENY_SYSCALLS:
        try:
            f.add_rule(eperm, name)
        except (OSError, RuntimeError, ValueError):
            pass  # syscall unknown on this architecture
    # Threads are allowed (clone with CLONE_THREAD); any other clone creates a process. clone3 hides its
    # flags in memory BPF cannot read, so it returns ENOSYS and glibc falls back to clone.
    f.add_rule(eperm, "clone", sc.Arg(0, sc.MASKED_EQ, _CLONE_THREAD, 0))
    f.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
    f.add_rule(sc.ERRNO(errno.ENOSYS), "openat2")  # flags in a struct; Python uses openat
    for flag in _O_WRITE_FLAGS:  # no file is ever opened for writing (results travel over an inherited pipe)
        f.add_rule(eperm, "open", sc.Arg(1, sc.MASKED_EQ, flag, flag))
        f.add_rule(eperm, "openat", sc.Arg(2, sc.MASKED_EQ, flag, flag))
    with tempfile.TemporaryFile() as tmp:
        f.export_bpf(tmp)
        tmp.seek(0)
        return tmp.read()


# --------------------------------------------------------------------------------------------------------------
# Landlock (raw syscalls; x86_64 and aarch64 share these numbers)

_SYS_LANDLOCK_CREATE_RULESET, _SYS_LANDLOCK_ADD_RULE, _SYS_LANDLOCK_RESTRICT_SELF = 444, 445, 446
_PR_SET_NO_NEW_PRIVS, _PR_SET_SECCOMP, _PR_SET_PDEATHSIG, _PR_SET_CHILD_SUBREAPER = 38, 22, 1, 36
_SECCOMP_MODE_FILTER = 2
_FS_READ = (1 << 0) | (1 << 2) | (1 << 3)  # EXECUTE | READ_FILE | READ_DIR


def _fs_all(abi: int) -> int:
    bits = 13 + (abi >= 2) + (abi >= 3)
    mask = (1 << bits) - 1
    if abi >= 5:
        mask |= 1 << 15  # IOCTL_DEV
    return mask


_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def landlock_abi() -> int:
    """Landlock ABI version of the running kernel, 0 if unavailable."""
    r = _libc.syscall(_SYS_LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    return int(r) if r > 0 else 0


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("fs", ctypes.c_uint64), ("net", ctypes.c_uint64), ("scoped", ctypes.c_uint64)]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed", ctypes.c_uint64), ("fd", ctypes.c_int32)]


def landlock_ruleset(read_paths: list[str], rw_paths: list[str], abi: int) -> int:
    """A Landlock ruleset fd: read-only `read_paths`, read-write `rw_paths`, no TCP, scoped signals."""
    attr = _RulesetAttr(fs=_fs_all(abi), net=3 if abi >= 4 else 0, scoped=3 if abi >= 6 else 0)
    size = 24 if abi >= 6 else (16 if abi >= 4 else 8)
    fd = _libc.syscall(_SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
    if fd < 0:
        raise OSError(ctypes.get_errno(), "landlock_create_ruleset failed")
    for paths, access in ((read_paths, _FS_READ), (rw_paths, _fs_all(abi))):
        for p in paths:
            try:
                pfd = os.open(p, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue
            try:
                allowed = access if os.path.isdir(p) else access & ~(1 << 3) & _file_rights(abi)
                rule = _PathBeneath(allowed=allowed, fd=pfd)
                if (
                    _libc.syscall(
                        _SYS_LANDLOCK_ADD_RULE,
                        ctypes.c_int(fd),
                        ctypes.c_int(1),
                        ctypes.byref(rule),
                        ctypes.c_uint32(0),
                    )
                    < 0
                ):
                    raise OSError(ctypes.get_errno(), f"landlock_add_rule {p} failed")
            finally:
                os.close(pfd)
    return int(fd)


def _file_rights(abi: int) -> int:
    # Rights that make sense on a file (not a directory): execute, write, read, truncate, ioctl.
    return (1 << 0) | (1 << 1) | (1 << 2) | ((1 << 14) if abi >= 3 else 0) | ((1 << 15) if abi >= 5 else 0)


# --------------------------------------------------------------------------------------------------------------
# zygote side: everything a child needs, prepared before fork


class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_uint16), ("filter", ctypes.POINTER(_SockFilter))]


class Confiner:
    """Applies the per-child layers after fork. Built once in the zygote; `confine` runs in each child."""

    def __init__(self, bpf: bytes | None, landlock_fds: dict[int, int], memory_mb: int) -> None:
        self.memory_bytes = memory_mb * 1024 * 1024
        self.landlock_fds = landlock_fds
        self._prog = None
        if bpf:
            n = len(bpf) // 8
            self._filters = (_SockFilter * n).from_buffer_copy(bpf)  # kept alive: the prog points into it
            self._prog = _SockFprog(n, self._filters)

    @property
    def seccomp(self) -> bool:
        return self._prog is not None

    def confine(self, cpu_seconds: int, landlock_fd: int | None) -> None:
        """Called in the child right after fork, before any model code; raises if a layer fails."""
        for res, soft, hard in (
            (resource.RLIMIT_AS, self.memory_bytes, self.memory_bytes),
            # soft < hard: the kernel sends SIGXCPU first (reported as timeout), SIGKILL a second later
            (resource.RLIMIT_CPU, cpu_seconds, cpu_seconds + 1),
            (resource.RLIMIT_FSIZE, 1 << 20, 1 << 20),
            (resource.RLIMIT_NOFILE, 64, 64),
            (resource.RLIMIT_CORE, 0, 0),
        ):
            resource.setrlimit(res, (soft, hard))
        if _libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "no_new_privs")
        if landlock_fd is not None:
            if _libc.syscall(_SYS_LANDLOCK_RESTRICT_SELF, ctypes.c_int(landlock_fd), ctypes.c_uint32(0)) != 0:
                raise OSError(ctypes.get_errno(), "landlock_restrict_self")
            os.close(landlock_fd)
        if self._prog is not None:
            if _libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(self._prog), 0, 0) != 0:
                raise OSError(ctypes.get_errno(), "seccomp")


def set_parent_death_signal() -> None:
    """SIGKILL this process when its parent dies (zygote under the trainer, child under the zygote)."""
    _libc.prctl(_PR_SET_PDEATHSIG, 9, 0, 0, 0)


def set_child_subreaper() -> None:
    """Re-parent orphans of our children to us, so strays can be reaped and killed."""
    _libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


# --------------------------------------------------------------------------------------------------------------
# bubblewrap (trainer side)


def azr_path_entry() -> str:
    """The `sys.path` entry that holds the running `azr` package (a checkout's `src`, or site-packages)."""
    return str(Path(__file__).resolve().parents[2])


def interpreter_paths() -> list[str]:
    """Host paths the zygote's interpreter reads: base install, venv, the `azr` package, the executable's
    directory, each as written and resolved (a symlinked checkout works). Only the `azr` package directory is
    listed, not its parent, so siblings of a checkout (e.g. other files in /tmp) stay hidden."""
    exe = os.path.abspath(sys.executable)
    candidates = [
        sys.base_prefix,
        sys.prefix,
        str(Path(__file__).resolve().parents[1]),
        os.path.dirname(exe),
        os.path.dirname(os.path.realpath(exe)),
    ]
    paths = {os.path.abspath(p) for p in candidates} | {os.path.realpath(p) for p in candidates}
    out: list[str] = []
    for p in sorted(paths, key=len):  # parents first, so nested paths are dropped
        if not any(p == q or p.startswith(q.rstrip(os.sep) + os.sep) for q in out):
            out.append(p)
    return out


def bwrap_command(extra_env: dict[str, str]) -> list[str]:
    """bwrap argv (without the command): all namespaces, read-only system and interpreter, private tmpfs.

    bwrap applies its mount options in order, so the fresh filesystems (/proc, /dev, the private /tmp) come
    first and the read-only binds go on top of them: an interpreter, venv or checkout under /tmp is bound
    into the private tmpfs (only those directories, nothing else of the host's /tmp). Raises ValueError when a
    path the interpreter needs would cover the private /tmp itself."""
    import shutil

    bwrap = shutil.which("bwrap") or "/usr/bin/bwrap"
    cmd = [
        bwrap,
        "--unshare-all",
        "--unshare-user",
        "--uid",
        "65534",
        "--gid",
        "65534",
        "--die-with-parent",
        "--new-session",
        "--clearenv",
        "--cap-drop",
        "ALL",
        "--hostname",
        "azr-sandbox",
    ]
    cmd += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    cmd += ["--ro-bind", "/usr", "/usr"]
    for name in ("lib", "lib64", "lib32", "bin", "sbin"):
        p = Path("/") / name
        if p.is_symlink():
            cmd += ["--symlink", os.readlink(p), str(p)]
        elif p.is_dir():
            cmd += ["--ro-bind", str(p), str(p)]
    if Path("/etc/ld.so.cache").exists():
        cmd += ["--ro-bind", "/etc/ld.so.cache", "/etc/ld.so.cache"]
    for p in interpreter_paths():
        if p in ("/", "/tmp"):
            raise ValueError(f"the interpreter needs {p} itself, which would expose the host's /tmp")
        cmd += ["--ro-bind", p, p]
    cmd += ["--chdir", "/tmp"]
    for k, v in extra_env.items():
        cmd += ["--setenv", k, v]
    return cmd + ["--"]


def bwrap_installed() -> bool:
    import shutil

    return bool(shutil.which("bwrap")) or Path("/usr/bin/bwrap").exists()


def seccomp_bpf_or_none() -> bytes | None:
    try:
        return build_seccomp_bpf()
    except Exception:  # noqa: BLE001 - pyseccomp/libseccomp missing or failing: reported as a missing layer
        return None
