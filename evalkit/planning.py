"""Turn what a user asked for (task, model, options) into a ``RunPlan`` the engine runs."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalkit.cache import ResponseCache
from evalkit.executor import Executor
from evalkit.factory import build_runner, build_task, resolve
from evalkit.pipeline import RunPlan, default_run_id, fingerprint, select_samples
from evalkit.prices import quote_price
from evalkit.records import PromptStyle
from evalkit.runner import RunnerOptions

DEFAULT_RESULTS = Path("results")


@dataclass
class RunOptions:
    """The options of ``evalkit run`` that shape a run (everything but task and model)."""

    limit: int | None = None
    samples_per_task: int = 1
    out: Path | None = None
    results_root: Path = DEFAULT_RESULTS
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    seed: int | None = 1234
    stop: tuple[str, ...] = ()
    reasoning_effort: str | None = None
    thinking_budget: int | None = None
    prompt_style: PromptStyle | None = None
    concurrency: int | None = None
    base_url: str | None = None
    request_timeout_s: float = 120.0
    requests_per_minute: float | None = None
    tokens_per_minute: float | None = None
    max_cost_usd: float | None = None
    use_cache: bool = True
    catalog: Path | None = None
    show_progress: bool = True
    runner_extra: dict[str, object] = field(default_factory=dict)


def build_plan(
    task_name: str, model_spec: str, options: RunOptions, executor: Executor | None
) -> RunPlan:
    """A plan for one task x model; ``executor`` is shared by the code tasks of a suite."""
    task = build_task(task_name)
    model = resolve(model_spec, options.catalog)
    runner = build_runner(
        model,
        RunnerOptions(
            concurrency=options.concurrency,
            base_url=options.base_url,
            request_timeout_s=options.request_timeout_s,
            extra=options.runner_extra,
        ),
    )
    runner.check_ready()  # fail fast (a missing key, no weights) before choosing a style
    runner.prompt_style = options.prompt_style or task.choose_style(runner)
    params = task.generation_params(runner.prompt_style)
    temperature = options.temperature
    if temperature is None:
        temperature = 0.8 if options.samples_per_task > 1 else params.temperature
    overrides: dict[str, Any] = {"temperature": temperature, "seed": options.seed}
    for name in ("top_p", "max_tokens", "reasoning_effort", "thinking_budget"):
        if getattr(options, name) is not None:
            overrides[name] = getattr(options, name)
    if options.stop:
        overrides["stop"] = options.stop
    price = quote_price(model)
    if not price.known:
        print(
            f"evalkit: warning: no known price for {model.spec}; cost is not reported",
            file=sys.stderr,
        )
    plan = RunPlan(
        task=task,
        runner=runner,
        executor=executor if task.needs_executor else None,
        out=Path("."),
        params=params.model_copy(update=overrides),
        price=price,
        samples_per_task=options.samples_per_task,
        limit=options.limit,
        show_progress=options.show_progress,
        cache=ResponseCache() if options.use_cache and runner.cacheable else None,
        max_cost_usd=options.max_cost_usd,
        requests_per_minute=options.requests_per_minute,
        tokens_per_minute=options.tokens_per_minute,
    )
    if options.out is not None:
        plan.out = options.out
    else:
        print_ = fingerprint(plan, select_samples(task, options.limit))
        plan.out = options.results_root / default_run_id(task.name, model.spec, print_)
    return plan
