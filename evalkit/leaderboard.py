"""Leaderboards from finished runs: one per domain, models as rows, with provenance.

A run contributes to each domain its rows belong to (a group such as ``medicine`` to one
domain, per member task). Within a domain, a model's figures pool its rows over the domain's
tasks: accuracy with a Wilson 95% interval, n, total cost, cost per correct answer, latency
p50/p95 and tokens per answer. Runs are comparable only when they ran the same task version
on the same data and sample set with the same prompt style; models whose runs are not are
flagged and left unranked, never averaged in silently. Ranks treat overlapping confidence
intervals as ties: a model's rank is one plus the number of models significantly better.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from evalkit.metrics import wilson_interval
from evalkit.results import Run, find_runs, read_run

COLUMNS = [
    "domain",
    "rank",
    "model",
    "accuracy",
    "ci_low",
    "ci_high",
    "n",
    "correct",
    "cost_usd",
    "cost_per_correct_usd",
    "latency_p50_s",
    "latency_p95_s",
    "tokens_per_answer",
    "weights",
    "hosting",
    "tasks",
    "comparable",
    "note",
]


@dataclass(frozen=True)
class Provenance:
    run: str
    task: str
    task_version: str
    data_checksum: str
    model_spec: str
    prompt_style: str
    sample_ids: str
    date: str

    @property
    def comparability_key(self) -> tuple[str, str, str, str, str]:
        return (
            self.task,
            self.task_version,
            self.data_checksum,
            self.prompt_style,
            self.sample_ids,
        )


def load_runs(paths: list[Path]) -> list[Run]:
    return [read_run(folder) for folder in find_runs(paths)]


def provenance(run: Run) -> Provenance:
    manifest = run.manifest
    summary = run.summary
    assert summary is not None
    fingerprint = manifest.fingerprint if manifest else {}
    return Provenance(
        run=str(run.path),
        task=summary.task,
        task_version=summary.task_version,
        data_checksum=manifest.data_checksum if manifest else "unknown",
        model_spec=manifest.model.get("spec", summary.model) if manifest else summary.model,
        prompt_style=str(fingerprint.get("style", "unknown")),
        sample_ids=str(fingerprint.get("sample_ids", "unknown")),
        date=(manifest.finished_at or manifest.started_at) if manifest else "",
    )


def sample_frame(runs: list[Run]) -> pd.DataFrame:
    """Every scored row of every run, with its run's model, task and provenance."""
    frames = []
    for run in runs:
        if run.summary is None or not run.rows:
            continue
        prov = provenance(run)
        manifest = run.manifest
        model_info = manifest.model if manifest else {}
        frame = pd.DataFrame([row.model_dump() for row in run.rows])
        frame["domain"] = frame["domain"].fillna(run.summary.domain)
        frame["subtask"] = frame["subtask"].fillna(run.summary.task)
        frame["model"] = run.summary.model
        frame["task"] = run.summary.task
        frame["run"] = prov.run
        frame["open_weights"] = bool(model_info.get("open_weights", False))
        frame["self_hosted"] = bool(model_info.get("self_hosted", False)) or bool(
            (manifest.runner if manifest else {}).get("self_hosted", False)
        )
        frame["comparability"] = [prov.comparability_key] * len(frame)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _figures(rows: pd.DataFrame) -> dict[str, Any]:
    n = len(rows)
    correct = int(rows["passed"].sum())
    low, high = wilson_interval(correct, n)
    costs = rows["cost_usd"]
    cost = None if costs.isna().any() else float(costs.sum())
    latencies = rows.loc[rows["generation_error"].isna(), "latency_s"]
    return {
        "accuracy": correct / n if n else 0.0,
        "ci_low": low,
        "ci_high": high,
        "n": n,
        "correct": correct,
        "cost_usd": cost,
        "cost_per_correct_usd": cost / correct if cost is not None and correct else None,
        "latency_p50_s": float(np.percentile(latencies, 50)) if len(latencies) else None,
        "latency_p95_s": float(np.percentile(latencies, 95)) if len(latencies) else None,
        "tokens_per_answer": float(rows["tokens_out"].mean()) if n else None,
    }


def leaderboards(runs: list[Run]) -> pd.DataFrame:
    """The leaderboard of every domain, long format (one row per domain and model)."""
    rows = sample_frame(runs)
    if rows.empty:
        return pd.DataFrame(columns=COLUMNS)
    records = []
    for domain, in_domain in rows.groupby("domain", sort=True):
        reference = _reference_design(in_domain)
        for model, mine in in_domain.groupby("model", sort=True):
            design = {(t, k) for t, k in zip(mine["subtask"], mine["comparability"], strict=True)}
            comparable = design == reference
            note = "" if comparable else "not comparable: " + _difference(design, reference)
            records.append(
                {
                    "domain": domain,
                    "model": model,
                    **_figures(mine),
                    "weights": "open" if mine["open_weights"].all() else "closed",
                    "hosting": "self-hosted" if mine["self_hosted"].all() else "API",
                    "tasks": ", ".join(sorted(set(mine["subtask"]))),
                    "comparable": comparable,
                    "note": note,
                }
            )
    board = pd.DataFrame.from_records(records)
    board["rank"] = _ranks(board)
    return (
        board[COLUMNS]
        .sort_values(
            ["domain", "rank", "accuracy", "model"],
            ascending=[True, True, False, True],
            na_position="last",
        )
        .reset_index(drop=True)
    )


def _reference_design(rows: pd.DataFrame) -> set[tuple[str, Any]]:
    """The (subtask, comparability key) set most models of the domain share."""
    designs: dict[frozenset[tuple[str, Any]], int] = defaultdict(int)
    for _, mine in rows.groupby("model"):
        designs[frozenset(zip(mine["subtask"], mine["comparability"], strict=True))] += 1
    return set(max(designs.items(), key=lambda item: (item[1], len(item[0])))[0])


def _difference(design: set[tuple[str, Any]], reference: set[tuple[str, Any]]) -> str:
    mine, theirs = {t for t, _ in design}, {t for t, _ in reference}
    if mine != theirs:
        return f"different tasks ({', '.join(sorted(mine ^ theirs))})"
    changed = sorted({t for t, k in design} - {t for t, k in design & reference})
    return "different task version, data, sample set or prompt mode in " + ", ".join(changed)


def _ranks(board: pd.DataFrame) -> list[float]:
    ranks: list[float] = []
    for _, row in board.iterrows():
        if not row["comparable"]:
            ranks.append(float("nan"))
            continue
        peers = board[(board["domain"] == row["domain"]) & board["comparable"]]
        better = int((peers["ci_low"] > row["ci_high"]).sum())
        ranks.append(float(1 + better))
    return ranks


def overall(board: pd.DataFrame) -> pd.DataFrame:
    """Models x domains: accuracy where comparable (blank otherwise)."""
    usable = board[board["comparable"]]
    table = usable.pivot_table(index="model", columns="domain", values="accuracy")
    return table.reindex(sorted(table.index))
