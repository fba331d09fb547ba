"""Scoring speed of the FIM sets: the canonical middles of every program, in the sandbox.

python benchmarks/bench_fim.py [--task fim-multi-line]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from evalkit.factory import build_executor
from evalkit.pipeline import run_evaluation
from evalkit.planning import RunOptions, build_plan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", nargs="+", default=["fim", "fim-multi-line"])
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores\n")
    print("| task | programs | passed | seconds | programs/s | sandbox |")
    print("|---|---:|---:|---:|---:|---|")
    for task in args.task:
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            executor = build_executor("auto")
            try:
                plan = build_plan(
                    task,
                    "canonical",
                    RunOptions(out=Path(tmp) / "run", show_progress=False),
                    executor,
                )
                summary = run_evaluation(plan)
            finally:
                executor.close()
            seconds = time.perf_counter() - start
        print(
            f"| {task} | {summary.n} | {summary.correct} | {seconds:.1f} "
            f"| {summary.n / seconds:.0f} | {executor.describe()['level']} |"
        )


if __name__ == "__main__":
    main()
