"""The sandbox's fork server: a warm interpreter that forks one child per untrusted program.

This file runs *inside* the sandbox (under bubblewrap, or bare in the rlimits fallback) as a
standalone script: it imports only the standard library. Protocol: one JSON request per line
on stdin, one JSON response per line on stdout; a ``{"ready": ...}`` line at start.

Per request, the child: starts a new session, loses the protocol pipes, gets /dev/null as stdin
and a capped pipe as stdout/stderr, moves into a private scratch directory, sets rlimits
(memory, CPU, file size, processes and threads, open files), drops to an unprivileged uid when
the server runs as root, executes the program, and writes a verdict tagged with the request's
nonce to a pipe only after the program ran to its end or raised. No verdict means no pass.
After the child ends, every process it left behind is killed and the scratch directory removed.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import json
import os
import resource
import selectors
import shutil
import signal
import sys
import tempfile
import time
from typing import Any

WARM_MODULES = (
    "bisect",
    "collections",
    "copy",
    "dataclasses",
    "datetime",
    "decimal",
    "fractions",
    "functools",
    "hashlib",
    "heapq",
    "itertools",
    "math",
    "operator",
    "random",
    "re",
    "statistics",
    "string",
    "typing",
    "unittest",
)
VERDICT_FD = 1023
EXIT_NO_VERDICT = 70


def _verdict(exc: BaseException | None) -> dict[str, str]:
    if exc is None:
        return {"status": "passed"}
    kind = type(exc).__name__
    detail = str(exc)[:300]
    if isinstance(exc, AssertionError):
        return {"status": "failed", "error_type": kind, "detail": detail}
    if isinstance(exc, MemoryError):
        return {"status": "memory", "error_type": kind, "detail": detail}
    return {"status": "error", "error_type": kind, "detail": detail}


def _set_limits(req: dict[str, Any]) -> None:
    cpu = int(req["timeout"]) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_AS, (req["memory"], req["memory"]))
    resource.setrlimit(resource.RLIMIT_FSIZE, (req["file_size"], req["file_size"]))
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NPROC, (req["processes"], req["processes"]))


def _drop_privileges(uid: int | None) -> None:
    if uid is None:
        return
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)


def _child(
    req: dict[str, Any], scratch: str, out_w: int, verdict_w: int, protocol: tuple[int, ...]
) -> None:
    """Runs in the forked child; never returns."""
    try:
        for fd in protocol:
            os.close(fd)
        os.setsid()
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(out_w, 1)
        os.dup2(out_w, 2)
        os.dup2(verdict_w, VERDICT_FD)
        for fd in (null, out_w, verdict_w):
            os.close(fd)
        os.chdir(scratch)
        _set_limits(req)
        _drop_privileges(req.get("uid"))
        nonce, source = req.pop("nonce"), req.pop("program")
        namespace = {"__name__": "__main__", "__builtins__": __builtins__}
        try:
            exec(compile(source, "program.py", "exec"), namespace)
        except BaseException as exc:  # the verdict, not the program, decides
            verdict = _verdict(exc)
        else:
            verdict = _verdict(None)
        verdict["nonce"] = nonce
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(BaseException):
                stream.flush()
        os.write(VERDICT_FD, (json.dumps(verdict) + "\n").encode())
        os._exit(0)
    except BaseException:
        os._exit(EXIT_NO_VERDICT)


class _Collector:
    """Reads the child's verdict pipe in full and keeps only the tail of its output; with a
    pidfd it also wakes up the moment the child exits."""

    def __init__(self, verdict_r: int, out_r: int, tail_bytes: int, pidfd: int | None) -> None:
        self.verdict = bytearray()
        self.tail = bytearray()
        self.tail_bytes = tail_bytes
        self.selector = selectors.DefaultSelector()
        self.selector.register(verdict_r, selectors.EVENT_READ, "verdict")
        self.selector.register(out_r, selectors.EVENT_READ, "out")
        if pidfd is not None:
            self.selector.register(pidfd, selectors.EVENT_READ, "exit")
        self.exited = False

    def pump(self, timeout: float) -> None:
        for key, _ in self.selector.select(max(0.0, timeout)):
            if key.data == "exit":
                self.exited = True
                self.selector.unregister(key.fd)
                continue
            data = os.read(key.fd, 65536)
            if not data:
                self.selector.unregister(key.fd)
            elif key.data == "verdict":
                if len(self.verdict) < 65536:
                    self.verdict += data
            else:
                self.tail += data
                del self.tail[: max(0, len(self.tail) - self.tail_bytes)]

    @property
    def pipes_open(self) -> bool:
        return any(k.data != "exit" for k in self.selector.get_map().values())

    def close(self) -> None:
        self.selector.close()


def _wait_child(pid: int, collector: _Collector, deadline: float) -> tuple[int | None, bool]:
    """Wait until the child exits or the deadline passes; returns (wait status, timed out)."""
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            # Read what the child wrote before it exited (its descendants may hold the pipes).
            end = time.monotonic() + 0.05
            while collector.pipes_open and time.monotonic() < end:
                collector.pump(end - time.monotonic())
            return status, False
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None, True
        if collector.selector.get_map() and not collector.exited:
            collector.pump(min(remaining, 0.05))  # wakes on output, or on exit via the pidfd
        else:
            time.sleep(min(remaining, 0.0002))  # no pidfd, or exiting: reaping is next


def _sandbox_pids() -> list[int]:
    """Processes in this PID namespace other than its init (1) and this server."""
    me = os.getpid()
    return [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) not in (1, me)]


def _kill_leftovers(pid: int, uid: int | None, in_pid_namespace: bool) -> None:
    """Kill the child's process group and anything else it started."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    if in_pid_namespace:
        # Everything else in this namespace is the program's: kill it, whatever its session.
        for other in _sandbox_pids():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(other, signal.SIGKILL)
    elif uid is not None:
        # A helper with the child's uid kills every process of that uid (the slot's own).
        helper = os.fork()
        if helper == 0:
            try:
                _drop_privileges(uid)
                os.kill(-1, signal.SIGKILL)
            finally:
                os._exit(0)
        os.waitpid(helper, 0)
    _reap()


