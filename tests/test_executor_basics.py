"""Every sandbox level gives honest verdicts on ordinary programs (hostile ones: own suite)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from evalkit.errors import EvalkitError
from evalkit.executor import Executor, Limits
from evalkit.sandbox import SandboxExecutor, create_executor, namespaces_available

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


@pytest.fixture(scope="module", params=["namespaces", "rlimits"])
def executor(request: pytest.FixtureRequest) -> Iterator[Executor]:
    if request.param == "namespaces" and not namespaces_available():
        pytest.skip("bubblewrap cannot create namespaces here")
    try:
        sandbox = SandboxExecutor(request.param, Limits(timeout_s=2.0))
    except EvalkitError as exc:
        pytest.skip(str(exc))
    yield sandbox
    sandbox.close()


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


def test_rlimits_level_never_runs_code_as_root_it_cannot_drop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without namespaces, only another uid keeps kill(-1) in bounds: refuse rather than risk."""
    from evalkit import sandbox

    monkeypatch.setattr(sandbox.os, "geteuid", lambda: 0)
    monkeypatch.setattr(sandbox, "_readable_by_others", lambda path: False)
    with pytest.raises(EvalkitError, match="would run generated code as root"):
        SandboxExecutor("rlimits")


def test_auto_prefers_namespaces() -> None:
    if not namespaces_available():
        pytest.skip("bubblewrap cannot create namespaces here")
    with create_executor("auto") as executor:
        assert executor.describe()["level"] == "namespaces"


def test_unknown_level_is_an_error() -> None:
    with pytest.raises(EvalkitError, match="unknown sandbox level"):
        create_executor("docker")
