"""Code extraction from chat replies, and assembly of the program to test (data-driven)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalkit.code import assemble_solution, extract_code

CASES = json.loads((Path(__file__).parent / "data" / "code_extraction.json").read_text())

PROMPT = (
    "from typing import List\n\n\ndef helper(x):\n    return x\n\n\n"
    'def add(a: int, b: int) -> int:\n    """Add two numbers."""\n'
)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_extract(case: dict[str, str]) -> None:
    assert extract_code(case["reply"], case.get("entry_point")).strip() == case["expected"].strip()


def test_full_function_keeps_prompt_preamble() -> None:
    solution = assemble_solution(PROMPT, "def add(a, b):\n    return a + b\n", "add")
    assert solution.startswith("from typing import List")
    assert "def helper(x)" in solution
    assert solution.count("def add(") == 1
    namespace: dict[str, object] = {}
    exec(solution, namespace)
    assert namespace["add"](2, 3) == 5  # type: ignore[operator]


def test_bare_body_is_indented_under_signature() -> None:
    solution = assemble_solution(PROMPT, "return a + b\n", "add")
    namespace: dict[str, object] = {}
    exec(solution, namespace)
    assert namespace["add"](2, 3) == 5  # type: ignore[operator]


def test_indented_body_is_appended_as_is() -> None:
    solution = assemble_solution(PROMPT, "    total = a + b\n    return total\n", "add")
    namespace: dict[str, object] = {}
    exec(solution, namespace)
    assert namespace["add"](2, 3) == 5  # type: ignore[operator]
