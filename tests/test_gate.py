"""The CI gate's statistics (null simulation, power), end to end, and drift history."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import evalkit_cli
from test_api_pipeline import humaneval_responder

from evalkit.gate import compare_scores, holm
from evalkit.testing import ProviderServer


def _simulate(rng: np.random.Generator, p: np.ndarray, drop: float) -> bool:
    """One baseline/candidate pair drawn from per-item success probabilities; True when the
    gate calls a regression at alpha 0.05."""
    base = rng.random(len(p)) < p
    cand = rng.random(len(p)) < np.clip(p - drop, 0, 1)
    scores_b = {str(i): [float(x)] for i, x in enumerate(base)}
    scores_c = {str(i): [float(x)] for i, x in enumerate(cand)}
    comparison = compare_scores("t", scores_b, scores_c, margin=0.0)
    return comparison.p_value < 0.05 and comparison.delta < 0


def _item_probabilities(rng: np.random.Generator, n: int) -> np.ndarray:
    """Per-item success probabilities of a realistic model: most items easy or hard."""
    return rng.beta(0.6, 0.4, size=n)


def test_null_false_alarm_rate_is_at_most_alpha() -> None:
    rng = np.random.default_rng(7)
    trials = 600
    p = _item_probabilities(rng, 1000)
    alarms = sum(_simulate(rng, p, 0.0) for _ in range(trials))
    bound = 0.05 + 3 * math.sqrt(0.05 * 0.95 / trials)
    assert alarms / trials <= bound, alarms / trials


def test_power_on_a_five_point_drop_over_1000_items() -> None:
    rng = np.random.default_rng(11)
    trials = 300
    p = _item_probabilities(rng, 1000)
    caught = sum(_simulate(rng, p, 0.05) for _ in range(trials))
    assert caught / trials >= 0.80, caught / trials


def test_bootstrap_for_several_samples_and_margin() -> None:
    rng = np.random.default_rng(3)
    base = {str(i): list((rng.random(5) < 0.7).astype(float)) for i in range(300)}
    same = compare_scores("t", base, base, margin=0.0)
    assert same.method == "mcnemar-exact" or same.p_value > 0.5
    worse = {
        k: [max(0.0, v - 1.0) if j == 0 else v for j, v in enumerate(vs)] for k, vs in base.items()
    }
    result = compare_scores("t", base, worse, margin=0.0)
    assert result.method == "paired-bootstrap" and result.p_value < 0.01
    tolerated = compare_scores("t", base, worse, margin=0.5)
    assert tolerated.p_value > 0.5


def test_holm_matches_the_step_down_definition() -> None:
    assert holm([0.01, 0.04, 0.03, 0.5]) == pytest.approx([0.04, 0.09, 0.09, 0.5])


# -- end to end ------------------------------------------------------------------------------


def _run(server: ProviderServer, out: Path) -> None:
    result = evalkit_cli(
        "run",
        "--task",
        "humaneval",
        "--model",
        "openai:gpt-4o-mini",
        "--base-url",
        server.url(),
        "--limit",
        "60",
        "--out",
        str(out),
        "--no-progress",
        "--no-cache",
    )
    assert result.returncode == 0, result.stderr


@pytest.fixture
def runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    folders = {}
    for name, right in (
        ("baseline", lambda k: True),
        ("equal", lambda k: True),
        ("worse", lambda k: k % 10 >= 3),
    ):  # 30% of problems now wrong
        with ProviderServer(responder=humaneval_responder(right)) as server:
            _run(server, tmp_path / name)
        folders[name] = tmp_path / name
    return folders


def test_gate_fails_a_worse_candidate_and_passes_an_equal_one(
    runs: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    step_summary = tmp_path / "step-summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step_summary))
    worse = evalkit_cli(
        "gate",
        "--baseline",
        str(runs["baseline"]),
        "--candidate",
        str(runs["worse"]),
        "--json",
        str(tmp_path / "gate.json"),
    )
    assert worse.returncode == 1, worse.stdout + worse.stderr
    assert "REGRESSION" in worse.stdout and "mcnemar-exact" in worse.stdout
    figures = json.loads((tmp_path / "gate.json").read_text())
    comparison = figures["comparisons"][0]
    assert comparison["baseline"] == 1.0 and comparison["candidate"] == pytest.approx(0.7)
    assert comparison["details"]["baseline_only"] == 18
    assert "evalkit gate" in step_summary.read_text()

    equal = evalkit_cli(
        "gate", "--baseline", str(runs["baseline"]), "--candidate", str(runs["equal"])
    )
    assert equal.returncode == 0, equal.stdout + equal.stderr
    assert "no significant regression" in equal.stdout

    tolerant = evalkit_cli(
        "gate",
        "--baseline",
        str(runs["baseline"]),
        "--candidate",
        str(runs["worse"]),
        "--margin",
        "0.4",
    )
    assert tolerant.returncode == 0, tolerant.stdout


def test_runs_of_different_task_versions_exit_2(tmp_path: Path) -> None:
    (tmp_path / "d.jsonl").write_text(
        "".join(json.dumps({"q": f"{i}?", "a": str(i)}) + "\n" for i in range(5))
    )
    for version in ("1", "2"):
        spec = tmp_path / f"t{version}.yaml"
        spec.write_text(f'name: t\nversion: "{version}"\ndata: d.jsonl\ninput: q\ntarget: a\n')
        assert (
            evalkit_cli(
                "run",
                "--task",
                str(spec),
                "--model",
                "canonical",
                "--out",
                str(tmp_path / f"v{version}"),
                "--no-progress",
            ).returncode
            == 0
        )
    result = evalkit_cli(
        "gate", "--baseline", str(tmp_path / "v1"), "--candidate", str(tmp_path / "v2")
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "task version" in lines[0] and "not comparable" in lines[0]


def test_history_flags_drift(runs: dict[str, Path], tmp_path: Path) -> None:
    root = tmp_path / "weekly"
    for week, name in enumerate(("baseline", "equal", "worse")):
        shutil.copytree(runs[name], root / f"week-{week}")
        manifest_file = root / f"week-{week}" / "manifest.json"
        manifest: dict[str, Any] = json.loads(manifest_file.read_text())
        manifest["started_at"] = f"2026-11-0{week + 1}T00:00:00+00:00"
        manifest_file.write_text(json.dumps(manifest))
    result = evalkit_cli("history", str(root), "--plot", str(tmp_path / "history.png"))
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith("| openai:gpt-4o-mini")]
    assert len(rows) == 3
    assert "DRIFT" not in rows[1] and "DRIFT" in rows[2]
    assert (tmp_path / "history.png").stat().st_size > 1000
