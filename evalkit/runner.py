"""The runner interface: one async request at a time; the engine owns concurrency and retries."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from enum import Enum
from typing import ClassVar

from evalkit.records import Completion, GenerationRequest, PromptStyle


class ErrorKind(Enum):
    RATE_LIMIT = "rate_limit"
    TRANSIENT = "transient"
    FATAL = "fatal"


@dataclass(frozen=True)
class RetryDecision:
    """A runner's classification of an exception raised by ``generate``."""

    kind: ErrorKind
    retry_after_s: float | None = None

    @property
    def retryable(self) -> bool:
        return self.kind is not ErrorKind.FATAL


class TransientError(Exception):
    """Raised by a runner for a failure worth retrying."""

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class RateLimitError(TransientError):
    """Raised by a runner when the provider asks it to slow down."""


@dataclass(frozen=True)
class ModelSpec:
    """A resolved model: which runner serves it, which model, and what is known of it."""

    spec: str
    provider: str
    model_id: str
    alias: str | None = None
    base_url: str | None = None
    open_weights: bool = False
    self_hosted: bool = False
    prompt_style: PromptStyle | None = None
    prices_ref: str | None = None
    price_in_per_mtok: float | None = None
    price_out_per_mtok: float | None = None
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return self.alias or self.spec


@dataclass(frozen=True)
class RunnerOptions:
    """Options the CLI passes to every runner; a runner uses those that apply to it."""

    concurrency: int | None = None
    base_url: str | None = None
    request_timeout_s: float = 120.0
    extra: dict[str, object] = field(default_factory=dict)


class Runner(ABC):
    """Turns requests into completions. Subclasses set ``name`` (the provider prefix)."""

    name: ClassVar[str]
    default_concurrency: ClassVar[int] = 8
    cacheable: ClassVar[bool] = True
    """Whether the engine may answer a request from the response cache."""
    prompt_style: PromptStyle = "completion"

    def __init__(self, model: ModelSpec, options: RunnerOptions) -> None:
        self.model = model
        self.options = options
        if model.prompt_style is not None:
            self.prompt_style = model.prompt_style

    @property
    def concurrency(self) -> int:
        return self.options.concurrency or self.default_concurrency

    def check_ready(self) -> None:
        """Fail fast (raise ``EvalkitError``) when the runner cannot work, e.g. a missing key."""

    @abstractmethod
    async def generate(self, request: GenerationRequest) -> Completion:
        """Answer one request. Raise on failure; ``classify_error`` says what the engine does."""

    def supports_fim(self) -> bool:
        """Whether the model takes fill-in-the-middle requests (prefix and suffix)."""
        return False

    def classify_error(self, error: BaseException) -> RetryDecision:
        """Whether an exception from ``generate`` is a rate limit, transient, or final."""
        if isinstance(error, RateLimitError):
            return RetryDecision(ErrorKind.RATE_LIMIT, error.retry_after_s)
        if isinstance(error, TransientError | TimeoutError | ConnectionError):
            return RetryDecision(ErrorKind.TRANSIENT, getattr(error, "retry_after_s", None))
        return RetryDecision(ErrorKind.FATAL)

    def describe(self) -> dict[str, object]:
        """What the manifest records about this runner beyond the model spec."""
        return {"runner": self.name, "prompt_style": self.prompt_style}

    async def aclose(self) -> None:
        """Release connections, models and workers."""
