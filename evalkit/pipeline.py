"""The engine: generate completions concurrently, score them, write everything as it finishes.

Generation and scoring overlap: each completion is written to ``completions.jsonl`` as soon as
it arrives and handed to a pool of scoring threads; each scored row is appended to
``samples.jsonl``. A restarted run skips scored rows and scores, without regenerating, the
completions that were generated but not yet scored.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalkit import provenance
from evalkit.cache import ResponseCache
from evalkit.errors import EvalkitError, RunInterrupted
from evalkit.executor import Executor
from evalkit.generation import (
    BudgetExhausted,
    GenerationJob,
    GenerationLimits,
    generate_all,
)
from evalkit.metrics import summarize
from evalkit.prices import PriceQuote
from evalkit.progress import Progress
from evalkit.records import (
    CompletionRow,
    GenerationParams,
    GenerationRequest,
    Sample,
    SampleRow,
    row_key,
)
from evalkit.results import (
    COMPLETIONS,
    MANIFEST,
    SAMPLES,
    SUMMARY,
    JsonlAppender,
    Manifest,
    Summary,
    iter_jsonl,
    read_manifest,
    write_json_atomic,
)
from evalkit.retry import DEFAULT_POLICY, RetryPolicy
from evalkit.runner import Runner
from evalkit.task import Task


@dataclass
class RunPlan:
    """Everything one evaluation of one task by one model needs."""

    task: Task
    runner: Runner
    executor: Executor | None
    out: Path
    params: GenerationParams
    price: PriceQuote
    samples_per_task: int = 1
    limit: int | None = None
    command: list[str] = field(default_factory=lambda: list(sys.argv))
    retry: RetryPolicy = field(default_factory=lambda: DEFAULT_POLICY)
    show_progress: bool = True
    cache: ResponseCache | None = None
    max_cost_usd: float | None = None
    requests_per_minute: float | None = None
    tokens_per_minute: float | None = None


def select_samples(task: Task, limit: int | None) -> list[Sample]:
    samples = list(task.samples())
    return samples[:limit] if limit is not None else samples


def fingerprint(plan: RunPlan, samples: Sequence[Sample]) -> dict[str, Any]:
    """What two invocations must share for the second to resume the first."""
    return {
        "task": plan.task.name,
        "task_version": plan.task.version,
        "task_config": plan.task.config(),
        "model": plan.runner.model.spec,
        "model_id": plan.runner.model.model_id,
        "style": plan.runner.prompt_style,
        "generation": plan.params.model_dump(mode="json"),
        "samples_per_task": plan.samples_per_task,
        "sample_ids": hashlib.sha256("\n".join(s.id for s in samples).encode()).hexdigest(),
    }


def default_run_id(task: str, model: str, print_: dict[str, Any]) -> str:
    digest = hashlib.sha256(json.dumps(print_, sort_keys=True).encode()).hexdigest()[:8]

    def slug(text: str) -> str:
        return "".join(c if c.isalnum() or c in "-_." else "-" for c in text).strip("-.")

    return f"{slug(task)}__{slug(model)}__{digest}"


def _manifest(plan: RunPlan, samples: Sequence[Sample], print_: dict[str, Any]) -> Manifest:
    model = plan.runner.model
    return Manifest(
        run_id=plan.out.name,
        fingerprint=print_,
        evalkit_version=provenance.evalkit_version(),
        git_commit=provenance.git_commit(),
        task=plan.task.name,
        task_version=plan.task.version,
        task_config=plan.task.config(),
        domain=plan.task.domain,
        data_checksum=plan.task.data_checksum(),
        model={
            "spec": model.spec,
            "alias": model.alias,
            "provider": model.provider,
            "model_id": model.model_id,
            "base_url": model.base_url,
            "open_weights": model.open_weights,
            "self_hosted": model.self_hosted,
        },
        runner=plan.runner.describe(),
        generation=plan.params.model_dump(mode="json"),
        samples_per_task=plan.samples_per_task,
        limit=plan.limit,
        seed=plan.params.seed,
        price=plan.price.to_dict(),
        executor=plan.executor.describe() if plan.executor else None,
        packages=provenance.package_versions(),
        machine=provenance.machine(),
        command=plan.command,
        started_at=provenance.now_iso(),
    )


def open_run_folder(plan: RunPlan, samples: Sequence[Sample]) -> Manifest:
    """Create the run folder, or check that an existing one is this same run, and resume it."""
    print_ = fingerprint(plan, samples)
    plan.out.mkdir(parents=True, exist_ok=True)
    existing = read_manifest(plan.out)
    if existing is None:
        manifest = _manifest(plan, samples, print_)
    else:
        if existing.fingerprint != print_:
            changed = sorted(k for k in print_ if existing.fingerprint.get(k) != print_[k])
            raise EvalkitError(
                f"{plan.out} holds a different run (differs in {', '.join(changed)}); "
                "choose another --out"
            )
        manifest = existing.model_copy(
            update={"resumed_at": [*existing.resumed_at, provenance.now_iso()], "finished_at": None}
        )
    write_json_atomic(plan.out / MANIFEST, manifest.model_dump(mode="json"))
    return manifest


def score_one(
    task: Task, executor: Executor | None, sample: Sample, generated: CompletionRow
) -> SampleRow:
    completion = generated.completion
    if completion.error is not None:
        score_value, passed, status, answer = 0.0, False, "generation_error", ""
        error_type, detail = None, completion.error
    else:
        score = task.score(sample, completion.text, generated.style, executor)
        score_value, passed, status, answer = score.value, score.passed, score.status, score.answer
        error_type, detail = score.error_type, score.detail
    return SampleRow(
        task_id=sample.id,
        sample_index=generated.sample_index,
        style=generated.style,
        completion=answer,
        raw_completion=completion.text,
        passed=passed,
        score=score_value,
        status=status,
        error_type=error_type,
        detail=detail[:1000],
        tokens_in=completion.tokens_in,
        tokens_out=completion.tokens_out,
        cost_usd=completion.cost_usd,
        latency_s=completion.latency_s,
        finish_reason=completion.finish_reason,
        generation_error=completion.error,
        attempts=completion.attempts,
        cache_hit=bool(completion.metadata.get("cache_hit", False)),
        usage={k: int(v) for k, v in completion.metadata.get("usage", {}).items()},
        domain=sample.metadata.get("domain"),
        subtask=sample.metadata.get("subtask"),
        answer=answer if sample.metadata.get("extracts_answer") else None,
    )


async def _evaluate(plan: RunPlan, samples: list[Sample], progress: Progress) -> None:
    by_id = {s.id: s for s in samples}
    done = {row.key for row in iter_jsonl(plan.out / SAMPLES, SampleRow)}
    generated_before = list(iter_jsonl(plan.out / COMPLETIONS, CompletionRow))
    pending_scores = {
        row_key(r.task_id, r.sample_index): r
        for r in generated_before
        if row_key(r.task_id, r.sample_index) not in done and r.task_id in by_id
    }
    todo = [
        GenerationRequest(
            sample=s, sample_index=i, style=plan.runner.prompt_style, params=plan.params
        )
        for s in samples
        for i in range(plan.samples_per_task)
        if row_key(s.id, i) not in done and row_key(s.id, i) not in pending_scores
    ]
    progress.advance(len(done))
    loop = asyncio.get_running_loop()
    workers = plan.executor.parallelism if plan.executor else 2
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="evalkit-score")
    scored_out = JsonlAppender(plan.out / SAMPLES)
    generated_out = JsonlAppender(plan.out / COMPLETIONS)
    scoring: set[asyncio.Future[SampleRow]] = set()
    failures: list[BaseException] = []

    def submit_score(generated: CompletionRow) -> None:
        future = loop.run_in_executor(
            pool, score_one, plan.task, plan.executor, by_id[generated.task_id], generated
        )
        scoring.add(future)

        def finished(fut: asyncio.Future[SampleRow]) -> None:
            scoring.discard(fut)
            if fut.cancelled():
                return
            error = fut.exception()
            if error is not None:
                failures.append(error)  # raised below, never dropped with its row
                return
            row = fut.result()
            scored_out.append(row)
            progress.advance(1, cost=row.cost_usd, tokens=row.tokens_in + row.tokens_out)

        future.add_done_callback(finished)

    try:
        for generated in pending_scores.values():
            submit_score(generated)
        spent = sum(
            r.completion.cost_usd or 0.0
            for r in generated_before
            if not r.completion.metadata.get("cache_hit")
        )
        limits = GenerationLimits.build(
            plan.max_cost_usd, spent, plan.price, plan.requests_per_minute, plan.tokens_per_minute
        )
        stopped: BudgetExhausted | None = None
        try:
            await generate_all(
                GenerationJob(plan.runner, plan.retry, plan.price, plan.cache, limits),
                todo,
                generated_out,
                submit_score,
            )
        except BudgetExhausted as exc:
            stopped = exc  # score what was generated, then stop
        while scoring:
            await asyncio.gather(*list(scoring), return_exceptions=True)
        if failures:
            raise failures[0]
        if stopped is not None:
            raise stopped
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        scored_out.close()
        generated_out.close()


def run_evaluation(plan: RunPlan) -> Summary:
    """Run (or resume) one evaluation and return its summary."""
    samples = select_samples(plan.task, plan.limit)
    if not samples:
        raise EvalkitError(f"task {plan.task.name!r} produced no samples")
    plan.runner.check_ready()
    manifest = open_run_folder(plan, samples)
    total = len(samples) * plan.samples_per_task
    with Progress(
        total, f"{plan.task.name} x {plan.runner.model.label}", enabled=plan.show_progress
    ) as progress:
        stopped: BudgetExhausted | None = None
        try:
            asyncio.run(_run_and_close(plan, samples, progress))
        except KeyboardInterrupt:
            raise RunInterrupted(
                f"interrupted; finished samples are saved in {plan.out}: "
                "run the same command again to resume"
            ) from None
        except BudgetExhausted as exc:
            stopped = exc
    summary = build_summary(
        plan.task,
        runner=plan.runner,
        out=plan.out,
        samples=samples,
        samples_per_task=plan.samples_per_task,
    )
    write_json_atomic(plan.out / SUMMARY, summary.model_dump(mode="json", by_alias=True))
    if stopped is not None:
        raise stopped
    # The runner's description now includes what it measured (throughput, memory, devices).
    manifest = manifest.model_copy(
        update={"finished_at": provenance.now_iso(), "runner": plan.runner.describe()}
    )
    write_json_atomic(plan.out / MANIFEST, manifest.model_dump(mode="json"))
    return summary


async def _run_and_close(plan: RunPlan, samples: list[Sample], progress: Progress) -> None:
    try:
        await _evaluate(plan, samples, progress)
    finally:
        await plan.runner.aclose()


def build_summary(
    task: Task,
    *,
    runner: Runner | None,
    out: Path,
    samples: Sequence[Sample],
    samples_per_task: int,
    model_label: str | None = None,
    provider: str | None = None,
) -> Summary:
    """Summarise the scored rows of a run folder, in the task's sample order."""
    order = {s.id: i for i, s in enumerate(samples)}
    rows = {r.key: r for r in iter_jsonl(out / SAMPLES, SampleRow) if r.task_id in order}
    ordered = sorted(rows.values(), key=lambda r: (order[r.task_id], r.sample_index))
    figures = summarize(ordered)
    return Summary.model_validate(
        {
            "task": task.name,
            "task_version": task.version,
            "domain": task.domain,
            "model": model_label or (runner.model.label if runner else "unknown"),
            "provider": provider or (runner.model.provider if runner else "unknown"),
            **figures,
            "complete": len(ordered) == len(samples) * samples_per_task,
        }
    )
