"""Helpers for code tasks: pull code out of a chat reply and assemble the program to test."""

from __future__ import annotations

import re

from evalkit.executor import Executor
from evalkit.records import Score

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+.-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)
_CODE_START = re.compile(r"^(def |async def |class |import |from |@)")
_PYTHON_TAGS = {"python", "py", "python3", ""}


def extract_code(reply: str, entry_point: str | None = None) -> str:
    """The code in a chat reply: the fenced block that defines ``entry_point`` if there is one,
    else the first Python block, else the first block; with no fence, the reply from its first
    line that looks like code (or the whole reply)."""
    blocks = [(m.group(1).lower(), m.group(2)) for m in _FENCE.finditer(reply)]
    if blocks:
        python = [code for tag, code in blocks if tag in _PYTHON_TAGS]
        if entry_point:
            defining = [c for c in python or [c for _, c in blocks] if _defines(c, entry_point)]
            if defining:
                return defining[0]
        return (python or [blocks[0][1]])[0]
    lines = reply.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if _CODE_START.match(line):
            return "".join(lines[i:])
    return reply


def _defines(code: str, entry_point: str) -> bool:
    return re.search(rf"^\s*(async\s+)?def\s+{re.escape(entry_point)}\s*\(", code, re.M) is not None


def assemble_solution(prompt: str, code: str, entry_point: str) -> str:
    """A complete solution from the task's prompt and a model's code.

    When the code defines ``entry_point`` itself, it replaces the prompt's definition and keeps
    what comes before it in the prompt (imports, helper functions). Otherwise the code is taken
    as the function's body and appended to the prompt, indented if it was not.
    """
    if _defines(code, entry_point):
        match = re.search(rf"^(async\s+)?def\s+{re.escape(entry_point)}\s*\(", prompt, re.M)
        preamble = prompt[: match.start()] if match else ""
        return preamble + code
    body_lines = code.splitlines()
    first = next((ln for ln in body_lines if ln.strip()), "")
    if first and not first[0].isspace():
        code = "\n".join(("    " + ln) if ln.strip() else ln for ln in body_lines) + "\n"
    return prompt + code


def test_program(solution: str, test: str, entry_point: str) -> str:
    """The program a code sample is judged by, as HumanEval builds it."""
    return f"{solution}\n{test}\ncheck({entry_point})\n"


def score_program(program: str, executor: Executor | None, answer: str) -> Score:
    """Run a test program and turn the executor's verdict into a score."""
    if executor is None:
        raise RuntimeError("a code task was scored without an executor")
    result = executor.run(program)
    return Score(
        value=1.0 if result.passed else 0.0,
        passed=result.passed,
        status=result.status,
        answer=answer,
        error_type=result.error_type,
        detail=(result.detail or result.stderr_tail)[-500:],
    )
