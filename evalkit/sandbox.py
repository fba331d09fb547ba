"""The sandboxed executor: warm fork servers inside bubblewrap, one child per program.

Levels (``--sandbox``):

- ``namespaces`` (Linux with bubblewrap): each worker is a fork server inside ``bwrap`` with
  fresh user (when not root), network, PID, IPC, UTS and cgroup namespaces. Nothing is
  reachable over the network, loopback included. The file system is a read-only view of the
  system's and Python's directories plus a private tmpfs; the harness's folders (home, the
  project, results, the host's /tmp) are not there at all. ``/proc`` shows only the sandbox's
  own processes. The environment is cleared. When the harness runs as root, every worker's
  children run as their own unprivileged uid, so they can signal nothing of the harness's and
  the process cap (RLIMIT_NPROC, which root ignores) holds.
- ``rlimits`` (no bubblewrap or no namespaces, e.g. macOS or a locked-down container): the
  same fork server without namespaces: clean environment, own session, resource limits, a
  private scratch directory, and (as root) an unprivileged uid per worker. The program can
  read the user's files and reach the network. evalkit warns when it falls back to this.

Both levels: wall-clock and CPU timeouts, a memory cap (RLIMIT_AS), a file size cap, a cap on
processes and threads, an output cap (only the tail is kept), and every process a program
leaves behind is killed when it ends.

What this does NOT guarantee: no seccomp filter is installed, so the kernel's whole system
call surface is reachable from inside (a kernel exploit escapes). A program that deliberately
inspects the interpreter's own memory can find the nonce that tags its verdict and forge a
pass; the verdict protects against exits, exit-status tricks, printed markers and killing the
harness, not against such forgery. In the ``rlimits`` level without root, a program can signal
other processes of the same user, and one that leaves its session can outlive its run.
"""

from __future__ import annotations

import dataclasses
import json
import os
import queue
import secrets
import select
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Literal, get_args

from evalkit.errors import EvalkitError
from evalkit.executor import ExecutionResult, ExecutionStatus, Executor, Limits

SandboxLevel = Literal["namespaces", "rlimits"]
SANDBOX_CHOICES = ("auto", "namespaces", "rlimits")

_FORKSERVER = Path(__file__).with_name("_forkserver.py")
_INSIDE_PATH = "/evalkit/forkserver.py"
_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/tmp"}
_STATUSES = set(get_args(ExecutionStatus))
_BASE_UID = 61000
"""Children of worker slot i run as uid 61000 + i when the harness is root."""
_ROOT_CAPS = ("CAP_SETUID", "CAP_SETGID", "CAP_KILL", "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER")


def _bwrap_argv(python: str) -> list[str]:
    argv = [
        "bwrap",
        "--die-with-parent",
        "--new-session",
        "--clearenv",
        "--unshare-net",
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--hostname",
        "sandbox",
    ]
    if os.geteuid() == 0:
        for cap in _ROOT_CAPS:
            argv += ["--cap-add", cap]
    else:
        argv += ["--unshare-user", "--disable-userns"]
    for key, value in _ENV.items():
        argv += ["--setenv", key, value]
    for path in (
        "/usr",
        "/bin",
        "/lib",
        "/lib64",
        "/lib32",
        "/sbin",
        "/etc/ld.so.cache",
        "/etc/localtime",
        "/etc/alternatives",
    ):
        argv += ["--ro-bind-try", path, path]
    argv += ["--proc", "/proc", "--dev", "/dev", "--size", str(256 * 1024**2), "--tmpfs", "/tmp"]
    binds = sorted({sys.base_prefix, sys.prefix, str(Path(python).resolve().parent)})
    ancestors = sorted({str(p) for b in binds for p in Path(b).parents if str(p) != "/"})
    for path in ancestors:  # traversable by the sandbox's unprivileged uid
        argv += ["--perms", "0755", "--dir", path]
    for path in binds:
        argv += ["--ro-bind", path, path]
    argv += ["--ro-bind", str(_FORKSERVER), _INSIDE_PATH, "--chdir", "/tmp"]
    return [*argv, python, "-I", _INSIDE_PATH, "--pid-namespace"]


def _readable_by_others(path: str) -> bool:
    """Whether a uid other than the owner can reach and read ``path``."""
    for part in [Path(path), *Path(path).parents]:
        try:
            if not part.stat().st_mode & 0o005:
                return False
        except OSError:
            return False
    return True


def _child_uid(level: SandboxLevel, slot: int) -> int | None:
    """The uid a slot's programs run as: their own unprivileged one when the harness is root.

    Without namespaces, an unprivileged uid is all that stops ``kill(-1)`` from reaching every
    process on the machine, so the rlimits level refuses to run programs as root: it needs
    Python installed where other users can read it.
    """
    if os.geteuid() != 0:
        return None
    if level == "rlimits" and not all(
        _readable_by_others(p) for p in (sys.base_prefix, sys.prefix)
    ):
        raise EvalkitError(
            "the rlimits sandbox would run generated code as root (Python here is not readable "
            "by an unprivileged user): install bubblewrap, or run evalkit as a regular user"
        )
    return _BASE_UID + slot


