"""How figures are written in tables: money, so that every report reads the same."""

from __future__ import annotations

import math


def usd(value: float | None) -> str:
    """'$0.0123', '$1,234.50', or 'n/a' for an unknown (None or NaN) amount."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"${value:.4f}" if value < 100 else f"${value:,.2f}"
