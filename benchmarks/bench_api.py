"""API runner throughput: requests/s against the ideal, and the harness's CPU per request.

Runs HumanEval prompts through the real OpenAI runner (official SDK) against a local server
that answers every request after a fixed latency (default 100 ms), at several concurrency
levels, then once more with faults (1 request in 7 answered 429, 1 in 11 answered 500) to
check that every sample completes with exactly one extra request per fault. The server runs in
its own process, so the harness's CPU time is the harness's alone.

    python benchmarks/bench_api.py [--latency 0.1] [--concurrency 1 8 32 64]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from evalkit.factory import build_runner, build_task, resolve
from evalkit.generation import GenerationJob, GenerationLimits, generate_all
from evalkit.prices import quote_price
from evalkit.records import CompletionRow, GenerationRequest
from evalkit.results import JsonlAppender
from evalkit.retry import RetryPolicy
from evalkit.runner import RunnerOptions
from evalkit.testing import ProviderServer


def _fault(index: int) -> tuple[str, float] | None:
    if index % 7 == 6:
        return ("429", 0.0)
    if index % 11 == 10:
        return ("500", 0.0)
    return None


def _serve(port_out: Any, latency: float, faults: bool, counter: Any, served: Any) -> None:
    def fault(index: int) -> tuple[str, float] | None:
        chosen = _fault(index) if faults else None
        if chosen is not None:
            with served.get_lock():
                served.value += 1
        return chosen

    server = ProviderServer(
        responder=lambda protocol, body: "```python\npass\n```", latency_s=latency, fault=fault
    )
    with server:
        port_out.put(server.port)
        while True:
            counter.value = len(server.requests)
            time.sleep(0.01)


class ServerProcess:
    def __init__(self, latency: float, faults: bool) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.counter = ctx.Value("i", 0)
        self.faults = ctx.Value("i", 0)
        ports = ctx.Queue()
        self.proc = ctx.Process(
            target=_serve, args=(ports, latency, faults, self.counter, self.faults), daemon=True
        )
        self.proc.start()
        self.port = ports.get(timeout=30)

    def requests(self) -> tuple[int, int]:
        """Requests received and faults served so far."""
        time.sleep(0.1)
        return int(self.counter.value), int(self.faults.value)

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.proc.kill()
        self.proc.join()


def run_once(
    url: str, requests: list[GenerationRequest], concurrency: int, policy: RetryPolicy
) -> tuple[float, float, list[CompletionRow]]:
    os.environ.setdefault("OPENAI_API_KEY", "benchmark")
    model = resolve("openai:gpt-4o-mini")
    runner = build_runner(model, RunnerOptions(concurrency=concurrency, base_url=url))
    job = GenerationJob(runner, policy, quote_price(model), None, GenerationLimits())
    runner.client  # noqa: B018 - the SDK client's one-off set-up is not a per-request cost
    rows: list[CompletionRow] = []
    with tempfile.TemporaryDirectory() as tmp:
        out = JsonlAppender(Path(tmp) / "completions.jsonl")

        async def go() -> None:
            try:
                await generate_all(job, requests, out, rows.append)
            finally:
                await runner.aclose()

        cpu, wall = time.process_time(), time.perf_counter()
        asyncio.run(go())
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        out.close()
    return wall, cpu, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32, 64])
    args = parser.parse_args()
    task = build_task("humaneval")
    samples = list(task.samples())

    def requests_for(copies: int) -> list[GenerationRequest]:
        return [
            GenerationRequest(sample=s, sample_index=i, style="chat")
            for i in range(copies)
            for s in samples
        ]

    print(f"latency {args.latency * 1000:.0f} ms per request, {os.cpu_count()} cores\n")
    print(
        "| concurrency | requests | seconds | requests/s | ideal | % of ideal "
        "| harness CPU ms/request | test server CPU ms/request |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    server = ServerProcess(args.latency, faults=False)
    url = f"http://127.0.0.1:{server.port}/v1"
    run_once(url, requests_for(1)[:20], 8, RetryPolicy())  # warm-up: imports, connections
    try:
        for concurrency in args.concurrency:
            todo = requests_for(1 if concurrency == 1 else 12)
            server_cpu = server.cpu_seconds()
            wall, cpu, rows = run_once(url, todo, concurrency, RetryPolicy())
            server_cpu = server.cpu_seconds() - server_cpu
            assert len(rows) == len(todo) and all(r.completion.error is None for r in rows)
            rate, ideal = len(todo) / wall, concurrency / args.latency
            print(
                f"| {concurrency} | {len(todo)} | {wall:.2f} | {rate:.1f} | {ideal:.0f} "
                f"| {100 * rate / ideal:.0f}% | {1000 * cpu / len(todo):.2f} "
                f"| {1000 * server_cpu / len(todo):.2f} |"
            )
    finally:
        server.stop()

    server = ServerProcess(args.latency, faults=True)
    try:
        todo = requests_for(1)
        wall, _, rows = run_once(
            f"http://127.0.0.1:{server.port}/v1", todo, 32, RetryPolicy(base_delay_s=0.05)
        )
        sent, faults = server.requests()
    finally:
        server.stop()
    completed = sum(r.completion.error is None for r in rows)
    extra = sum(r.completion.attempts - 1 for r in rows)
    exact = sent - len(todo) == faults == extra
    verdict = "exactly one extra request per fault" if exact else "MISMATCH"
    print(
        f"\nwith faults (1 in 7 -> 429, 1 in 11 -> 500), concurrency 32: "
        f"{completed}/{len(todo)} samples completed, {sent} requests for {len(todo)} "
        f"samples, {faults} faults, {extra} retries ({verdict})"
    )


if __name__ == "__main__":
    main()