class _Worker:
    """One fork server process and the pipe protocol to it."""

    def __init__(self, level: SandboxLevel, slot: int) -> None:
        self.level = level
        self.uid = _child_uid(level, slot)
        self._buffer = b""
        self.proc = self._start()

    def _start(self) -> subprocess.Popen[bytes]:
        python = sys.executable
        argv = (
            _bwrap_argv(python) if self.level == "namespaces" else [python, "-I", str(_FORKSERVER)]
        )
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=_ENV,
            start_new_session=True,
        )
        self.proc = proc
        self._buffer = b""
        ready = self._read_line(time.monotonic() + 30)
        if ready is None or not ready.get("ready"):
            self.kill()
            raise EvalkitError(f"the {self.level} sandbox did not start ({' '.join(argv[:3])}...)")
        return proc

    def _read_line(self, deadline: float) -> dict[str, Any] | None:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                return None
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return None
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        try:
            reply = json.loads(line)
        except ValueError:
            return None
        return reply if isinstance(reply, dict) else None

    def request(self, payload: dict[str, Any], deadline: float) -> dict[str, Any] | None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write((json.dumps(payload) + "\n").encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            return None
        return self._read_line(deadline)

    def restart(self) -> None:
        self.kill()
        self.proc = self._start()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()


def namespaces_available() -> bool:
    """Whether bubblewrap can create the sandbox here (it is tried once, for real)."""
    if sys.platform != "linux" or shutil.which("bwrap") is None:
        return False
    try:
        _Worker("namespaces", 0).kill()
    except EvalkitError:
        return False
    return True


class SandboxExecutor(Executor):
    """Runs each program in a fresh child of a warm, sandboxed fork server (see module doc)."""

    def __init__(
        self,
        level: SandboxLevel = "namespaces",
        limits: Limits | None = None,
        workers: int | None = None,
    ) -> None:
        self.level = level
        self.limits = limits or Limits()
        # One worker more than cores, so that no core idles while a result is handed back.
        self._size = workers or (os.cpu_count() or 1) + 1
        self._idle: queue.SimpleQueue[_Worker] = queue.SimpleQueue()
        self._all: list[_Worker] = []
        self._lock = threading.Lock()
        for slot in range(self._size):
            worker = _Worker(level, slot)
            self._all.append(worker)
            self._idle.put(worker)

    @property
    def parallelism(self) -> int:
        return self._size

    @property
    def layers(self) -> list[str]:
        """The isolation layers in force, in words."""
        layers = [
            "clean environment",
            "own session",
            "private scratch directory",
            "rlimits: cpu, memory, file size, processes+threads, open files",
            "output cap",
            "leftover processes killed",
        ]
        if self.level == "namespaces":
            layers = [
                "network namespace (no network, loopback included)",
                "PID namespace (own /proc)",
                "mount namespace (read-only system and Python, private tmpfs)",
                "IPC and UTS namespaces",
                *(["user namespace"] if os.geteuid() != 0 else []),
                *layers,
            ]
        if self._all and self._all[0].uid is not None:
            layers.append("unprivileged uid per worker")
        return layers

    def describe(self) -> dict[str, object]:
        return {
            "level": self.level,
            "parallelism": self.parallelism,
            "layers": self.layers,
            "limits": dataclasses.asdict(self.limits),
        }

    def run(self, program: str, timeout_s: float | None = None) -> ExecutionResult:
        timeout = timeout_s or self.limits.timeout_s
        worker = self._idle.get()
        try:
            return self._run_on(worker, program, timeout)
        finally:
            self._idle.put(worker)

    def _run_on(self, worker: _Worker, program: str, timeout: float) -> ExecutionResult:
        payload = {
            "id": secrets.token_hex(4),
            "nonce": secrets.token_hex(16),
            "program": program,
            "timeout": timeout,
            "memory": self.limits.memory_bytes,
            "file_size": self.limits.file_size_bytes,
            "processes": self.limits.max_processes,
            "output_tail": self.limits.output_tail_bytes,
            "uid": worker.uid,
        }
        start = time.monotonic()
        reply = worker.request(payload, deadline=start + timeout + 10)
        if reply is None or reply.get("id") != payload["id"]:
            # The server died (a program killed it) or hung: replace it; this program failed.
            status: ExecutionStatus = "timeout" if time.monotonic() - start > timeout else "killed"
            worker.restart()
            return ExecutionResult(
                status,
                error_type="SandboxLost",
                detail="the sandbox's fork server was lost during this program",
                duration_s=time.monotonic() - start,
            )
        return ExecutionResult(
            status=reply["status"] if reply.get("status") in _STATUSES else "error",
            error_type=reply.get("error_type"),
            detail=reply.get("detail", ""),
            stderr_tail=reply.get("output_tail", "")[-self.limits.output_tail_bytes :],
            duration_s=float(reply.get("duration_s", 0.0)),
        )

    def close(self) -> None:
        with self._lock:
            for worker in self._all:
                worker.kill()
            self._all.clear()


def create_executor(
    choice: str = "auto", limits: Limits | None = None, workers: int | None = None
) -> SandboxExecutor:
    """The executor for ``--sandbox``: ``auto`` takes namespaces where they work, else rlimits
    with one warning on stderr."""
    if choice not in SANDBOX_CHOICES:
        raise EvalkitError(
            f"unknown sandbox level {choice!r} (choose from {', '.join(SANDBOX_CHOICES)})"
        )
    if choice == "namespaces" or (choice == "auto" and namespaces_available()):
        return SandboxExecutor("namespaces", limits, workers)
    if choice == "auto":
        print(
            "evalkit: warning: no namespace sandbox here (bubblewrap missing or user "
            "namespaces disabled); generated code runs with resource limits and a clean "
            "environment only",
            file=sys.stderr,
        )
    return SandboxExecutor("rlimits", limits, workers)
