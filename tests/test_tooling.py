"""The project's own checks (lint, format, types, import boundaries) run with the tests."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

CHECKS = {
    "ruff check": [sys.executable, "-m", "ruff", "check", "."],
    "ruff format": [sys.executable, "-m", "ruff", "format", "--check", "."],
    "mypy": [sys.executable, "-m", "mypy"],
    "import boundaries": ["lint-imports"],
}


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_check_is_clean(name: str) -> None:
    command = CHECKS[name]
    if command[0] == "lint-imports":
        found = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
        command = [found, *command[1:]]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