def _reap() -> None:
    while True:
        try:
            done, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if not done:
            return


def _classify(
    status: int | None, timed_out: bool, verdict_raw: bytes, nonce: str, timeout: float
) -> dict[str, Any]:
    if timed_out:
        return {"status": "timeout", "detail": f"over {timeout:g}s"}
    for line in verdict_raw.decode("utf-8", "replace").splitlines():
        try:
            verdict = json.loads(line)
        except ValueError:
            continue
        exited_cleanly = status is not None and os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
        if isinstance(verdict, dict) and verdict.pop("nonce", None) == nonce and exited_cleanly:
            return verdict
    if status is not None and os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig == signal.SIGXCPU:
            return {"status": "timeout", "detail": "CPU time limit"}
        return {"status": "killed", "error_type": signal.Signals(sig).name}
    code = os.WEXITSTATUS(status) if status is not None else None
    return {
        "status": "error",
        "error_type": "EarlyExit",
        "detail": f"exited with status {code} before the tests finished",
    }


def run_job(
    req: dict[str, Any], scratch_root: str, protocol: tuple[int, ...], in_pid_ns: bool
) -> dict[str, Any]:
    start = time.monotonic()
    uid = req.get("uid")
    scratch = tempfile.mkdtemp(dir=scratch_root)
    if uid is not None:
        os.chown(scratch, uid, uid)
    verdict_r, verdict_w = os.pipe()
    out_r, out_w = os.pipe()
    nonce = req["nonce"]
    pid = os.fork()
    if pid == 0:
        os.close(verdict_r)
        os.close(out_r)
        _child(req, scratch, out_w, verdict_w, protocol)
    os.close(verdict_w)
    os.close(out_w)
    pidfd = os.pidfd_open(pid) if hasattr(os, "pidfd_open") else None
    collector = _Collector(verdict_r, out_r, req["output_tail"], pidfd)
    status, timed_out = _wait_child(pid, collector, start + req["timeout"])
    collector.close()
    _kill_leftovers(pid, uid, in_pid_ns)
    if status is None:
        try:
            _, status = os.waitpid(pid, 0)
        except ChildProcessError:
            status = None
    for fd in (verdict_r, out_r, pidfd):
        if fd is not None:
            os.close(fd)
    _remove_tree(scratch)
    result = _classify(status, timed_out, bytes(collector.verdict), nonce, req["timeout"])
    result["output_tail"] = collector.tail.decode("utf-8", "replace")
    result["duration_s"] = time.monotonic() - start
    return result


def _remove_tree(path: str) -> None:
    """Remove a job's scratch directory, even parts the program made unwritable."""

    def retry(func: Any, target: str, _: Any) -> None:
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(target), 0o700)
            os.chmod(target, 0o700)
            func(target)

    shutil.rmtree(path, onerror=retry)
    if os.path.exists(path):
        shutil.rmtree(path, ignore_errors=True)


def _become_subreaper() -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER


def main() -> None:
    """Serve requests. The server's environment is already the sandbox's minimal one."""
    for name in WARM_MODULES:
        __import__(name)
    gc.collect()
    gc.freeze()  # children's collections then leave the server's objects (and pages) alone
    _become_subreaper()
    scratch_root = tempfile.mkdtemp(prefix="evalkit-jobs-")
    os.chmod(scratch_root, 0o711)
    protocol_in, protocol_out = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    in_pid_ns = "--pid-namespace" in sys.argv[1:]
    reader = os.fdopen(protocol_in, "rb")
    ready = {"ready": True, "pid": os.getpid(), "uid": os.getuid(), "pid_namespace": in_pid_ns}
    os.write(protocol_out, (json.dumps(ready) + "\n").encode())
    for line in reader:
        req = json.loads(line)
        try:
            resp = run_job(req, scratch_root, (protocol_in, protocol_out), in_pid_ns)
        except Exception as exc:
            resp = {"status": "error", "error_type": "SandboxError", "detail": repr(exc)[:300]}
        resp["id"] = req.get("id")
        os.write(protocol_out, (json.dumps(resp) + "\n").encode())
    shutil.rmtree(scratch_root, ignore_errors=True)


if __name__ == "__main__":
    main()
