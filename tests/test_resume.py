"""A run killed at any moment resumes: nothing lost, nothing duplicated, the same summary."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import evalkit_cli

TIMING_FIELDS = {"latency_p50_s", "latency_p95_s"}
LIMIT = 80


def _run_args(out: Path) -> list[str]:
    return [
        "run",
        "--task",
        "humaneval",
        "--model",
        "canonical",
        "--limit",
        str(LIMIT),
        "--out",
        str(out),
        "--no-progress",
    ]


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def _without_timing(value: object) -> object:
    if isinstance(value, dict):
        return {k: _without_timing(v) for k, v in value.items() if k not in TIMING_FIELDS}
    return value


def _comparable(summary_file: Path) -> object:
    """The summary (and its breakdowns) without wall-clock figures, which differ between any
    two runs."""
    return _without_timing(json.loads(summary_file.read_text()))


def _keys(path: Path) -> list[tuple[str, int]]:
    return [(r["task_id"], r["sample_index"]) for r in map(json.loads, _lines(path))]


@pytest.mark.slow
def test_sigkill_halfway_then_resume_equals_uninterrupted(tmp_path: Path) -> None:
    reference = tmp_path / "reference"
    assert evalkit_cli(*_run_args(reference)).returncode == 0

    out = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, "-m", "evalkit.cli", *_run_args(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while len(_lines(out / "samples.jsonl")) < LIMIT // 3:
        assert proc.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = len(_lines(out / "samples.jsonl"))
    assert 0 < done_before < LIMIT
    assert not (out / "summary.json").exists()

    result = evalkit_cli(*_run_args(out))
    assert result.returncode == 0, result.stderr

    keys = _keys(out / "samples.jsonl")
    assert len(keys) == LIMIT
    assert len(set(keys)) == LIMIT
    generated = _keys(out / "completions.jsonl")
    assert len(generated) == len(set(generated)) == LIMIT, "a completion was generated twice"
    assert _comparable(out / "summary.json") == _comparable(reference / "summary.json")
    manifest = json.loads((out / "manifest.json").read_text())
    assert len(manifest["resumed_at"]) == 1


def test_torn_last_line_is_tolerated_and_repaired(tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = [
        "run",
        "--task",
        "humaneval",
        "--model",
        "canonical",
        "--limit",
        "6",
        "--out",
        str(out),
        "--no-progress",
    ]
    assert evalkit_cli(*args).returncode == 0
    rows = _lines(out / "samples.jsonl")
    # Simulate a kill in the middle of writing the 4th row.
    (out / "samples.jsonl").write_text("\n".join(rows[:3]) + "\n" + rows[3][: len(rows[3]) // 2])
    (out / "summary.json").unlink()
    result = evalkit_cli(*args)
    assert result.returncode == 0, result.stderr
    keys = _keys(out / "samples.jsonl")
    assert sorted(keys) == sorted(set(keys)) and len(keys) == 6
    assert json.loads((out / "summary.json").read_text())["pass@1"] == 1.0


def test_a_different_run_in_the_same_folder_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "run"
    base = [
        "run",
        "--task",
        "humaneval",
        "--model",
        "canonical",
        "--out",
        str(out),
        "--no-progress",
    ]
    assert evalkit_cli(*base, "--limit", "2").returncode == 0
    result = evalkit_cli(*base, "--limit", "3")
    assert result.returncode == 2
    assert "holds a different run" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
