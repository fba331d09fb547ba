"""The generation stage: concurrent requests with retries, rate limits, a budget and a cache.

The engine owns all of it; a runner only answers one request and classifies its errors.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from evalkit.cache import ResponseCache, cache_key
from evalkit.errors import EvalkitError, RunInterrupted
from evalkit.prices import PriceQuote
from evalkit.ratelimit import TokenBucket
from evalkit.records import Completion, CompletionRow, GenerationRequest
from evalkit.results import JsonlAppender
from evalkit.retry import RetryPolicy
from evalkit.runner import Runner

FAIL_FAST_AFTER = 10
"""A run whose first this-many requests all fail for good stops instead of going on."""


class BudgetExhausted(RunInterrupted):
    """The next request could take the run past ``--max-cost``; the run stopped before it."""

    exit_code = 3


class _FailFast:
    def __init__(self) -> None:
        self.successes = 0
        self.failures = 0
        self.last_error = ""

    def record(self, completion: Completion) -> None:
        if completion.error is None:
            self.successes += 1
        else:
            self.failures += 1
            self.last_error = completion.error

    def tripped(self, total: int) -> bool:
        return self.successes == 0 and self.failures >= min(FAIL_FAST_AFTER, total)


def estimate_tokens(request: GenerationRequest) -> tuple[int, int]:
    """An upper estimate of a request's tokens: about 3 characters a token in, max_tokens out."""
    sample = request.sample
    text = (
        "".join(m.content for m in sample.messages) if request.style == "chat" else (sample.prompt)
    )
    return math.ceil(len(text) / 3) + 8, request.params.max_tokens


@dataclass
class Budget:
    """Spending so far and reserved for requests in flight, against a limit in USD."""

    limit_usd: float
    spent_usd: float
    price: PriceQuote
    reserved_usd: float = 0.0
    exhausted: bool = False

    def reserve(self, request: GenerationRequest) -> float | None:
        """Reserve the request's worst-case cost, or None (and stop) if it could exceed."""
        estimate = self.price.cost(*estimate_tokens(request)) or 0.0
        if self.spent_usd + self.reserved_usd + estimate > self.limit_usd:
            self.exhausted = True
            return None
        self.reserved_usd += estimate
        return estimate

    def settle(self, reserved: float, cost: float | None) -> None:
        self.reserved_usd -= reserved
        self.spent_usd += cost or 0.0


@dataclass
class GenerationLimits:
    budget: Budget | None = None
    requests: TokenBucket | None = None
    tokens: TokenBucket | None = None

    @classmethod
    def build(
        cls,
        max_cost_usd: float | None,
        spent_usd: float,
        price: PriceQuote,
        rpm: float | None,
        tpm: float | None,
    ) -> GenerationLimits:
        if max_cost_usd is not None and not price.known:
            raise EvalkitError(
                "--max-cost needs a known price for this model (add one with --catalog)"
            )
        budget = Budget(max_cost_usd, spent_usd, price) if max_cost_usd is not None else None
        return cls(budget, TokenBucket(rpm) if rpm else None, TokenBucket(tpm) if tpm else None)


@dataclass
class GenerationJob:
    runner: Runner
    retry: RetryPolicy
    price: PriceQuote
    cache: ResponseCache | None
    limits: GenerationLimits


async def generate_with_retries(
    runner: Runner, request: GenerationRequest, policy: RetryPolicy
) -> Completion:
    """One completion, retried as the runner's error classification allows."""
    attempt = 0
    while True:
        attempt += 1
        start = time.perf_counter()
        try:
            completion = await runner.generate(request)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            decision = runner.classify_error(exc)
            if not decision.retryable or attempt >= policy.max_attempts:
                return Completion(
                    error=f"{decision.kind.value}: {type(exc).__name__}: {exc}"[:500],
                    attempts=attempt,
                    latency_s=time.perf_counter() - start,
                    cost_usd=0.0,
                )
            await asyncio.sleep(policy.delay(attempt, decision))
            continue
        if completion.latency_s == 0.0:
            completion.latency_s = time.perf_counter() - start
        completion.attempts = attempt
        return completion


async def _fresh_completion(job: GenerationJob, request: GenerationRequest) -> Completion | None:
    """Generate (within the budget and rate limits), or None when the budget stops the run."""
    limits = job.limits
    reserved = 0.0
    if limits.budget is not None:
        reservation = limits.budget.reserve(request)
        if reservation is None:
            return None
        reserved = reservation
    if limits.requests is not None:
        await limits.requests.take(1)
    if limits.tokens is not None:
        await limits.tokens.take(sum(estimate_tokens(request)))
    completion = await generate_with_retries(job.runner, request, job.retry)
    if completion.cost_usd is None and completion.error is None:
        completion.cost_usd = job.price.cost(completion.tokens_in, completion.tokens_out)
    if limits.budget is not None:
        limits.budget.settle(reserved, completion.cost_usd)
    return completion


async def generate_all(
    job: GenerationJob,
    todo: list[GenerationRequest],
    generated_out: JsonlAppender,
    on_generated: Callable[[CompletionRow], None],
) -> None:
    """Generate every request with ``runner.concurrency`` workers; write each as it arrives."""
    queue: asyncio.Queue[GenerationRequest] = asyncio.Queue()
    for request in todo:
        queue.put_nowait(request)
    fail_fast = _FailFast()
    cacheable = job.cache is not None and job.runner.cacheable

    async def worker() -> None:
        while not queue.empty():
            request = queue.get_nowait()
            key = cache_key(job.runner, request) if cacheable else ""
            completion = job.cache.get(key) if job.cache is not None and cacheable else None
            if completion is None:
                completion = await _fresh_completion(job, request)
                if completion is None:
                    return  # over budget: leave the rest for a resumed run
                if job.cache is not None and cacheable:
                    job.cache.put(key, completion)
            fail_fast.record(completion)
            if fail_fast.tripped(len(todo)):
                raise EvalkitError(
                    f"the first {fail_fast.failures} requests all failed; stopping "
                    f"(last error: {fail_fast.last_error})"
                )
            generated = CompletionRow(
                task_id=request.sample.id,
                sample_index=request.sample_index,
                style=request.style,
                completion=completion,
            )
            generated_out.append(generated)
            on_generated(generated)

    n_workers = max(1, min(job.runner.concurrency, len(todo)))
    tasks = [asyncio.create_task(worker()) for _ in range(n_workers)]
    try:
        await asyncio.gather(*tasks)
    finally:
        for t in tasks:
            t.cancel()
    budget = job.limits.budget
    if budget is not None and budget.exhausted:
        raise BudgetExhausted(
            f"stopped before exceeding --max-cost ${budget.limit_usd:g} "
            f"(spent ${budget.spent_usd:.4f}); finished samples are saved: run again with a "
            "higher --max-cost to resume"
        )
