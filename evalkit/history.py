"""A model's scores over time, with drift flagged: the continuous re-evaluation of ModelOps.

Runs under a root are grouped by model and task and ordered by date. Each run is compared with
the previous one (or with a pinned baseline run): paired, with the gate's test, when both ran
the same samples; otherwise with Fisher's exact test on the two proportions (scipy). A
difference significant at ``alpha`` (two-sided) is flagged as drift.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from evalkit.errors import EvalkitError
from evalkit.formatting import usd
from evalkit.gate import mcnemar_regression_p, problem_scores
from evalkit.results import Run, find_runs, read_run


@dataclass
class Point:
    model: str
    task: str
    date: str
    run: str
    accuracy: float
    ci95: tuple[float, float]
    n: int
    cost_usd: float | None
    p_value: float | None = None
    drift: bool = False


def _paired_p(a: Run, b: Run) -> float | None:
    sa, sb = problem_scores(a.rows), problem_scores(b.rows)
    if set(sa) != set(sb) or any(len(v) != 1 for v in (*sa.values(), *sb.values())):
        return None
    import numpy as np

    keys = sorted(sa)
    x = np.array([sa[k][0] > 0 for k in keys])
    y = np.array([sb[k][0] > 0 for k in keys])
    worse, _ = mcnemar_regression_p(x, y)
    better, _ = mcnemar_regression_p(y, x)
    return min(1.0, 2 * min(worse, better))


def _unpaired_p(a: Run, b: Run) -> float:
    from scipy.stats import fisher_exact

    sa, sb = a.summary, b.summary
    assert sa is not None and sb is not None
    table = [[sa.correct, sa.n_samples - sa.correct], [sb.correct, sb.n_samples - sb.correct]]
    return float(fisher_exact(table).pvalue)


def history(
    root: Path,
    *,
    model: str | None = None,
    task: str | None = None,
    baseline: Path | None = None,
    alpha: float = 0.05,
) -> list[Point]:
    runs = [read_run(f) for f in find_runs([root])]
    runs = [
        r
        for r in runs
        if r.summary is not None
        and r.manifest is not None
        and (model is None or r.summary.model == model)
        and (task is None or r.summary.task == task)
    ]
    if not runs:
        raise EvalkitError(f"no finished runs under {root} for that model and task")
    pinned = read_run(baseline) if baseline else None
    runs.sort(key=lambda r: (r.summary.model, r.summary.task, r.manifest.started_at))  # type: ignore[union-attr]
    points: list[Point] = []
    previous: Run | None = None
    for run in runs:
        s, m = run.summary, run.manifest
        assert s is not None and m is not None
        if previous is not None and (previous.summary.model, previous.summary.task) != (  # type: ignore[union-attr]
            s.model,
            s.task,
        ):
            previous = None
        reference = pinned or previous
        point = Point(
            s.model,
            s.task,
            m.started_at,
            str(run.path),
            s.accuracy,
            (s.ci95[0], s.ci95[1]),
            s.n,
            s.cost_usd,
        )
        if reference is not None and reference.path != run.path:
            p = _paired_p(reference, run)
            point.p_value = p if p is not None else _unpaired_p(reference, run)
            point.drift = point.p_value < alpha
        points.append(point)
        previous = run
    return points


def history_markdown(points: list[Point]) -> str:
    lines = [
        "| model | task | date | accuracy [95% CI] | n | cost | p vs previous | drift |",
        "|---|---|---|---:|---:|---:|---:|---|",
    ]
    for p in points:
        cost = usd(p.cost_usd)
        pv = "" if p.p_value is None else f"{p.p_value:.4f}"
        lines.append(
            f"| {p.model} | {p.task} | {p.date} | {p.accuracy:.3f} "
            f"[{p.ci95[0]:.3f}, {p.ci95[1]:.3f}] | {p.n} | {cost} | {pv} "
            f"| {'DRIFT' if p.drift else ''} |"
        )
    return "\n".join(lines) + "\n"


def history_plot(points: list[Point], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    series: dict[tuple[str, str], list[Point]] = {}
    for p in points:
        series.setdefault((p.model, p.task), []).append(p)
    for (model, task), items in series.items():
        x = list(range(len(items)))
        y = [p.accuracy for p in items]
        err = [[p.accuracy - p.ci95[0] for p in items], [p.ci95[1] - p.accuracy for p in items]]
        ax.errorbar(x, y, yerr=err, marker="o", capsize=3, label=f"{model} / {task}")
        for i, p in enumerate(items):
            if p.drift:
                ax.annotate(
                    "drift",
                    (i, p.accuracy),
                    color="#d1242f",
                    xytext=(4, -12),
                    textcoords="offset points",
                )
        ax.set_xticks(x, [p.date[:10] for p in items], rotation=30, fontsize=7)
    ax.set_ylabel("accuracy (95% CI)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
