"""User-facing errors: each becomes one line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from pydantic import ValidationError


class EvalkitError(Exception):
    """An error caused by the user's input or environment, with a message fit for one line."""

    exit_code = 2


class RunInterrupted(EvalkitError):
    """The run stopped early (Ctrl-C, a budget); what finished is saved and resumable."""

    exit_code = 130


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """A ' (did you mean X?)' suffix for an unknown name, or '' when nothing is close."""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def describe_validation_error(exc: ValidationError) -> str:
    """One line for a pydantic error: an unknown field (a typo) first, else the first problem."""
    errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
    first = errors[0]
    where = ".".join(str(p) for p in first["loc"])
    message = "unknown field" if first["type"] == "extra_forbidden" else first["msg"]
    return f"{where}: {message}" if where else str(message)
