"""The executor interface, and a plain subprocess executor.

An executor runs one untrusted program and says how it ended. Tasks call ``run``; the engine
calls it from ``parallelism`` threads at once.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Literal

ExecutionStatus = Literal["passed", "failed", "error", "timeout", "memory", "killed"]

MINIMAL_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/nonexistent"}


@dataclass(frozen=True)
class Limits:
    timeout_s: float = 5.0
    memory_bytes: int = 2 * 1024**3
    file_size_bytes: int = 16 * 1024**2
    output_tail_bytes: int = 2000
    max_processes: int = 64


@dataclass(frozen=True)
class ExecutionResult:
    status: ExecutionStatus
    error_type: str | None = None
    detail: str = ""
    stderr_tail: str = ""
    duration_s: float = 0.0

    @property
    def passed(self) -> bool:
        return self.status == "passed"


class Executor(ABC):
    """Runs untrusted programs. ``level`` names the isolation actually in force."""

    level: str = "none"

    @property
    @abstractmethod
    def parallelism(self) -> int:
        """How many programs the engine may run at once."""

    @abstractmethod
    def run(self, program: str, timeout_s: float | None = None) -> ExecutionResult:
        """Run ``program`` to its end (or a limit) and classify the outcome."""

    def close(self) -> None:
        """Stop workers and remove scratch space."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def parse_verdict(raw: bytes, nonce: str) -> dict[str, str] | None:
    """The child's verdict, if it wrote one carrying the right nonce."""
    for line in raw.decode("utf-8", "replace").splitlines():
        try:
            verdict = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(verdict, dict) and verdict.get("nonce") == nonce:
            return {str(k): str(v) for k, v in verdict.items()}
    return None


class SubprocessExecutor(Executor):
    """A fresh interpreter per program, in its own session, with rlimits and a clean environment.

    This is NOT a security sandbox: the program runs as the harness's user, can read any file
    the user can, and can reach the network. It protects the harness's verdicts and its
    environment variables, and kills the program's whole process group at the end.
    """

    level = "none"

    def __init__(self, limits: Limits | None = None, workers: int | None = None) -> None:
        self.limits = limits or Limits()
        self._workers = workers or os.cpu_count() or 1

    @property
    def parallelism(self) -> int:
        return self._workers

    def run(self, program: str, timeout_s: float | None = None) -> ExecutionResult:
        timeout = timeout_s or self.limits.timeout_s
        scratch = tempfile.mkdtemp(prefix="evalkit-exec-")
        try:
            return self._run_in(scratch, program, timeout)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def _run_in(self, scratch: str, program: str, timeout: float) -> ExecutionResult:
        program_file = os.path.join(scratch, "program.py")
        with open(program_file, "w", encoding="utf-8") as handle:
            handle.write(program)
        nonce = secrets.token_hex(16)
        verdict_read, verdict_write = os.pipe()
        stderr_file = os.path.join(scratch, "stderr")
        start = time.monotonic()
        with open(stderr_file, "wb") as stderr:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-I",
                    "-m",
                    "evalkit._child",
                    program_file,
                    str(verdict_write),
                    str(self.limits.memory_bytes),
                    str(self.limits.file_size_bytes),
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                cwd=scratch,
                env={**MINIMAL_ENV, "PYTHONPATH": _package_root()},
                pass_fds=(verdict_write,),
                start_new_session=True,
            )
        os.close(verdict_write)
        timed_out = False
        try:
            assert proc.stdin is not None
            proc.stdin.write(f"{nonce}\n".encode())
            proc.stdin.close()
            raw = _read_until_eof(verdict_read, deadline=start + timeout)
            proc.wait(timeout=max(0.0, start + timeout - time.monotonic()))
        except (subprocess.TimeoutExpired, TimeoutError, BrokenPipeError):
            timed_out = True
            raw = b""
        finally:
            os.close(verdict_read)
            _kill_group(proc)
        duration = time.monotonic() - start
        tail = _tail(stderr_file, self.limits.output_tail_bytes)
        verdict = None if timed_out else parse_verdict(raw, nonce)
        if verdict is not None and proc.returncode == 0:
            return ExecutionResult(
                status=verdict["status"],  # type: ignore[arg-type]
                error_type=verdict.get("error_type"),
                detail=verdict.get("detail", ""),
                stderr_tail=tail,
                duration_s=duration,
            )
        if timed_out:
            return ExecutionResult(
                "timeout", detail=f"over {timeout:g}s", stderr_tail=tail, duration_s=duration
            )
        if proc.returncode is not None and proc.returncode < 0:
            name = signal.Signals(-proc.returncode).name
            return ExecutionResult("killed", error_type=name, stderr_tail=tail, duration_s=duration)
        return ExecutionResult(
            "error",
            error_type="EarlyExit",
            detail=f"exited with status {proc.returncode} before the tests finished",
            stderr_tail=tail,
            duration_s=duration,
        )


def _package_root() -> str:
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _read_until_eof(fd: int, deadline: float) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            raise TimeoutError
        chunk = os.read(fd, 65536)
        if not chunk:
            return b"".join(chunks)
        if size < 65536:
            chunks.append(chunk)
            size += len(chunk)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _tail(path: str, limit: int) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - limit))
            return handle.read().decode("utf-8", "replace")
    except OSError:
        return ""
