"""Requests-per-minute and tokens-per-minute limits: token buckets the engine waits on."""

from __future__ import annotations

import asyncio
import time


class TokenBucket:
    """Holds up to ``per_minute`` units and refills at ``per_minute / 60`` units per second."""

    def __init__(self, per_minute: float) -> None:
        if per_minute <= 0:
            raise ValueError("a rate limit must be positive")
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.level = self.capacity
        self.updated = time.monotonic()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = time.monotonic()
        self.level = min(self.capacity, self.level + (now - self.updated) * self.rate)
        self.updated = now

    async def take(self, amount: float = 1.0) -> None:
        """Wait until ``amount`` units are available, then take them (at most the capacity)."""
        amount = min(amount, self.capacity)
        async with self._lock:
            while True:
                self._refill()
                if self.level >= amount:
                    self.level -= amount
                    return
                await asyncio.sleep((amount - self.level) / self.rate)
