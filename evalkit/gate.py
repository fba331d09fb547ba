"""The CI gate: is the candidate significantly worse than the baseline on the same samples?

Per task, and per domain where a domain spans several tasks, the candidate's and baseline's
results are paired sample by sample. With one pass/fail sample per problem and no margin, the
test is McNemar's exact test (a one-sided binomial test on the discordant pairs, from scipy).
With several samples per problem (pass@k), other scores, or a margin, it is a paired bootstrap
over problems of the per-problem score difference, one-sided. Holm's correction controls the
family-wise error across everything compared. A regression is significant when the candidate
is worse by more than ``margin`` at level ``alpha`` after correction.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from evalkit.errors import EvalkitError
from evalkit.formatting import usd
from evalkit.records import SampleRow
from evalkit.results import Run, find_runs, read_run

BOOTSTRAP_REPLICATES = 10_000


class NotComparable(EvalkitError):
    """The runs cannot be compared (exit status 2)."""

    exit_code = 2


@dataclass
class Comparison:
    scope: str
    """A task name, or ``domain:<name>``."""
    method: str
    n: int
    baseline: float
    candidate: float
    p_value: float
    adjusted_p: float = 1.0
    regression: bool = False
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def delta(self) -> float:
        return self.candidate - self.baseline


def mcnemar_regression_p(base: np.ndarray, cand: np.ndarray) -> tuple[float, dict[str, int]]:
    """One-sided exact McNemar p-value that the candidate passes less often than the baseline."""
    from scipy.stats import binomtest

    only_base = int(np.sum(base & ~cand))
    only_cand = int(np.sum(~base & cand))
    discordant = only_base + only_cand
    counts = {"baseline_only": only_base, "candidate_only": only_cand}
    if discordant == 0:
        return 1.0, counts
    return float(binomtest(only_base, discordant, 0.5, alternative="greater").pvalue), counts


def bootstrap_regression_p(
    base: np.ndarray, cand: np.ndarray, margin: float, seed: int = 0
) -> float:
    """One-sided paired-bootstrap p-value that mean(cand - base) < -margin."""
    diff = cand.astype(float) - base.astype(float)
    rng = np.random.default_rng(seed)
    index = rng.integers(0, len(diff), size=(BOOTSTRAP_REPLICATES, len(diff)))
    means = diff[index].mean(axis=1)
    # Shift the bootstrap distribution to the null's boundary (mean difference = -margin).
    shifted = means - diff.mean() - margin
    return float((np.sum(shifted <= diff.mean()) + 1) / (BOOTSTRAP_REPLICATES + 1))


def holm(p_values: list[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (the step-down procedure, monotone)."""
    order = np.argsort(p_values)
    adjusted = np.empty(len(p_values))
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, (len(p_values) - rank) * p_values[index])
        adjusted[index] = min(1.0, running)
    return [float(p) for p in adjusted]


def compare_scores(
    scope: str, base: dict[str, list[float]], cand: dict[str, list[float]], margin: float
) -> Comparison:
    """Compare per-problem scores (several samples each) of two runs on the same problems."""
    problems = sorted(base)
    binary = all(len(base[p]) == len(cand[p]) == 1 for p in problems) and all(
        v in (0.0, 1.0) for p in problems for v in (*base[p], *cand[p])
    )
    b = np.array([np.mean(base[p]) for p in problems])
    c = np.array([np.mean(cand[p]) for p in problems])
    if binary and margin == 0:
        p_value, counts = mcnemar_regression_p(b.astype(bool), c.astype(bool))
        return Comparison(
            scope,
            "mcnemar-exact",
            len(problems),
            float(b.mean()),
            float(c.mean()),
            p_value,
            details=counts,
        )
    return Comparison(
        scope,
        "paired-bootstrap",
        len(problems),
        float(b.mean()),
        float(c.mean()),
        bootstrap_regression_p(b, c, margin),
    )


def _runs_by_task(path: Path) -> dict[str, Run]:
    runs = {}
    for folder in find_runs([path]):
        run = read_run(folder)
        if run.summary is not None:
            runs[run.summary.task] = run
    if not runs:
        raise EvalkitError(f"no finished runs under {path}")
    return runs


def _check_comparable(task: str, base: Run, cand: Run) -> None:
    b, c = base.manifest, cand.manifest
    if b is None or c is None:
        raise NotComparable(f"{task}: a run has no manifest, so it cannot be compared")
    for label, x, y in (
        ("task version", b.task_version, c.task_version),
        ("data checksum", b.data_checksum, c.data_checksum),
        ("sample set", b.fingerprint.get("sample_ids"), c.fingerprint.get("sample_ids")),
        ("samples per task", b.samples_per_task, c.samples_per_task),
    ):
        if x != y:
            raise NotComparable(f"{task}: runs differ in {label} ({x} vs {y}); not comparable")


def problem_scores(rows: list[SampleRow]) -> dict[str, list[float]]:
    by_problem: dict[str, list[float]] = defaultdict(list)
    for row in rows:
        by_problem[row.task_id].append(row.score)
    return dict(by_problem)


