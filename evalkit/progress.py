"""A progress bar on stderr with ETA, throughput, tokens and running cost."""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Any


class Progress:
    """Counts finished samples. Shown only on a terminal unless ``enabled`` forces it off."""

    def __init__(self, total: int, label: str, *, enabled: bool = True) -> None:
        self.total = total
        self.cost = 0.0
        self.tokens = 0
        self._bar: Any = None
        if enabled and sys.stderr.isatty():
            from tqdm import tqdm

            self._bar = tqdm(
                total=total, desc=label, unit="sample", dynamic_ncols=True, file=sys.stderr
            )

    def advance(self, n: int, *, cost: float | None = None, tokens: int = 0) -> None:
        self.cost += cost or 0.0
        self.tokens += tokens
        if self._bar is not None:
            self._bar.update(n)
            self._bar.set_postfix(cost=f"${self.cost:.4f}", tokens=self.tokens, refresh=False)

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.close()
