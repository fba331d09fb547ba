"""What a run writes, and the one way to read it back.

A run folder holds ``manifest.json`` (what ran, on what), ``completions.jsonl`` (raw outputs,
written as each is generated), ``samples.jsonl`` (scored rows, appended and flushed as each
finishes) and ``summary.json``. A run killed at any moment resumes from these files: finished
rows are kept, a half-written last line is dropped, and nothing is done twice.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evalkit.errors import EvalkitError, describe_validation_error
from evalkit.records import SCHEMA_VERSION, SampleRow

MANIFEST = "manifest.json"
SUMMARY = "summary.json"
SAMPLES = "samples.jsonl"
COMPLETIONS = "completions.jsonl"

RowT = TypeVar("RowT", bound=BaseModel)


class Manifest(BaseModel):
    """Provenance of a run: enough to say whether two runs can be compared, and to redo one."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int = SCHEMA_VERSION
    run_id: str
    fingerprint: dict[str, Any]
    """What must match for a restarted run to resume this one."""
    evalkit_version: str
    git_commit: str | None
    task: str
    task_version: str
    task_config: dict[str, Any] = Field(default_factory=dict)
    domain: str
    data_checksum: str
    model: dict[str, Any]
    runner: dict[str, Any] = Field(default_factory=dict)
    generation: dict[str, Any]
    samples_per_task: int
    limit: int | None
    seed: int | None
    price: dict[str, Any]
    executor: dict[str, Any] | None = None
    packages: dict[str, str]
    machine: dict[str, Any]
    command: list[str]
    started_at: str
    resumed_at: list[str] = Field(default_factory=list)
    finished_at: str | None = None


class Summary(BaseModel):
    """The headline figures of a run (``summary.json``)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    schema_version: int = SCHEMA_VERSION
    task: str
    task_version: str
    domain: str
    model: str
    provider: str
    n: int
    samples_per_task: int
    n_samples: int
    correct: int
    pass_at_1: float = Field(alias="pass@1")
    accuracy: float
    ci95: tuple[float, float]
    cost_usd: float | None
    cost_per_correct_usd: float | None
    tokens_in: int
    tokens_out: int
    latency_p50_s: float | None
    latency_p95_s: float | None
    generation_errors: int
    statuses: dict[str, int]
    complete: bool = True


class Run(BaseModel):
    """A run as read back from its folder."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    path: Path
    manifest: Manifest | None
    summary: Summary | None
    rows: list[SampleRow]


def write_json_atomic(path: Path, data: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def iter_jsonl(path: Path, model: type[RowT], *, tolerate_torn_tail: bool = True) -> Iterator[RowT]:
    """Rows of a JSONL file. A torn last line (a write cut by a kill) is skipped."""
    if not path.exists():
        return
    with path.open("rb") as handle:
        lines = handle.read().split(b"\n")
    last = len(lines) - 1
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            yield model.model_validate_json(raw)
        except ValidationError as exc:
            if tolerate_torn_tail and number - 1 == last:
                return
            raise EvalkitError(
                f"{path}:{number}: not a valid row ({describe_validation_error(exc)})"
            ) from exc


class JsonlAppender:
    """Appends one JSON line per write, flushed to the OS at once, after repairing a torn tail."""

    def __init__(self, path: Path) -> None:
        self.path = path
        _drop_torn_tail(path)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def append(self, row: BaseModel) -> None:
        os.write(self._fd, (row.model_dump_json() + "\n").encode("utf-8"))

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def _drop_torn_tail(path: Path) -> None:
    if not path.exists() or path.stat().st_size == 0:
        return
    with path.open("rb+") as handle:
        handle.seek(-1, os.SEEK_END)
        if handle.read(1) == b"\n":
            return
        handle.seek(0)
        data = handle.read()
        handle.truncate(data.rfind(b"\n") + 1)


def read_manifest(folder: Path) -> Manifest | None:
    path = folder / MANIFEST
    if not path.exists():
        return None
    try:
        return Manifest.model_validate_json(path.read_bytes())
    except ValidationError as exc:
        raise EvalkitError(
            f"{path}: not an evalkit manifest ({describe_validation_error(exc)})"
        ) from exc


def read_run(folder: str | Path) -> Run:
    """Load a run folder: manifest, summary (if the run finished) and scored rows."""
    path = Path(folder)
    if not path.is_dir():
        raise EvalkitError(f"no run folder at {path}")
    if not (path / MANIFEST).exists() and not (path / SUMMARY).exists():
        raise EvalkitError(f"{path} holds no evalkit run (no {MANIFEST} or {SUMMARY})")
    summary = None
    if (path / SUMMARY).exists():
        try:
            summary = Summary.model_validate_json((path / SUMMARY).read_bytes())
        except ValidationError as exc:
            raise EvalkitError(
                f"{path / SUMMARY}: not an evalkit summary ({describe_validation_error(exc)})"
            ) from exc
    rows = list(iter_jsonl(path / SAMPLES, SampleRow))
    return Run(path=path, manifest=read_manifest(path), summary=summary, rows=rows)


def find_runs(roots: list[Path]) -> list[Path]:
    """Run folders at or below each root (a folder with a summary.json)."""
    found: list[Path] = []
    for root in roots:
        if not root.exists():
            raise EvalkitError(f"no such results folder: {root}")
        if (root / SUMMARY).exists():
            found.append(root)
            continue
        found.extend(sorted(p.parent for p in root.rglob(SUMMARY)))
    return found
