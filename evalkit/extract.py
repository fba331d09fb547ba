"""Answer extraction from model outputs: numbers, choice letters, yes/no/maybe.

Each extractor returns the normalised answer, or ``None`` when the output commits to none
(an ambiguous or empty answer is wrong, never guessed).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation

_NUMBER = re.compile(r"-?\$?\s?\d[\d,]*(?:\.\d+)?|-?\$?\.\d+")
_MARKERS = (
    re.compile(r"####\s*(.+)"),
    re.compile(r"(?:the\s+)?(?:final\s+)?answer\s+is\s*:?\s*(.+)", re.IGNORECASE),
    re.compile(r"(?:final\s+)?answer\s*:\s*(.+)", re.IGNORECASE),
)


def normalize_number(text: str) -> str | None:
    """'$1,234.50.' -> '1234.5'; None when the text holds no number."""
    match = _NUMBER.search(text)
    if match is None:
        return None
    raw = match.group(0).replace("$", "").replace(",", "").replace(" ", "")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        return None
    normalized = format(value.normalize(), "f")
    return normalized.rstrip("0").rstrip(".") if "." in normalized else normalized


def extract_number(output: str) -> str | None:
    """The number a reasoning answer commits to: after '####', after 'The answer is', after
    'Answer:', else the last number in the output."""
    for marker in _MARKERS:
        matches = list(marker.finditer(output))
        if matches:
            found = normalize_number(matches[-1].group(1))
            if found is not None:
                return found
    numbers = _NUMBER.findall(output)
    return normalize_number(numbers[-1]) if numbers else None


def numbers_equal(a: str | None, b: str | None) -> bool:
    if a is None or b is None:
        return False
    try:
        return Decimal(a) == Decimal(b)
    except InvalidOperation:
        return False


_LETTER_PATTERNS = (
    r"answer\s*(?:is)?\s*:?\s*(?:option\s*)?[\(\[\*]*([A-{last}])\b",
    r"^\s*[\(\[\*]*([A-{last}])[\)\]\*]*[\.:\)]?\s*(?:$|\n)",
    r"(?:option|choice)\s*[\(\[\*]*([A-{last}])\b",
    r"^\s*[\(\[\*]*([A-{last}])[\)\]\*]*[\.:\)]\s",
    r"\*\*([A-{last}])\*\*",
    r"\(([A-{last}])\)",
)


def extract_choice(output: str, choices: Sequence[str]) -> str | None:
    """The option letter an answer commits to ('C', '(C)', '**C**', 'Answer: C',
    'The answer is C.'), or the letter of the one option whose text it states."""
    letters = "ABCDEFGHIJ"[: len(choices)]
    last = letters[-1]
    text = output.strip()
    if not text:
        return None
    for pattern in _LETTER_PATTERNS:
        found = re.findall(pattern.format(last=last), text, re.IGNORECASE | re.MULTILINE)
        picked = {str(f).upper() for f in found}
        if len(picked) == 1:
            return picked.pop()
        if len(picked) > 1:
            final = re.findall(_LETTER_PATTERNS[0].format(last=last), text, re.IGNORECASE)
            return str(final[-1]).upper() if final else None
    lowered = text.lower().rstrip(".")
    options = {letters[i]: c.strip().lower().rstrip(".") for i, c in enumerate(choices)}
    stated = {k: v for k, v in options.items() if v and v in lowered}
    # An option whose text lies inside another stated option's text is not a separate answer.
    stated = {
        k: v
        for k, v in stated.items()
        if not any(v != other and v in other for other in stated.values())
    }
    return next(iter(stated)) if len(stated) == 1 else None


_DECISION = re.compile(r"\b(yes|no|maybe)\b", re.IGNORECASE)


def extract_decision(output: str) -> str | None:
    """yes, no or maybe: after an 'answer' marker if there is one, else the only one stated."""
    for marker in _MARKERS[1:]:
        matches = list(marker.finditer(output))
        if matches:
            found = _DECISION.search(matches[-1].group(1))
            if found:
                return found.group(1).lower()
    stated = {str(m).lower() for m in _DECISION.findall(output)}
    if len(stated) == 1:
        return stated.pop()
    first = _DECISION.match(output.strip())
    return first.group(1).lower() if first else None
