"""The public API and the on-disk schema change only on purpose."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import evalkit
from evalkit.records import CompletionRow, SampleRow
from evalkit.results import Manifest, Summary

SNAPSHOT = Path(__file__).parent / "data" / "schema_snapshot.json"

PUBLIC = {
    "RUNNERS",
    "SCHEMA_VERSION",
    "TASKS",
    "Completion",
    "CompletionRow",
    "ErrorKind",
    "EvalkitError",
    "ExecutionResult",
    "Executor",
    "GenerationParams",
    "GenerationRequest",
    "Limits",
    "Manifest",
    "Message",
    "ModelSpec",
    "PromptStyle",
    "RateLimitError",
    "RetryDecision",
    "Run",
    "Runner",
    "RunnerOptions",
    "Sample",
    "SampleRow",
    "Score",
    "Summary",
    "Task",
    "TransientError",
    "read_run",
}


def test_exported_members() -> None:
    assert set(evalkit.__all__) == PUBLIC
    for name in evalkit.__all__:
        assert hasattr(evalkit, name), name


def _schemas() -> dict[str, object]:
    return {
        "schema_version": evalkit.SCHEMA_VERSION,
        "SampleRow": SampleRow.model_json_schema(),
        "CompletionRow": CompletionRow.model_json_schema(),
        "Manifest": Manifest.model_json_schema(),
        "Summary": Summary.model_json_schema(by_alias=True),
    }


def test_schema_snapshot() -> None:
    """A change to what runs write must bump SCHEMA_VERSION and refresh this snapshot
    (EVALKIT_UPDATE_SNAPSHOT=1)."""
    current = _schemas()
    if os.environ.get("EVALKIT_UPDATE_SNAPSHOT"):
        SNAPSHOT.write_text(json.dumps(current, indent=1, sort_keys=True) + "\n")
    assert json.loads(SNAPSHOT.read_text()) == json.loads(json.dumps(current))


def test_first_party_plugins_come_from_entry_points() -> None:
    from importlib.metadata import entry_points

    tasks = {ep.name: ep.value for ep in entry_points(group="evalkit.tasks")}
    runners = {ep.name: ep.value for ep in entry_points(group="evalkit.runners")}
    assert tasks["humaneval"].startswith("evalkit_tasks.")
    assert runners["canonical"].startswith("evalkit_runners.")
    assert "humaneval" in evalkit.TASKS.names()


def test_plugin_folders_do_not_install_as_bare_names(tmp_path: Path) -> None:
    """Installed, the plugins are ``evalkit_tasks``/``evalkit_runners``, never ``tasks``."""
    code = (
        "import importlib.util as u; "
        "print([n for n in ('evalkit_tasks', 'evalkit_runners', 'tasks', 'runners') "
        "if u.find_spec(n) is not None])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "['evalkit_tasks', 'evalkit_runners']"
