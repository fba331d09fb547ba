"""The ``evalkit`` command line. Imports stay inside the commands so that ``--help`` is fast."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _add_run_parser(sub: Any) -> None:
    run = sub.add_parser(
        "run", help="evaluate models on tasks: one pair or a suite (resumes an interrupted run)"
    )
    run.add_argument("--task", help="task name(s), comma-separated (see `evalkit tasks`)")
    run.add_argument(
        "--model",
        help="model(s), comma-separated: catalog alias, provider:model-id, or runner name",
    )
    run.add_argument("--suite", type=Path, help="a YAML file with `tasks:` and `models:` lists")
    run.add_argument("--limit", type=_positive_int, help="only the first N samples")
    run.add_argument(
        "--samples-per-task",
        type=_positive_int,
        default=1,
        metavar="N",
        help="completions per sample, for pass@k (default 1)",
    )
    run.add_argument("--out", type=Path, help="run folder (default results/<run-id>/)")
    run.add_argument(
        "--temperature",
        type=float,
        help="sampling temperature (default 0, or 0.8 with --samples-per-task > 1)",
    )
    run.add_argument("--top-p", type=float)
    run.add_argument("--max-tokens", type=_positive_int)
    run.add_argument("--seed", type=int, default=1234)
    run.add_argument("--concurrency", type=_positive_int, help="requests in flight at once")
    run.add_argument("--base-url", help="server URL for OpenAI-compatible and other runners")
    run.add_argument("--timeout", type=float, help="seconds per test program (code tasks)")
    run.add_argument(
        "--sandbox",
        choices=["auto", "namespaces", "rlimits"],
        default="auto",
        help="isolation of generated code (default: namespaces where available)",
    )
    run.add_argument("--catalog", type=Path, help="a YAML file of extra model aliases and prices")
    run.add_argument(
        "--data-dir",
        type=Path,
        help="benchmark files in their released formats ($EVALKIT_DATA_DIR)",
    )
    run.add_argument(
        "--prompt-style",
        choices=["chat", "completion", "fim", "logprob"],
        help="override how the model is prompted",
    )
    run.add_argument(
        "--mc-mode",
        choices=["generate", "logprob"],
        help="multiple choice: the model writes the letter (default), or the most likely "
        "option by log-likelihood (local models)",
    )
    run.add_argument("--shots", type=int, help="few-shot examples (gsm8k: 0 to 8, default 8)")
    run.add_argument("--stop", action="append", help="a stop sequence (repeatable)")
    run.add_argument("--reasoning-effort", help="OpenAI/Mistral reasoning effort")
    run.add_argument("--thinking-budget", type=_positive_int, help="Anthropic thinking tokens")
    run.add_argument(
        "--request-timeout",
        type=float,
        default=120.0,
        help="seconds before a request is abandoned and retried (default 120)",
    )
    run.add_argument("--rpm", type=float, help="requests per minute at most")
    run.add_argument("--tpm", type=float, help="tokens per minute at most (estimated)")
    run.add_argument(
        "--max-cost",
        type=float,
        metavar="USD",
        help="stop (resumably) before the run's spending would exceed this",
    )
    run.add_argument("--no-cache", action="store_true", help="bypass the response cache")
    local = run.add_argument_group("local models (hf:)")
    local.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: a GPU if there is one)")
    local.add_argument("--batch-size", default="auto", help="a number, or auto (default)")
    local.add_argument(
        "--trust-remote-code",
        action="store_true",
        help="let transformers run the model repository's own code",
    )
    local.add_argument(
        "--gpu-hourly-usd",
        type=float,
        help="price of one device-hour (default: a market rate for the device)",
    )
    local.add_argument("--fim-format", help="force a FIM prompt format (see evalkit.fim)")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="evalkit",
        description="Evaluate open and closed models on the same tasks; "
        "report accuracy and cost per correct answer.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    _add_run_parser(sub)

    score = sub.add_parser("score", help="score completions produced elsewhere")
    score.add_argument("--task", required=True)
    score.add_argument(
        "--samples", required=True, type=Path, help="JSONL rows with task_id and completion"
    )
    score.add_argument("--out", required=True, type=Path)
    score.add_argument(
        "--style",
        choices=["completion", "chat"],
        default="completion",
        help="completion: continuations of the prompt; chat: whole replies",
    )
    score.add_argument("--model", default="external", help="label for the report")
    score.add_argument("--timeout", type=float, help="seconds per test program")
    score.add_argument("--sandbox", choices=["auto", "namespaces", "rlimits"], default="auto")

    sandbox = sub.add_parser("sandbox", help="show the code sandbox's level and active layers")
    sandbox.add_argument("--sandbox", choices=["auto", "namespaces", "rlimits"], default="auto")

    sub.add_parser("tasks", help="list the registered tasks")
    models = sub.add_parser("models", help="list the catalog's models with their prices")
    models.add_argument("--catalog", type=Path)

    report = sub.add_parser("report", help="leaderboards per domain (Markdown, HTML, CSV, Parquet)")
    report.add_argument("runs", nargs="+", type=Path, help="run folders, or folders holding runs")
    report.add_argument("--format", default="md", help="comma-separated: md, html, csv, parquet")
    report.add_argument(
        "--out", type=Path, help="write the files here (default: Markdown on stdout)"
    )
    _add_bar_options(report)

    gate = sub.add_parser("gate", help="exit 1 when a candidate is significantly worse")
    gate.add_argument("--baseline", required=True, type=Path, help="a run or suite folder")
    gate.add_argument("--candidate", required=True, type=Path, help="a run or suite folder")
    gate.add_argument("--alpha", type=float, default=0.05)
    gate.add_argument(
        "--margin",
        type=float,
        default=0.0,
        help="tolerated drop in accuracy before it counts as a regression",
    )
    gate.add_argument("--task", action="append", help="compare only this task (repeatable)")
    gate.add_argument(
        "--max-cost-increase",
        type=float,
        metavar="FRACTION",
        help="also fail when a task's cost grows by more than this (0.2 = 20%%)",
    )
    gate.add_argument("--json", type=Path, help="write every figure here as JSON")

    history = sub.add_parser("history", help="a model's scores over time, drift flagged")
    history.add_argument("root", type=Path)
    history.add_argument("--model")
    history.add_argument("--task")
    history.add_argument("--baseline", type=Path, help="compare every run with this one")
    history.add_argument("--alpha", type=float, default=0.05)
    history.add_argument("--plot", type=Path, help="write the series as a PNG")

    portfolio = sub.add_parser("portfolio", help="the cheapest model per domain that meets a bar")
    portfolio.add_argument("runs", nargs="+", type=Path)
    _add_bar_options(portfolio)
    return parser


def run_options(args: argparse.Namespace) -> Any:
    from evalkit.planning import RunOptions

    return RunOptions(
        limit=args.limit,
        samples_per_task=args.samples_per_task,
        out=args.out,
        temperature=args.temperature,
        top_p=args.top_p,
        max_tokens=args.max_tokens,
        seed=args.seed,
        stop=tuple(args.stop or ()),
        reasoning_effort=args.reasoning_effort,
        thinking_budget=args.thinking_budget,
        prompt_style="logprob" if args.mc_mode == "logprob" else args.prompt_style,
        concurrency=args.concurrency,
        base_url=args.base_url,
        request_timeout_s=args.request_timeout,
        requests_per_minute=args.rpm,
        tokens_per_minute=args.tpm,
        max_cost_usd=args.max_cost,
        use_cache=not args.no_cache,
        catalog=args.catalog,
        show_progress=not args.no_progress,
    )


def cmd_run(args: argparse.Namespace) -> int:
    from evalkit.errors import EvalkitError
    from evalkit.factory import build_executor, build_task
    from evalkit.task import DATA_DIR_ENV, SHOTS_ENV

    if args.data_dir is not None:
        os.environ[DATA_DIR_ENV] = str(args.data_dir.resolve())
    if args.shots is not None:
        os.environ[SHOTS_ENV] = str(args.shots)
    if args.suite is not None:
        from evalkit.suite import read_suite_file

        suite = read_suite_file(args.suite)
        tasks, models = suite.tasks, suite.models
    else:
        if not args.task or not args.model:
            raise EvalkitError("run needs --task and --model (or --suite FILE)")
        tasks = [t.strip() for t in args.task.split(",") if t.strip()]
        models = [m.strip() for m in args.model.split(",") if m.strip()]
    needs_executor = any(build_task(t).needs_executor for t in tasks)
    executor = build_executor(args.sandbox, args.timeout) if needs_executor else None
    try:
        if len(tasks) == 1 and len(models) == 1 and args.suite is None:
            return _run_one(tasks[0], models[0], args, executor)
        return _run_suite(tasks, models, args, executor)
    finally:
        if executor is not None:
            executor.close()


def _run_one(task: str, model: str, args: argparse.Namespace, executor: Any) -> int:
    from evalkit.pipeline import run_evaluation
    from evalkit.planning import build_plan

    plan = build_plan(task, model, run_options(args), executor)
    summary = run_evaluation(plan)
    _print_summary(summary.model_dump(by_alias=True), plan.out)
    return 0


def _run_suite(tasks: list[str], models: list[str], args: argparse.Namespace, executor: Any) -> int:
    from evalkit.planning import DEFAULT_RESULTS
    from evalkit.suite import run_suite, suite_folder

    out = args.out or suite_folder(DEFAULT_RESULTS, tasks, models)
    outcomes = run_suite(tasks, models, run_options(args), out, executor)
    for outcome in outcomes:
        print(f"{outcome.status:<9} {outcome.task} x {outcome.model}: {outcome.detail}")
    print(f"suite: {out}")
    failed = [o for o in outcomes if o.status != "finished"]
    return 1 if failed else 0


def _print_summary(summary: dict[str, Any], out: Path) -> None:
    lo, hi = summary["ci95"]
    cost = summary["cost_usd"]
    per = summary["cost_per_correct_usd"]
    print(
        f"{summary['task']} x {summary['model']}: pass@1 = {summary['pass@1']:.3f} "
        f"[{lo:.3f}, {hi:.3f}] on n = {summary['n']}"
        + "".join(
            f", {k} = {v:.3f}"
            for k, v in summary.items()
            if k.startswith("pass@") and k != "pass@1"
        )
    )
    print(
        "cost: "
        + ("n/a" if cost is None else f"${cost:.4f}")
        + ", per correct answer: "
        + ("n/a" if per is None else f"${per:.6f}")
        + f"; tokens in/out: {summary['tokens_in']}/{summary['tokens_out']}"
    )
    print(f"results: {out}")


def cmd_score(args: argparse.Namespace) -> int:
    from evalkit.factory import build_executor, build_task
    from evalkit.scoring import score_file

    task = build_task(args.task)
    executor = build_executor(args.sandbox, args.timeout) if task.needs_executor else None
    try:
        summary = score_file(
            task, args.samples, args.out, executor, style=args.style, model_label=args.model
        )
    finally:
        if executor is not None:
            executor.close()
    _print_summary(summary.model_dump(by_alias=True), args.out)
    return 0


def cmd_sandbox(args: argparse.Namespace) -> int:
    from evalkit.factory import build_executor

    with build_executor(args.sandbox) as executor:
        info = executor.describe()
        print(f"level: {info['level']} ({info['parallelism']} workers)")
        for layer in info.get("layers", []):  # type: ignore[attr-defined]
            print(f"  - {layer}")
        result = executor.run("assert sum(range(10)) == 45\n")
        print(f"self-check: {result.status}")
    return 0 if result.passed else 1


def cmd_tasks(_: argparse.Namespace) -> int:
    from evalkit.registry import TASKS, describe

    for name in TASKS.names():
        task_cls = TASKS.get(name)
        print(
            f"{name:<24} v{getattr(task_cls, 'version', '?'):<4} "
            f"{getattr(task_cls, 'domain', ''):<10} {describe(task_cls)}"
        )
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from evalkit.catalog import load_catalog, resolve_model
    from evalkit.prices import quote_price

    catalog = load_catalog(args.catalog)
    print(f"{'alias':<20} {'provider':<10} {'model id':<28} {'$/M in':>8} {'$/M out':>8}  source")
    for alias in sorted(catalog):
        model = resolve_model(alias, catalog)
        quote = quote_price(model)

        def fmt(v: float | None) -> str:
            return "n/a" if v is None else f"{v:.2f}"

        print(
            f"{alias:<20} {model.provider:<10} {model.model_id:<28} "
            f"{fmt(quote.input_per_mtok):>8} {fmt(quote.output_per_mtok):>8}  {quote.source}"
        )
    print(
        "\nAlso: provider:model-id for any model of a registered runner "
        "(e.g. openai:gpt-4o-mini, hf:./checkpoint)."
    )
    return 0


def _add_bar_options(parser: argparse.ArgumentParser) -> None:
    bar = parser.add_mutually_exclusive_group()
    bar.add_argument("--min-accuracy", type=float, help="the bar: at least this accuracy")
    bar.add_argument("--within-best", type=float, help="the bar: within this of the best")
    parser.add_argument(
        "--volume",
        action="append",
        default=[],
        metavar="DOMAIN=N",
        help="requests per month in a domain (repeatable)",
    )


def _volumes(items: list[str]) -> dict[str, float]:
    from evalkit.errors import EvalkitError

    volumes = {}
    for item in items:
        domain, sep, number = item.partition("=")
        try:
            volumes[domain.strip()] = float(number)
        except ValueError:
            raise EvalkitError(f"--volume takes DOMAIN=N, not {item!r}") from None
        if not sep:
            raise EvalkitError(f"--volume takes DOMAIN=N, not {item!r}")
    return volumes


def _board_and_runs(paths: list[Path]) -> tuple[Any, Any]:
    from evalkit.errors import EvalkitError
    from evalkit.leaderboard import leaderboards, load_runs

    runs = load_runs(paths)
    runs = [r for r in runs if r.summary is not None]
    if not runs:
        raise EvalkitError(
            "no finished runs (folders with summary.json) under " + ", ".join(map(str, paths))
        )
    return leaderboards(runs), runs


def _portfolio(board: Any, args: argparse.Namespace, required: bool) -> Any:
    from evalkit.portfolio import Bar, recommend

    if not required and not (args.volume or args.min_accuracy or args.within_best):
        return None
    bar = Bar(min_accuracy=args.min_accuracy, within_best=args.within_best)
    return recommend(board, bar, _volumes(args.volume))


def cmd_report(args: argparse.Namespace) -> int:
    from evalkit.errors import EvalkitError
    from evalkit.report import FORMATS, markdown, write_reports

    formats = [f.strip() for f in args.format.split(",") if f.strip()]
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown:
        raise EvalkitError(
            f"unknown report format {unknown[0]!r} (choose from {', '.join(FORMATS)})"
        )
    board, runs = _board_and_runs(args.runs)
    portfolio = _portfolio(board, args, required=False)
    if args.out is None:
        print(markdown(board, portfolio, runs), end="")
        return 0
    for path in write_reports(board, runs, formats, args.out, portfolio):
        print(path)
    return 0


def cmd_gate(args: argparse.Namespace) -> int:
    import json

    from evalkit.gate import gate_markdown, run_gate

    result = run_gate(
        args.baseline,
        args.candidate,
        alpha=args.alpha,
        margin=args.margin,
        tasks=args.task,
        max_cost_increase=args.max_cost_increase,
    )
    text = gate_markdown(result)
    print(text, end="")
    summary_file = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary_file:
        with open(summary_file, "a", encoding="utf-8") as handle:
            handle.write(text + "\n")
    if args.json is not None:
        args.json.write_text(json.dumps(result.to_json(), indent=2) + "\n")
    return 1 if result.regressed else 0


def cmd_history(args: argparse.Namespace) -> int:
    from evalkit.history import history, history_markdown, history_plot

    points = history(
        args.root, model=args.model, task=args.task, baseline=args.baseline, alpha=args.alpha
    )
    print(history_markdown(points), end="")
    if args.plot is not None:
        print(history_plot(points, args.plot))
    return 0


def cmd_portfolio(args: argparse.Namespace) -> int:
    from evalkit.report import portfolio_markdown

    board, _ = _board_and_runs(args.runs)
    print(portfolio_markdown(_portfolio(board, args, required=True)))
    return 0


COMMANDS = {
    "run": cmd_run,
    "score": cmd_score,
    "sandbox": cmd_sandbox,
    "tasks": cmd_tasks,
    "models": cmd_models,
    "report": cmd_report,
    "portfolio": cmd_portfolio,
    "gate": cmd_gate,
    "history": cmd_history,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    debug = args.debug or bool(os.environ.get("EVALKIT_DEBUG"))
    from evalkit.errors import EvalkitError

    try:
        return COMMANDS[args.command](args)
    except EvalkitError as exc:
        print(f"evalkit: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("evalkit: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if debug:
            raise
        print(
            f"evalkit: internal error: {type(exc).__name__}: {exc} "
            "(run with --debug for the traceback)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
