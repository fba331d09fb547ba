"""Answer extraction on realistic model outputs, right, wrong and ambiguous (data-driven)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from evalkit.extract import extract_choice, extract_decision, extract_number, numbers_equal

DATA = Path(__file__).parent / "data"


def _load(name: str) -> Any:
    return json.loads((DATA / name).read_text())


NUMBER_CASES = _load("extract_number.json")
CHOICE = _load("extract_choice.json")
DECISION_CASES = _load("extract_decision.json")


def test_enough_cases() -> None:
    assert min(len(NUMBER_CASES), len(CHOICE["cases"]), len(DECISION_CASES)) >= 40


@pytest.mark.parametrize("case", NUMBER_CASES, ids=lambda c: c["output"][:40])
def test_number(case: dict[str, Any]) -> None:
    assert extract_number(case["output"]) == case["expected"]


@pytest.mark.parametrize("case", CHOICE["cases"], ids=lambda c: c["output"][:40])
def test_choice(case: dict[str, Any]) -> None:
    assert extract_choice(case["output"], CHOICE["choices"]) == case["expected"]


@pytest.mark.parametrize("case", DECISION_CASES, ids=lambda c: c["output"][:40])
def test_decision(case: dict[str, Any]) -> None:
    assert extract_decision(case["output"]) == case["expected"]


def test_numbers_compare_by_value() -> None:
    assert numbers_equal("18", "18.0") and numbers_equal("1200", "1200.00")
    assert not numbers_equal("18", "81") and not numbers_equal(None, "1")
