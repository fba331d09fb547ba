"""The FIM task family: derived data, post-processing, formats, and every way of prompting."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from conftest import SHARED_DATA, evalkit_cli
from evalkit_tasks.fim import Fim, cut_at_suffix, derive_infilling
from evalkit_tasks.humaneval import humaneval_data_file, read_problems

from evalkit.errors import EvalkitError
from evalkit.fim import FORMATS, detect_fim_format, fim_prompt
from evalkit.testing import ProviderServer

INFILLING = SHARED_DATA / "human-eval-infilling"
needs_released = pytest.mark.skipif(not INFILLING.is_dir(), reason="needs ../shared/data")


def _released(name: str) -> list[dict[str, Any]]:
    with gzip.open(INFILLING / f"HumanEval-{name}.jsonl.gz", "rt") as handle:
        return [json.loads(line) for line in handle]


@needs_released
@pytest.mark.parametrize(
    ("multi", "name", "count"),
    [(False, "SingleLineInfilling", 1033), (True, "MultiLineInfilling", 5815)],
)
def test_derived_sets_equal_the_released_files(multi: bool, name: str, count: int) -> None:
    derived = derive_infilling(read_problems(humaneval_data_file()), multi)
    released = _released(name)
    assert len(derived) == len(released) == count
    assert derived == released


@pytest.mark.parametrize(
    ("middle", "suffix", "expected"),
    [
        # ran on past the gap, into two lines of the suffix
        (
            "    x = 1\n    y = compute(2)\n    return x + y\n",
            "    y = compute(2)\n    return x + y\n",
            "    x = 1\n",
        ),
        # the whole suffix and more
        (
            "a = compute()\nresult = a * 2\nreturn result\nprint('done')\n",
            "result = a * 2\nreturn result\n",
            "a = compute()\n",
        ),
        # a suffix that starts mid-line
        (
            " len(items)\n    total = sum(items)\n    return total\n",
            "len(items)\n    total = sum(items)\n",
            " ",
        ),
        # one repeated line is not enough evidence: keep
        ("    return False\n", "    return False\n", "    return False\n"),
        ("    return True\n", "", "    return True\n"),
        # no overlap at all
        ("    pass\n", "    return None\n", "    pass\n"),
    ],
)
def test_cut_at_suffix(middle: str, suffix: str, expected: str) -> None:
    assert cut_at_suffix(middle, suffix) == expected


@needs_released
@pytest.mark.parametrize(
    "name", ["MultiLineInfilling", "RandomSpanInfilling", "RandomSpanInfillingLight"]
)
def test_truncation_never_cuts_a_canonical_middle(name: str) -> None:
    for row in _released(name):
        assert (
            cut_at_suffix(row["canonical_solution"], row["suffix"]) == row["canonical_solution"]
        ), row["task_id"]


def test_formats_put_tokens_in_the_family_order() -> None:
    assert fim_prompt(FORMATS["starcoder"], "P", "S") == "<fim_prefix>P<fim_suffix>S<fim_middle>"
    assert fim_prompt(FORMATS["starcoder-spm"], "P", "S") == (
        "<fim_prefix><fim_suffix>S<fim_middle>P"
    )
    assert fim_prompt(FORMATS["codellama"], "P", "S") == "<PRE> P <SUF>S <MID>"
    assert fim_prompt(FORMATS["deepseek-coder"], "P", "S") == (
        "<｜fim▁begin｜>P<｜fim▁hole｜>S<｜fim▁end｜>"
    )
    assert fim_prompt(FORMATS["qwen2.5-coder"], "P", "S") == (
        "<|fim_prefix|>P<|fim_suffix|>S<|fim_middle|>"
    )
    assert fim_prompt(FORMATS["codestral"], "P", "S") == "[SUFFIX]S[PREFIX]P"


class _Vocab:
    def __init__(self, *tokens: str) -> None:
        self.tokens = {t: i for i, t in enumerate(tokens)}

    def get_vocab(self) -> dict[str, int]:
        return self.tokens


@pytest.mark.parametrize(
    ("tokens", "expected"),
    [
        (("<fim_prefix>", "<fim_middle>"), "starcoder"),
        (("<fim-prefix>",), "santacoder"),
        (("▁<PRE>", "▁<SUF>"), "codellama"),
        (("<｜fim▁begin｜>",), "deepseek-coder"),
        (("<|fim_prefix|>", "<|fim_middle|>"), "qwen2.5-coder"),
        (("<|fim_prefix|>", "<|file_separator|>"), "codegemma"),
        (("[SUFFIX]", "[PREFIX]"), "codestral"),
    ],
)
def test_format_detection_from_the_tokenizer(tokens: tuple[str, ...], expected: str) -> None:
    assert detect_fim_format(_Vocab(*tokens), None, "m").name == expected


def test_no_fim_tokens_is_a_clear_error() -> None:
    with pytest.raises(EvalkitError, match="no fill-in-the-middle tokens"):
        detect_fim_format(_Vocab("<s>", "</s>"), None, "hf:./plain")
    with pytest.raises(EvalkitError, match=r"unknown FIM format .starcodr..*did you mean"):
        detect_fim_format(_Vocab(), "starcodr", "m")


@pytest.mark.slow
@pytest.mark.parametrize(("task", "count"), [("fim", 1033), ("fim-multi-line", 5815)])
def test_canonical_scores_one(tmp_path: Path, task: str, count: int) -> None:
    result = evalkit_cli(
        "run",
        "--task",
        task,
        "--model",
        "canonical",
        "--out",
        str(tmp_path / task),
        "--no-progress",
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / task / "summary.json").read_text())
    assert (summary["n"], summary["pass@1"]) == (count, 1.0)


@needs_released
@pytest.mark.parametrize(
    ("task", "count"), [("fim-random-span-light", 164), ("fim-random-span", 1640)]
)
def test_canonical_scores_one_on_random_spans(tmp_path: Path, task: str, count: int) -> None:
    result = evalkit_cli(
        "run",
        "--task",
        task,
        "--model",
        "canonical",
        "--data-dir",
        str(INFILLING),
        "--out",
        str(tmp_path / task),
        "--no-progress",
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / task / "summary.json").read_text())
    assert (summary["n"], summary["pass@1"]) == (count, 1.0)


def test_random_spans_without_data_is_one_clear_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = evalkit_cli(
        "run",
        "--task",
        "fim-random-span-light",
        "--model",
        "canonical",
        "--data-dir",
        str(tmp_path),
        "--out",
        str(tmp_path / "r"),
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "HumanEval-RandomSpanInfillingLight.jsonl.gz" in lines[0]


def _middle_responder(right: int) -> Any:
    """Answers a FIM request (or a chat request showing prefix and suffix) with the
    canonical middle for the first ``right`` problems of the `fim` set, else a wrong line."""
    samples = list(Fim().samples())[:40]

    def respond(protocol: str, body: dict[str, Any]) -> str:
        for i, sample in enumerate(samples):
            meta = sample.metadata
            if protocol == "mistral-fim":
                hit = body["prompt"] == meta["fim_prefix"] and body["suffix"] == meta["fim_suffix"]
            else:
                hit = (
                    f"{meta['fim_prefix']}<MISSING>{meta['fim_suffix']}"
                    in (body["messages"][-1]["content"])
                )
            if hit:
                middle = sample.reference if i < right else "    raise ValueError()\n"
                return middle if protocol == "mistral-fim" else f"```python\n{middle}```"
        return ""

    return respond


def test_codestral_through_mistrals_fim_endpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MISTRAL_API_KEY", "test-key")
    out = tmp_path / "run"
    with ProviderServer(responder=_middle_responder(right=15)) as server:
        result = evalkit_cli(
            "run",
            "--task",
            "fim",
            "--model",
            "codestral",
            "--base-url",
            server.url(),
            "--limit",
            "20",
            "--out",
            str(out),
            "--no-progress",
        )
    assert result.returncode == 0, result.stderr
    assert {r["path"] for r in server.requests} == {"/v1/fim/completions"}
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["n"], summary["correct"]) == (20, 15)
    assert summary["cost_usd"] > 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["fingerprint"]["style"] == "fim"


def test_chat_model_fills_the_middle_from_its_reply(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    out = tmp_path / "run"
    with ProviderServer(responder=_middle_responder(right=10)) as server:
        result = evalkit_cli(
            "run",
            "--task",
            "fim",
            "--model",
            "openai:gpt-4o-mini",
            "--base-url",
            server.url(),
            "--limit",
            "12",
            "--out",
            str(out),
            "--no-progress",
        )
    assert result.returncode == 0, result.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["n"], summary["correct"]) == (12, 10)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["fingerprint"]["style"] == "chat"


def test_local_model_with_starcoder_fim_tokens(tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    from evalkit.testing import build_tiny_llama

    problems = read_problems(humaneval_data_file())
    model = build_tiny_llama(
        str(tmp_path / "tiny"), [p["prompt"] + p["canonical_solution"] for p in problems[:40]]
    )
    out = tmp_path / "run"
    result = evalkit_cli(
        "run",
        "--task",
        "fim",
        "--model",
        f"hf:{model}",
        "--limit",
        "8",
        "--max-tokens",
        "8",
        "--out",
        str(out),
        "--no-progress",
    )
    assert result.returncode == 0, result.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["fingerprint"]["style"] == "fim"
    assert manifest["runner"]["fim_format"] == "starcoder"
    rows = [json.loads(x) for x in (out / "samples.jsonl").read_text().splitlines()]
    assert len(rows) == 8 and all(r["style"] == "fim" for r in rows)
