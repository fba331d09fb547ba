"""A Markdown table of runs: model x task, score with CI, n, cost, cost per correct answer."""

from __future__ import annotations

from collections.abc import Sequence

from evalkit.results import Run


def _money(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"${value:.4f}" if value < 100 else f"${value:,.2f}"


def _row(run: Run) -> list[str]:
    s = run.summary
    assert s is not None
    lo, hi = s.ci95
    flag = "" if s.complete else " (incomplete)"
    return [
        s.model,
        s.task,
        f"{s.pass_at_1:.3f} [{lo:.3f}, {hi:.3f}]{flag}",
        str(s.n),
        _money(s.cost_usd),
        _money(s.cost_per_correct_usd),
    ]


def markdown_table(runs: Sequence[Run]) -> str:
    header = ["model", "task", "score [95% CI]", "n", "cost", "cost / correct"]
    body = sorted((_row(r) for r in runs if r.summary is not None), key=lambda r: (r[1], r[0]))
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---", "---", "---:", "---:", "---:", "---:"]) + "|",
        *("| " + " | ".join(cells) + " |" for cells in body),
    ]
    return "\n".join(lines) + "\n"
