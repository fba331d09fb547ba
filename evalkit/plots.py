"""Pareto plots: cost per correct answer (log axis) against accuracy, frontier drawn."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def pareto_frontier(points: pd.DataFrame) -> pd.DataFrame:
    """The models no other model beats on both cost per correct answer and accuracy."""
    ordered = points.sort_values(["cost_per_correct_usd", "accuracy"], ascending=[True, False])
    frontier, best = [], -1.0
    for _, row in ordered.iterrows():
        if row["accuracy"] > best:
            frontier.append(row)
            best = row["accuracy"]
    return pd.DataFrame(frontier)


def pareto_plot(board: pd.DataFrame, domain: str, out_dir: Path) -> list[Path]:
    """Write ``pareto-<domain>.png`` and ``.svg``; returns the paths (none without costs)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = board[
        (board["domain"] == domain) & board["comparable"] & board["cost_per_correct_usd"].notna()
    ]
    points = points[points["cost_per_correct_usd"] > 0]
    if points.empty:
        return []
    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=110)
    errors = [points["accuracy"] - points["ci_low"], points["ci_high"] - points["accuracy"]]
    ax.errorbar(
        points["cost_per_correct_usd"],
        points["accuracy"],
        yerr=errors,
        fmt="o",
        capsize=3,
        color="#1f6feb",
        ecolor="#8aa4c8",
    )
    frontier = pareto_frontier(points)
    ax.plot(
        frontier["cost_per_correct_usd"],
        frontier["accuracy"],
        "--",
        color="#d1242f",
        label="Pareto frontier",
    )
    for _, row in points.iterrows():
        ax.annotate(
            row["model"],
            (row["cost_per_correct_usd"], row["accuracy"]),
            textcoords="offset points",
            xytext=(5, 5),
            fontsize=8,
        )
    ax.set_xscale("log")
    ax.set_xlabel("cost per correct answer (USD, log scale)")
    ax.set_ylabel("accuracy (95% CI)")
    ax.set_title(f"{domain}: accuracy against cost")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"pareto-{domain}.png", out_dir / f"pareto-{domain}.svg"]
    for path in paths:
        fig.savefig(path, metadata={"Date": None} if path.suffix == ".svg" else None)
    plt.close(fig)
    return paths