@dataclass
class GateResult:
    comparisons: list[Comparison]
    costs: dict[str, dict[str, float | None]]
    alpha: float
    margin: float
    cost_regression: bool = False

    @property
    def regressed(self) -> bool:
        return self.cost_regression or any(c.regression for c in self.comparisons)

    def to_json(self) -> dict[str, Any]:
        return {
            "alpha": self.alpha,
            "margin": self.margin,
            "regressed": self.regressed,
            "cost_regression": self.cost_regression,
            "costs": self.costs,
            "comparisons": [{**asdict(c), "delta": c.delta} for c in self.comparisons],
        }


def run_gate(
    baseline: Path,
    candidate: Path,
    *,
    alpha: float = 0.05,
    margin: float = 0.0,
    tasks: list[str] | None = None,
    max_cost_increase: float | None = None,
) -> GateResult:
    base_runs, cand_runs = _runs_by_task(baseline), _runs_by_task(candidate)
    shared = sorted(set(base_runs) & set(cand_runs))
    if tasks:
        missing = sorted(set(tasks) - set(shared))
        if missing:
            raise NotComparable(f"task(s) not in both runs: {', '.join(missing)}")
        shared = sorted(tasks)
    if not shared:
        raise NotComparable("the baseline and the candidate share no task")
    comparisons: list[Comparison] = []
    domain_scores: dict[str, tuple[dict[str, list[float]], dict[str, list[float]]]] = {}
    domain_members: dict[str, set[str]] = defaultdict(set)
    costs: dict[str, dict[str, float | None]] = {}
    for task in shared:
        base, cand = base_runs[task], cand_runs[task]
        _check_comparable(task, base, cand)
        b_scores, c_scores = problem_scores(base.rows), problem_scores(cand.rows)
        if set(b_scores) != set(c_scores):
            raise NotComparable(f"{task}: the runs scored different samples")
        comparisons.append(compare_scores(task, b_scores, c_scores, margin))
        for row in base.rows:
            domain = row.domain or (base.summary.domain if base.summary else "unknown")
            pooled = domain_scores.setdefault(domain, ({}, {}))
            key = f"{task}/{row.task_id}"
            pooled[0][key] = b_scores[row.task_id]
            pooled[1][key] = c_scores[row.task_id]
            domain_members[domain].add(row.subtask or task)
        costs[task] = _cost_figures(base, cand)
    for domain, (b_scores, c_scores) in sorted(domain_scores.items()):
        if len(domain_members[domain]) > 1:
            comparisons.append(compare_scores(f"domain:{domain}", b_scores, c_scores, margin))
    for comparison, adjusted in zip(
        comparisons, holm([c.p_value for c in comparisons]), strict=True
    ):
        comparison.adjusted_p = adjusted
        comparison.regression = adjusted < alpha and comparison.delta < -margin
    result = GateResult(comparisons, costs, alpha, margin)
    if max_cost_increase is not None:
        result.cost_regression = any(
            f["baseline_cost_usd"] is not None
            and f["candidate_cost_usd"] is not None
            and f["candidate_cost_usd"] > f["baseline_cost_usd"] * (1 + max_cost_increase)
            for f in costs.values()
        )
    return result


def _cost_figures(base: Run, cand: Run) -> dict[str, float | None]:
    b, c = base.summary, cand.summary
    assert b is not None and c is not None
    return {
        "baseline_cost_usd": b.cost_usd,
        "candidate_cost_usd": c.cost_usd,
        "baseline_cost_per_correct_usd": b.cost_per_correct_usd,
        "candidate_cost_per_correct_usd": c.cost_per_correct_usd,
        "baseline_latency_p50_s": b.latency_p50_s,
        "candidate_latency_p50_s": c.latency_p50_s,
    }


def gate_markdown(result: GateResult) -> str:
    verdict = "**regression**" if result.regressed else "no significant regression"
    lines = [
        f"### evalkit gate: {verdict}",
        "",
        f"alpha {result.alpha:g} (Holm-corrected), margin {result.margin:g}",
        "",
        "| scope | n | baseline | candidate | delta | test | p (Holm) | verdict |",
        "|---|---:|---:|---:|---:|---|---:|---|",
    ]
    for c in result.comparisons:
        lines.append(
            f"| {c.scope} | {c.n} | {c.baseline:.3f} | {c.candidate:.3f} "
            f"| {c.delta:+.3f} | {c.method} | {c.adjusted_p:.4f} "
            f"| {'REGRESSION' if c.regression else 'ok'} |"
        )
    lines += [
        "",
        "| task | cost (baseline -> candidate) | cost / correct | latency p50 |",
        "|---|---|---|---|",
    ]
    for task, f in result.costs.items():
        b_lat, c_lat = f["baseline_latency_p50_s"], f["candidate_latency_p50_s"]
        latency = "n/a" if b_lat is None or c_lat is None else f"{b_lat:.2f}s -> {c_lat:.2f}s"
        lines.append(
            f"| {task} | {usd(f['baseline_cost_usd'])} -> "
            f"{usd(f['candidate_cost_usd'])} | "
            f"{usd(f['baseline_cost_per_correct_usd'])} -> "
            f"{usd(f['candidate_cost_per_correct_usd'])} | {latency} |"
        )
    if result.cost_regression:
        lines += ["", "Cost increased beyond --max-cost-increase."]
    return "\n".join(lines) + "\n"
