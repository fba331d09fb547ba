"""The engine's one retry policy: exponential backoff with full jitter, honouring Retry-After."""

from __future__ import annotations

import random
from dataclasses import dataclass

from evalkit.runner import RetryDecision


@dataclass
class RetryPolicy:
    max_attempts: int = 6
    base_delay_s: float = 1.0
    max_delay_s: float = 60.0
    scale: float = 1.0
    """Multiplies every delay; tests set it to 0 so that backoff costs no time."""

    def delay(self, attempt: int, decision: RetryDecision) -> float:
        """Seconds to wait before attempt ``attempt + 1`` (attempts count from 1)."""
        backoff = random.uniform(0, min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1)))
        if decision.retry_after_s is not None:
            backoff = max(backoff, min(decision.retry_after_s, self.max_delay_s))
        return backoff * self.scale


DEFAULT_POLICY = RetryPolicy()
