"""GSM8K, MMLU, PubMedQA and the domain groups; a team's own YAML task."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from conftest import SHARED_DATA, evalkit_cli
from evalkit_tasks.knowledge import Finance, Law, Medicine

from evalkit.testing import ProviderServer, request_text

GSM8K_ROWS = [
    {
        "question": "Tom has 3 apples and buys 4 more. How many apples does he have?",
        "answer": "He has 3 + 4 = <<3+4=7>>7 apples.\n#### 7",
    },
    {
        "question": "A book costs $12. How much do 3 books cost?",
        "answer": "3 * 12 = <<3*12=36>>36\n#### 36",
    },
    {
        "question": "Ann earns $1,200 a week. How much in 2 weeks?",
        "answer": "1,200 * 2 = 2,400\n#### 2,400",
    },
]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """Small copies of the benchmarks in their released formats."""
    root = tmp_path / "data"
    (root / "gsm8k").mkdir(parents=True)
    (root / "gsm8k" / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in GSM8K_ROWS))
    (root / "mmlu" / "test").mkdir(parents=True)
    subjects = {s for group in (Medicine, Law, Finance) for s in group.members}
    for subject in sorted(subjects):
        with (root / "mmlu" / "test" / f"{subject}_test.csv").open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(
                [
                    f"Which is right about {subject}?",
                    "first",
                    "second, with a comma",
                    'a "quoted" third',
                    "fourth",
                    "C",
                ]
            )
            writer.writerow([f"Another {subject} question", "w", "x", "y", "z", "A"])
    (root / "pubmedqa").mkdir()
    questions = {
        str(100 + i): {
            "QUESTION": f"Does treatment {i} help?",
            "CONTEXTS": [f"Background {i}.", f"Results {i}."],
            "final_decision": label,
        }
        for i, label in enumerate(["yes", "no", "maybe"])
    }
    (root / "pubmedqa" / "ori_pqal.json").write_text(json.dumps(questions))
    (root / "pubmedqa" / "test_ground_truth.json").write_text(
        json.dumps({k: v["final_decision"] for k, v in questions.items()})
    )
    return root


def _summary(out: Path) -> dict[str, Any]:
    return json.loads((out / "summary.json").read_text())


@pytest.mark.parametrize(
    ("task", "n"),
    [
        ("gsm8k", 3),
        ("medicine", 17),
        ("law", 6),
        ("finance", 8),
        ("mmlu:anatomy", 2),
        ("pubmedqa", 3),
    ],
)
def test_canonical_scores_one(tmp_path: Path, data_dir: Path, task: str, n: int) -> None:
    out = tmp_path / "run"
    result = evalkit_cli(
        "run",
        "--task",
        task,
        "--model",
        "canonical",
        "--data-dir",
        str(data_dir),
        "--out",
        str(out),
        "--no-progress",
    )
    assert result.returncode == 0, result.stderr
    summary = _summary(out)
    assert (summary["n"], summary["accuracy"]) == (n, 1.0)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["data_checksum"].startswith("sha256:")


@pytest.mark.slow
@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="needs ../shared/data")
@pytest.mark.parametrize(
    ("task", "n"), [("gsm8k", 1319), ("medicine", 1427 + 500), ("law", 1763), ("finance", 1025)]
)
def test_canonical_on_the_released_files(tmp_path: Path, task: str, n: int) -> None:
    out = tmp_path / "run"
    result = evalkit_cli(
        "run",
        "--task",
        task,
        "--model",
        "canonical",
        "--data-dir",
        str(SHARED_DATA),
        "--out",
        str(out),
        "--no-progress",
    )
    assert result.returncode == 0, result.stderr
    assert (_summary(out)["n"], _summary(out)["accuracy"]) == (n, 1.0)


def test_missing_data_is_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = evalkit_cli(
        "run",
        "--task",
        "gsm8k",
        "--model",
        "canonical",
        "--data-dir",
        str(tmp_path),
        "--out",
        str(tmp_path / "run"),
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "gsm8k/test.jsonl" in lines[0] and "--data-dir" in lines[0]


def test_gsm8k_prompts(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from evalkit_tasks.gsm8k import GSM8K

    monkeypatch.setenv("EVALKIT_DATA_DIR", str(data_dir))
    eight = GSM8K().samples()[0]
    assert eight.prompt.count("The answer is") == 8 and eight.prompt.endswith("does he have?\nA:")
    assert "step by step" in eight.messages[0].content
    assert GSM8K(shots=0).samples()[0].prompt.startswith("Q: Tom has")
    assert eight.metadata["target"] == "7"


def _medicine_responder(protocol: str, body: dict[str, Any]) -> str:
    """Right on anatomy and PubMedQA, wrong elsewhere; answers in assorted formats."""
    text = request_text(protocol, body)
    if "Does treatment" in text:
        for i, label in enumerate(["yes", "no", "maybe"]):
            if f"Does treatment {i} help?" in text:
                return f"Weighing the results, the answer is {label}."
    if "anatomy" in text:
        return "The answer is (C)." if "Which is right" in text else "**A**"
    return "Answer: D"


def test_chat_model_on_a_domain_group_reports_per_task_and_domain(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    out = tmp_path / "run"
    with ProviderServer(responder=_medicine_responder) as server:
        result = evalkit_cli(
            "run",
            "--task",
            "medicine",
            "--model",
            "gpt-4o-mini",
            "--base-url",
            server.url(),
            "--data-dir",
            str(data_dir),
            "--out",
            str(out),
            "--no-progress",
        )
    assert result.returncode == 0, result.stderr
    summary = _summary(out)
    assert (summary["n"], summary["correct"]) == (17, 5)
    by_task = summary["by_subtask"]
    assert by_task["mmlu:anatomy"]["accuracy"] == 1.0
    assert by_task["pubmedqa"]["accuracy"] == 1.0
    assert by_task["mmlu:virology"]["accuracy"] == 0.0
    for figures in by_task.values():
        assert figures["cost_usd"] > 0
        expected = figures["cost_usd"] / figures["correct"] if figures["correct"] else None
        assert figures["cost_per_correct_usd"] == (pytest.approx(expected) if expected else None)
    domain = summary["by_domain"]["medicine"]
    assert domain["n"] == 17 and domain["cost_usd"] == pytest.approx(summary["cost_usd"])
    rows = [json.loads(x) for x in (out / "samples.jsonl").read_text().splitlines()]
    assert {r["answer"] for r in rows if r["subtask"] == "mmlu:anatomy"} == {"A", "C"}


CONTRACTS = """\
name: contracts
version: "2"
domain: law
data: contracts.jsonl
input: clause
choices: options
target: label
prompt: "Is this clause enforceable?\\n\\n{input}\\n\\n{choices}\\nAnswer:"
few_shot: 1
scorer: choice
"""


def _write_contracts(folder: Path, spec: str = CONTRACTS) -> Path:
    rows = [
        {
            "clause": f"Clause {i}",
            "options": ["enforceable", "void", "voidable"],
            "label": ["enforceable", "void", "voidable"][i % 3],
        }
        for i in range(7)
    ]
    (folder / "contracts.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    path = folder / "contracts.yaml"
    path.write_text(spec)
    return path


def test_yaml_task_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write_contracts(tmp_path)
    canonical = evalkit_cli(
        "run",
        "--task",
        str(path),
        "--model",
        "canonical",
        "--out",
        str(tmp_path / "canonical"),
        "--no-progress",
    )
    assert canonical.returncode == 0, canonical.stderr
    assert (
        _summary(tmp_path / "canonical")["n"],
        _summary(tmp_path / "canonical")["accuracy"],
    ) == (6, 1.0)

    def respond(protocol: str, body: dict[str, Any]) -> str:
        text = request_text(protocol, body)
        return "The clause is void." if "Clause 4" in text else "B"

    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    with ProviderServer(responder=respond) as server:
        result = evalkit_cli(
            "run",
            "--task",
            str(path),
            "--model",
            "openai:gpt-4o-mini",
            "--base-url",
            server.url(),
            "--out",
            str(tmp_path / "chat"),
            "--no-progress",
        )
    assert result.returncode == 0, result.stderr
    summary = _summary(tmp_path / "chat")
    assert summary["task"] == "contracts" and summary["domain"] == "law"
    # rows 1..6 are asked (row 0 is the worked example); labels cycle void, voidable, enf...
    assert summary["correct"] == 2
    first = server.requests[0]["body"]["messages"][-1]["content"]
    assert first.count("Is this clause enforceable?") == 2 and "A. enforceable" in first


def test_yaml_typo_is_one_line_naming_field_and_line(tmp_path: Path) -> None:
    path = _write_contracts(tmp_path, CONTRACTS.replace("target: label", "taget: label"))
    result = evalkit_cli("run", "--task", str(path), "--model", "canonical")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert f"{path}:7: taget: unknown field" in lines[0]


@pytest.mark.parametrize(
    ("scorer", "extra", "target", "output", "passed"),
    [
        ("exact", "", "Paris", " Paris ", True),
        ("exact", "", "Paris", "paris", False),
        ("normalized_exact", "", "The Paris.", "paris", True),
        ("numeric", "", "1,200", "It is $1200.", True),
        ("numeric", "", "12", "13", False),
        ("contains", "", "force majeure", "This is a Force Majeure clause.", True),
        ("regex", 'pattern: "Answer: (\\\\w+)"\n', "yes", "Answer: yes", True),
        ("regex", 'pattern: "Answer: (\\\\w+)"\n', "yes", "Answer: no", False),
    ],
)
def test_yaml_scorers(
    tmp_path: Path, scorer: str, extra: str, target: str, output: str, passed: bool
) -> None:
    from evalkit.yaml_task import YamlTask

    (tmp_path / "d.jsonl").write_text(json.dumps({"q": "?", "a": target}) + "\n")
    spec = tmp_path / "t.yaml"
    spec.write_text(f"data: d.jsonl\ninput: q\ntarget: a\nscorer: {scorer}\n{extra}")
    task = YamlTask(spec)
    sample = task.samples()[0]
    assert task.score(sample, output, "chat", None).passed is passed


def test_logprob_multiple_choice_with_a_local_model(tmp_path: Path, data_dir: Path) -> None:
    pytest.importorskip("transformers")
    from evalkit.testing import build_tiny_llama

    model = build_tiny_llama(str(tmp_path / "tiny"), ["A B C D Answer: which is right"] * 20)
    out = tmp_path / "run"
    result = evalkit_cli(
        "run",
        "--task",
        "law",
        "--model",
        f"hf:{model}",
        "--mc-mode",
        "logprob",
        "--data-dir",
        str(data_dir),
        "--out",
        str(out),
        "--no-progress",
    )
    assert result.returncode == 0, result.stderr
    rows = [json.loads(x) for x in (out / "samples.jsonl").read_text().splitlines()]
    assert len(rows) == 6 and {r["style"] for r in rows} == {"logprob"}
    assert {r["answer"] for r in rows} <= set("ABCD")
    assert json.loads((out / "manifest.json").read_text())["fingerprint"]["style"] == "logprob"
