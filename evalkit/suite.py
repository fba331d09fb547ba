"""Suite runs: every task x model pair, providers in parallel, one folder per pair.

Pairs of the same provider run one after another (they share its rate limits); different
providers run at the same time, each in a thread with its own event loop. A pair that fails
(a bad key, an exhausted quota) is recorded in ``suite.json`` and the others go on. Running the
same suite again resumes every unfinished pair and skips finished ones.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from evalkit.errors import EvalkitError, describe_validation_error
from evalkit.executor import Executor
from evalkit.factory import resolve
from evalkit.pipeline import run_evaluation
from evalkit.planning import RunOptions, build_plan
from evalkit.results import write_json_atomic


class SuiteFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tasks: list[str]
    models: list[str]
    name: str | None = None


@dataclass
class PairOutcome:
    task: str
    model: str
    folder: str
    status: str
    detail: str = ""


def read_suite_file(path: Path) -> SuiteFile:
    try:
        return SuiteFile.model_validate(yaml.safe_load(path.read_text()))
    except (yaml.YAMLError, OSError) as exc:
        raise EvalkitError(f"{path}: cannot read the suite ({exc})") from exc
    except ValidationError as exc:
        raise EvalkitError(f"{path}: {describe_validation_error(exc)}") from exc


def suite_folder(root: Path, tasks: list[str], models: list[str]) -> Path:
    digest = hashlib.sha256(json.dumps([tasks, models]).encode()).hexdigest()[:8]
    return root / f"suite-{digest}"


def pair_folder(task: str, model: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in f"{task}__{model}")


def run_suite(
    tasks: list[str], models: list[str], options: RunOptions, out: Path, executor: Executor | None
) -> list[PairOutcome]:
    by_provider: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for model in models:
        provider = resolve(model, options.catalog).provider
        for task in tasks:
            by_provider[provider].append((task, model))
    out.mkdir(parents=True, exist_ok=True)
    quiet = replace(options, show_progress=options.show_progress and len(by_provider) == 1)

    def run_provider(pairs: list[tuple[str, str]]) -> list[PairOutcome]:
        outcomes = []
        for task, model in pairs:
            folder = out / pair_folder(task, model)
            try:
                plan = build_plan(task, model, replace(quiet, out=folder), executor)
                summary = run_evaluation(plan)
                outcomes.append(
                    PairOutcome(
                        task, model, folder.name, "finished", f"accuracy {summary.accuracy:.3f}"
                    )
                )
            except EvalkitError as exc:
                outcomes.append(PairOutcome(task, model, folder.name, "failed", str(exc)))
        return outcomes

    with ThreadPoolExecutor(max_workers=len(by_provider)) as pool:
        results = [o for group in pool.map(run_provider, by_provider.values()) for o in group]
    write_json_atomic(
        out / "suite.json",
        {
            "tasks": tasks,
            "models": models,
            "pairs": [o.__dict__ for o in results],
        },
    )
    return results
