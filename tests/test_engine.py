"""The engine: concurrency, ordering, retries owned by the engine, errors recorded per sample."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import ClassVar

import pytest

from evalkit import (
    RUNNERS,
    TASKS,
    Completion,
    GenerationRequest,
    RateLimitError,
    Runner,
    Sample,
    Score,
    Task,
    TransientError,
    read_run,
)
from evalkit.errors import EvalkitError
from evalkit.executor import Executor
from evalkit.pipeline import RunPlan, run_evaluation
from evalkit.prices import PriceQuote
from evalkit.records import GenerationParams, PromptStyle
from evalkit.runner import ModelSpec, RunnerOptions


class EchoTask(Task):
    """Exact match against the sample's id (a task for engine tests)."""

    name = "echo"
    version = "1"
    domain = "testing"

    def __init__(self, n: int = 20) -> None:
        self.n = n

    def samples(self) -> Sequence[Sample]:
        return [
            Sample(id=f"s{i}", task=self.name, prompt=f"say s{i}", reference=f"s{i}")
            for i in range(self.n)
        ]

    def data_checksum(self) -> str:
        return "sha256:test"

    def score(
        self, sample: Sample, output: str, style: PromptStyle, executor: Executor | None
    ) -> Score:
        ok = output.strip() == sample.reference
        return Score(value=float(ok), passed=ok, status="passed" if ok else "failed", answer=output)


class FlakyRunner(Runner):
    """Fails in scripted ways before answering; counts every attempt."""

    name = "flaky"
    script: ClassVar[dict[str, list[BaseException]]] = {}
    attempts: ClassVar[dict[str, int]] = {}
    in_flight = 0
    peak = 0

    async def generate(self, request: GenerationRequest) -> Completion:
        cls = type(self)
        key = request.sample.id
        cls.attempts[key] = cls.attempts.get(key, 0) + 1
        cls.in_flight += 1
        cls.peak = max(cls.peak, cls.in_flight)
        try:
            await asyncio.sleep(0.01)
            failures = cls.script.get(key, [])
            if failures:
                raise failures.pop(0)
            return Completion(text=request.sample.reference, tokens_in=100, tokens_out=10)
        finally:
            cls.in_flight -= 1


@pytest.fixture(autouse=True)
def _registered() -> Iterator[None]:
    TASKS.register("echo", EchoTask)
    RUNNERS.register("flaky", FlakyRunner)
    FlakyRunner.script, FlakyRunner.attempts = {}, {}
    FlakyRunner.in_flight = FlakyRunner.peak = 0
    yield
    TASKS.unregister("echo")
    RUNNERS.unregister("flaky")


def _plan(tmp_path: Path, n: int = 20, concurrency: int = 4) -> RunPlan:
    model = ModelSpec(spec="flaky", provider="flaky", model_id="flaky")
    return RunPlan(
        task=EchoTask(n),
        runner=FlakyRunner(model, RunnerOptions(concurrency)),
        executor=None,
        out=tmp_path / "run",
        params=GenerationParams(),
        price=PriceQuote(1.0, 2.0, "catalog"),
        show_progress=False,
    )


def test_retries_transient_and_rate_limits_then_records_fatal(tmp_path: Path) -> None:
    FlakyRunner.script = {
        "s1": [RateLimitError("429", retry_after_s=0.5)],
        "s2": [TransientError("503"), TransientError("503")],
        "s3": [ValueError("400 bad request")],
        "s4": [TransientError("503")] * 10,
    }
    summary = run_evaluation(_plan(tmp_path))
    assert FlakyRunner.attempts["s1"] == 2
    assert FlakyRunner.attempts["s2"] == 3
    assert FlakyRunner.attempts["s3"] == 1, "a fatal error must not be retried"
    assert FlakyRunner.attempts["s4"] == 6, "retries stop at the policy's maximum"
    assert FlakyRunner.attempts["s0"] == 1
    run = read_run(tmp_path / "run")
    by_id = {r.task_id: r for r in run.rows}
    assert by_id["s3"].generation_error is not None and "400" in by_id["s3"].generation_error
    assert by_id["s3"].status == "generation_error" and not by_id["s3"].passed
    assert by_id["s2"].passed and by_id["s2"].attempts == 3
    assert summary.correct == 18
    assert summary.generation_errors == 2
    # 18 answered requests at 100 in / 10 out tokens, $1 / $2 per million tokens
    assert summary.cost_usd == pytest.approx(18 * (100 * 1.0 + 10 * 2.0) / 1e6)
    assert summary.cost_per_correct_usd == pytest.approx(summary.cost_usd / 18)


def test_concurrency_is_bounded_and_used(tmp_path: Path) -> None:
    run_evaluation(_plan(tmp_path, n=40, concurrency=5))
    assert FlakyRunner.peak == 5


def test_a_run_where_every_request_fails_stops_early(tmp_path: Path) -> None:
    FlakyRunner.script = {f"s{i}": [PermissionError("401 invalid api key")] for i in range(200)}
    with pytest.raises(EvalkitError, match="401 invalid api key"):
        run_evaluation(_plan(tmp_path, n=200, concurrency=2))
    assert sum(FlakyRunner.attempts.values()) < 20


def test_summary_rows_follow_task_order(tmp_path: Path) -> None:
    run_evaluation(_plan(tmp_path, n=30, concurrency=8))
    run = read_run(tmp_path / "run")
    assert sorted(r.task_id for r in run.rows) == sorted(f"s{i}" for i in range(30))
    assert run.summary is not None and run.summary.complete
    assert run.manifest is not None and run.manifest.fingerprint["task"] == "echo"


class BrokenScorer(EchoTask):
    """A task whose scorer has a bug."""

    def score(
        self, sample: Sample, output: str, style: PromptStyle, executor: Executor | None
    ) -> Score:
        raise RuntimeError("scorer bug")


def test_a_scoring_error_is_raised_not_dropped(tmp_path: Path) -> None:
    plan = _plan(tmp_path, n=5)
    plan.task = BrokenScorer(5)
    with pytest.raises(RuntimeError, match="scorer bug"):
        run_evaluation(plan)
    assert not (tmp_path / "run" / "summary.json").exists()
    # What was generated is kept: a fixed scorer resumes without generating again.
    assert len((tmp_path / "run" / "completions.jsonl").read_text().splitlines()) == 5
