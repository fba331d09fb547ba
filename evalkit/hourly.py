"""Default prices of self-hosted compute, per device-hour, so that local runs have a cost.

These are stated assumptions (typical on-demand cloud rates in late 2026), not quotes: pass
``--gpu-hourly-usd`` with your own figure. The manifest records the rate used.
"""

from __future__ import annotations

import os

GPU_HOURLY_USD = {
    "H200": 3.50,
    "H100": 2.50,
    "A100": 1.60,
    "L40S": 1.00,
    "A10": 0.75,
    "L4": 0.70,
    "T4": 0.35,
}
DEFAULT_GPU_HOURLY_USD = 2.00
CPU_CORE_HOURLY_USD = 0.045
"""One vCPU of a general-purpose cloud instance."""


def default_hourly_usd(device_name: str) -> float:
    """The default rate for a device: a GPU by its marketing name, or this machine's CPUs."""
    if device_name == "cpu":
        return round(CPU_CORE_HOURLY_USD * (os.cpu_count() or 1), 4)
    upper = device_name.upper()
    for kind, rate in GPU_HOURLY_USD.items():
        if kind in upper:
            return rate
    return DEFAULT_GPU_HOURLY_USD
