"""evalkit: evaluate open and closed language models on the same work, and what it costs.

The public surface is listed in ``__all__``; plugins (tasks, runners) build on these names.
"""

from evalkit.errors import EvalkitError
from evalkit.executor import ExecutionResult, Executor, Limits
from evalkit.records import (
    SCHEMA_VERSION,
    Completion,
    CompletionRow,
    GenerationParams,
    GenerationRequest,
    Message,
    PromptStyle,
    Sample,
    SampleRow,
    Score,
)
from evalkit.registry import RUNNERS, TASKS
from evalkit.results import Manifest, Run, Summary, read_run
from evalkit.runner import (
    ErrorKind,
    ModelSpec,
    RateLimitError,
    RetryDecision,
    Runner,
    RunnerOptions,
    TransientError,
)
from evalkit.task import Task

__all__ = [
    "RUNNERS",
    "SCHEMA_VERSION",
    "TASKS",
    "Completion",
    "CompletionRow",
    "ErrorKind",
    "EvalkitError",
    "ExecutionResult",
    "Executor",
    "GenerationParams",
    "GenerationRequest",
    "Limits",
    "Manifest",
    "Message",
    "ModelSpec",
    "PromptStyle",
    "RateLimitError",
    "RetryDecision",
    "Run",
    "Runner",
    "RunnerOptions",
    "Sample",
    "SampleRow",
    "Score",
    "Summary",
    "Task",
    "TransientError",
    "read_run",
]
