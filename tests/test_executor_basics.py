"""Every executor gives honest verdicts on ordinary programs (the sandbox adds its own suite)."""

from __future__ import annotations

import os

import pytest

from evalkit.executor import Executor, Limits, SubprocessExecutor

CASES = [
    ("passed", "x = 1\nassert x == 1\n", None),
    ("failed", "assert 1 == 2, 'nope'\n", "AssertionError"),
    ("error", "raise KeyError('k')\n", "KeyError"),
    ("error", "def f(:\n", "SyntaxError"),
    ("error", "import sys\nsys.exit(0)\nassert False\n", "SystemExit"),
    ("error", "import os\nos._exit(0)\n", "EarlyExit"),
    ("timeout", "while True:\n    pass\n", None),
    ("memory", "x = bytearray(8 * 1024**3)\n", "MemoryError"),
    ("passed", "print('passed')\nimport sys\nprint('x' * 100000, file=sys.stderr)\n", None),
]


@pytest.fixture(scope="module")
def executor() -> Executor:
    return SubprocessExecutor(Limits(timeout_s=2.0))


@pytest.mark.parametrize(
    ("status", "program", "error_type"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)]
)
def test_verdicts(executor: Executor, status: str, program: str, error_type: str | None) -> None:
    result = executor.run(program)
    assert result.status == status, result
    if error_type:
        assert result.error_type == error_type
    assert len(result.stderr_tail) <= 2000


def test_child_does_not_see_harness_secrets(
    executor: Executor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-value")
    program = (
        "import os\n"
        "assert 'OPENAI_API_KEY' not in os.environ\n"
        "assert 'sk-secret-value' not in repr(dict(os.environ))\n"
    )
    assert executor.run(program).status == "passed"
    assert os.environ["OPENAI_API_KEY"] == "sk-secret-value"
