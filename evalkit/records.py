"""The records that cross evalkit's boundaries: samples, requests, completions, scores, rows.

Every record is a pydantic model. What a run writes to disk carries ``SCHEMA_VERSION``; a
change to these models that alters the files must bump it (a snapshot test guards this).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 3

PromptStyle = Literal["completion", "chat", "fim", "logprob"]
"""How a model is prompted: a raw prompt to continue, chat messages, or a fill-in-the-middle
request (prefix and suffix, for endpoints and models that take them), or log-likelihood
scoring of the sample's answer options (local models, ``--mc-mode logprob``)."""


class Message(BaseModel):
    """One chat message."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    role: Literal["system", "user", "assistant"]
    content: str


class Sample(BaseModel):
    """One problem of a task, as the task produces it.

    ``prompt`` is what a completion-style model continues; ``messages`` is what a chat model
    is sent. ``reference`` is the task's own correct answer (the canonical runner returns it).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    task: str
    prompt: str
    messages: tuple[Message, ...] = ()
    reference: str
    metadata: dict[str, Any] = Field(default_factory=dict)


class GenerationParams(BaseModel):
    """One vocabulary of generation parameters for every runner."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    temperature: float = 0.0
    top_p: float | None = None
    max_tokens: int = 1024
    stop: tuple[str, ...] = ()
    seed: int | None = 1234
    reasoning_effort: str | None = None
    """OpenAI and Mistral reasoning effort ("low", "medium", "high")."""
    thinking_budget: int | None = None
    """Anthropic extended-thinking budget in tokens."""


class GenerationRequest(BaseModel):
    """What the engine asks a runner for: one completion of one sample."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sample: Sample
    sample_index: int = 0
    style: PromptStyle = "completion"
    params: GenerationParams = GenerationParams()

    @property
    def key(self) -> str:
        return row_key(self.sample.id, self.sample_index)


class Completion(BaseModel):
    """What a runner answers: the text and what it cost to get it."""

    model_config = ConfigDict(extra="forbid")

    text: str = ""
    tokens_in: int = 0
    tokens_out: int = 0
    latency_s: float = 0.0
    cost_usd: float | None = None
    finish_reason: str | None = None
    error: str | None = None
    attempts: int = 1
    metadata: dict[str, Any] = Field(default_factory=dict)


class Score(BaseModel):
    """A task's verdict on one completion."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    value: float
    passed: bool
    status: str
    answer: str = ""
    """What was scored, after post-processing (the extracted code or answer)."""
    error_type: str | None = None
    detail: str = ""


class CompletionRow(BaseModel):
    """One generated completion, written before it is scored (``completions.jsonl``)."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int = SCHEMA_VERSION
    task_id: str
    sample_index: int = 0
    style: PromptStyle = "completion"
    completion: Completion


class SampleRow(BaseModel):
    """One scored sample (a line of ``samples.jsonl``)."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int = SCHEMA_VERSION
    task_id: str
    sample_index: int = 0
    style: PromptStyle = "completion"
    completion: str
    raw_completion: str
    passed: bool
    score: float
    status: str
    error_type: str | None = None
    detail: str = ""
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float | None = None
    latency_s: float = 0.0
    finish_reason: str | None = None
    generation_error: str | None = None
    attempts: int = 1
    cache_hit: bool = False
    usage: dict[str, int] = Field(default_factory=dict)
    """Provider-reported token details beyond in/out (cached, reasoning)."""
    domain: str | None = None
    subtask: str | None = None
    """The member task of a group (``mmlu:anatomy`` within ``medicine``)."""
    answer: str | None = None
    """The extracted answer, for tasks that extract one."""

    @property
    def key(self) -> str:
        return row_key(self.task_id, self.sample_index)


def row_key(task_id: str, sample_index: int) -> str:
    """The identity of one generated sample within a run."""
    return f"{task_id}#{sample_index}"
