"""Build tasks, runners and executors by name, through the registries."""

from __future__ import annotations

from pathlib import Path

from evalkit.catalog import load_catalog, resolve_model
from evalkit.errors import EvalkitError
from evalkit.executor import Executor, Limits
from evalkit.registry import RUNNERS, TASKS
from evalkit.runner import ModelSpec, Runner, RunnerOptions
from evalkit.task import Task


def build_task(name: str) -> Task:
    """A task by registered name (``name:arg`` passes ``arg`` to a parameterised task), or a
    team's own task from a YAML file (``./contracts.yaml``)."""
    if name.endswith((".yaml", ".yml")):
        from evalkit.yaml_task import YamlTask

        path = Path(name)
        if not path.is_file():
            raise EvalkitError(f"task file not found: {name}")
        return YamlTask(path)
    base, sep, arg = name.partition(":")
    factory = TASKS.get(base)
    try:
        task = factory(arg) if sep else factory()
    except TypeError as exc:
        raise EvalkitError(f"task {base!r} takes no argument (got {name!r})") from exc
    if not isinstance(task, Task):
        raise EvalkitError(f"task {name!r} is not an evalkit Task")
    return task


def resolve(spec: str, catalog_file: Path | None = None) -> ModelSpec:
    return resolve_model(spec, load_catalog(catalog_file))


def build_runner(model: ModelSpec, options: RunnerOptions) -> Runner:
    runner_cls = RUNNERS.get(model.provider)
    runner = runner_cls(model, options)
    if not isinstance(runner, Runner):
        raise EvalkitError(f"runner {model.provider!r} is not an evalkit Runner")
    return runner


def build_executor(sandbox: str = "auto", timeout_s: float | None = None) -> Executor:
    """The sandboxed executor at the chosen level (see ``evalkit.sandbox``)."""
    from evalkit.sandbox import create_executor

    limits = Limits() if timeout_s is None else Limits(timeout_s=timeout_s)
    return create_executor(sandbox, limits)
