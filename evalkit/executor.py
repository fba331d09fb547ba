"""The executor interface. An executor runs one untrusted program and says how it ended.

Tasks call ``run``; the engine calls it from ``parallelism`` threads at once. The sandboxed
implementation is ``evalkit.sandbox.SandboxExecutor``; a distributed one (Ray, a remote
sandbox service) implements the same two members.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Literal

ExecutionStatus = Literal["passed", "failed", "error", "timeout", "memory", "killed"]


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

    def describe(self) -> dict[str, object]:
        """What the manifest records: the isolation level and the layers in force."""
        return {"level": self.level, "parallelism": self.parallelism}

    def close(self) -> None:
        """Stop workers and remove scratch space."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
