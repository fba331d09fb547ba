"""The task interface: a task produces samples and scores completions of them."""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path

from evalkit.executor import Executor
from evalkit.records import GenerationParams, PromptStyle, Sample, Score
from evalkit.runner import Runner

DATA_DIR_ENV = "EVALKIT_DATA_DIR"
"""A folder of benchmark files in their released formats (``--data-dir``)."""
SHOTS_ENV = "EVALKIT_SHOTS"
"""The number of few-shot examples for tasks that take them (``--shots``)."""


class Task(ABC):
    """A benchmark. Subclasses set ``name``, ``version`` and ``domain`` and carry a docstring card
    (what it measures, the paper, the data source, the license).

    ``version`` must change whenever the prompt, the data or the scoring changes: runs of
    different versions are never compared as if they were the same.
    """

    name: str
    version: str
    domain: str
    needs_executor: bool = False

    @abstractmethod
    def samples(self) -> Sequence[Sample]:
        """Every sample of the task, in a fixed order."""

    @abstractmethod
    def data_checksum(self) -> str:
        """A checksum of the data the samples came from (recorded in the manifest)."""

    @abstractmethod
    def score(
        self, sample: Sample, output: str, style: PromptStyle, executor: Executor | None
    ) -> Score:
        """Post-process one model output and score it. Must be safe to call from threads."""

    def choose_style(self, runner: Runner) -> PromptStyle:
        """How to prompt this runner's model for this task (``--prompt-style`` overrides)."""
        return runner.prompt_style

    def generation_params(self, style: PromptStyle) -> GenerationParams:
        """The task's default generation parameters for a prompt style (stops, max tokens)."""
        return GenerationParams()

    def config(self) -> dict[str, object]:
        """The options this task was built with (recorded in the manifest)."""
        return {}


def file_checksum(*paths: Path) -> str:
    """SHA-256 over the bytes of the given files, in order."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes())
    return f"sha256:{digest.hexdigest()}"
