"""Metrics over scored samples: pass@k, confidence intervals, cost and latency summaries."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence

import numpy as np

from evalkit.records import SampleRow


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased estimator of pass@k from n samples of which c passed (Chen et al. 2021)."""
    if not 0 <= c <= n or k < 1:
        raise ValueError(f"pass_at_k needs 0 <= c <= n and k >= 1, got n={n}, c={c}, k={k}")
    if k > n:
        raise ValueError(f"pass@{k} needs at least {k} samples per problem, got {n}")
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def wilson_interval(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion."""
    if trials == 0:
        return (0.0, 1.0)
    from scipy.stats import binomtest

    ci = binomtest(successes, trials).proportion_ci(confidence_level=confidence, method="wilson")
    return (float(ci.low), float(ci.high))


def mean_interval(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float]:
    """Student-t interval for the mean of per-problem scores, clipped to [0, 1]."""
    if len(values) < 2:
        return (0.0, 1.0)
    from scipy.stats import t

    arr = np.asarray(values, dtype=float)
    half = (
        float(t.ppf(0.5 + confidence / 2, len(arr) - 1))
        * float(arr.std(ddof=1))
        / math.sqrt(len(arr))
    )
    mean = float(arr.mean())
    return (max(0.0, mean - half), min(1.0, mean + half))


def percentile(values: Sequence[float], q: float) -> float | None:
    return float(np.percentile(np.asarray(values, dtype=float), q)) if values else None


def summarize(
    rows: Iterable[SampleRow], ks: Sequence[int] = (1, 10, 100), *, breakdown: bool = True
) -> dict[str, object]:
    """The figures of one run: pass@k per problem averaged, a 95% CI, counts, cost, latency."""
    by_problem: dict[str, list[SampleRow]] = defaultdict(list)
    for row in rows:
        by_problem[row.task_id].append(row)
    all_rows = [r for group in by_problem.values() for r in group]
    n_problems = len(by_problem)
    per_problem_n = {len(group) for group in by_problem.values()}
    samples_per_task = min(per_problem_n) if per_problem_n else 0
    scores_by_problem = [float(np.mean([r.score for r in g])) for g in by_problem.values()]
    pass1 = float(np.mean(scores_by_problem)) if scores_by_problem else 0.0
    correct = sum(r.passed for r in all_rows)
    if per_problem_n == {1}:
        ci = wilson_interval(correct, n_problems)
    else:
        ci = mean_interval(scores_by_problem)
    summary: dict[str, object] = {
        "n": n_problems,
        "samples_per_task": samples_per_task,
        "n_samples": len(all_rows),
        "correct": correct,
        "pass@1": pass1,
        "accuracy": pass1,
        "ci95": [ci[0], ci[1]],
    }
    for k in ks:
        if 1 < k <= samples_per_task:
            summary[f"pass@{k}"] = float(
                np.mean(
                    [pass_at_k(len(g), sum(r.passed for r in g), k) for g in by_problem.values()]
                )
            )
    costs = [r.cost_usd for r in all_rows]
    total_cost = None if any(c is None for c in costs) else float(sum(c or 0.0 for c in costs))
    latencies = [r.latency_s for r in all_rows if r.generation_error is None]
    summary.update(
        cost_usd=total_cost,
        cost_per_correct_usd=(total_cost / correct) if total_cost is not None and correct else None,
        tokens_in=sum(r.tokens_in for r in all_rows),
        tokens_out=sum(r.tokens_out for r in all_rows),
        latency_p50_s=percentile(latencies, 50),
        latency_p95_s=percentile(latencies, 95),
        generation_errors=sum(r.generation_error is not None for r in all_rows),
        statuses=dict(sorted(_count(r.status for r in all_rows).items())),
    )
    for field in ("subtask", "domain") if breakdown else ():
        groups = _group_by(all_rows, field)
        if groups:
            summary[f"by_{field}"] = {
                name: _brief(summarize(rows, ks=(), breakdown=False))
                for name, rows in sorted(groups.items())
            }
    return summary


BRIEF_KEYS = (
    "n",
    "correct",
    "accuracy",
    "ci95",
    "cost_usd",
    "cost_per_correct_usd",
    "tokens_in",
    "tokens_out",
    "latency_p50_s",
    "latency_p95_s",
)


def _brief(summary: dict[str, object]) -> dict[str, object]:
    return {key: summary[key] for key in BRIEF_KEYS}


def _group_by(rows: list[SampleRow], field: str) -> dict[str, list[SampleRow]]:
    groups: dict[str, list[SampleRow]] = defaultdict(list)
    for row in rows:
        value = getattr(row, field)
        if value is not None:
            groups[value].append(row)
    return dict(groups)


def _count(items: Iterable[str]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for item in items:
        counts[item] += 1
    return dict(counts)
