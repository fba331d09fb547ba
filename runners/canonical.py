"""The ``canonical`` runner: answers every sample with the task's own reference answer.

It needs no network, no weights and no key, so it is the quick start's offline default and the
harness's self-check: every task must score exactly 1.0 with it.
"""

from __future__ import annotations

from evalkit.records import Completion, GenerationRequest
from evalkit.runner import Runner


class CanonicalRunner(Runner):
    """Returns each sample's reference answer (the harness's self-check; costs nothing)."""

    name = "canonical"
    default_concurrency = 64
    cacheable = False
    prompt_style = "completion"

    def supports_fim(self) -> bool:
        return True

    async def generate(self, request: GenerationRequest) -> Completion:
        return Completion(text=request.sample.reference, finish_reason="reference", cost_usd=0.0)
