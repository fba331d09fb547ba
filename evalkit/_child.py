"""Runs one untrusted program inside an executor's child process and reports how it ended.

Invoked as ``python -I -m evalkit._child PROGRAM_FILE VERDICT_FD MEMORY_BYTES FILE_BYTES``.
It sets its own resource limits before it reads the program.
The verdict pipe receives one JSON line tagged with a nonce that the parent sends on stdin,
written only after the program has run to its end or raised; a program that exits early
(``sys.exit``, ``os._exit``) leaves no verdict and so never counts as a pass.
"""

from __future__ import annotations

import json
import os
import resource
import sys


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


def run(source: str, filename: str) -> dict[str, str]:
    """Execute ``source`` as ``__main__`` and classify how it ended."""
    namespace = {"__name__": "__main__", "__builtins__": __builtins__}
    try:
        exec(compile(source, filename, "exec"), namespace)
    except BaseException as exc:  # the verdict, not the harness, decides
        return _verdict(exc)
    return _verdict(None)


def limit_resources(memory_bytes: int, file_size_bytes: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_bytes, file_size_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def main() -> None:
    program_file, verdict_fd = sys.argv[1], int(sys.argv[2])
    limit_resources(int(sys.argv[3]), int(sys.argv[4]))
    nonce = sys.stdin.readline().strip()
    sys.stdin.close()
    with open(program_file, encoding="utf-8") as handle:
        source = handle.read()
    verdict = run(source, "program.py")
    verdict["nonce"] = nonce
    sys.stdout.flush()
    os.write(verdict_fd, (json.dumps(verdict) + "\n").encode())
    os._exit(0)


if __name__ == "__main__":
    main()
