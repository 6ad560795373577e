"""Bands of a calibrated probability of needing a service within its horizon: they order
outreach, nothing else (high >= 0.5, medium >= 0.2, else low)."""

from __future__ import annotations

import numpy as np

BANDS = ((0.5, "high"), (0.2, "medium"))  # calibrated probability within the horizon
LOW = "low"


def band(probability: float) -> str:
    """The band of one calibrated probability."""
    for threshold, name in BANDS:
        if probability >= threshold:
            return name
    return LOW


def band_of(probability: np.ndarray) -> np.ndarray:
    out = np.full(len(probability), LOW, dtype=object)
    for threshold, name in reversed(BANDS):
        out[probability >= threshold] = name
    return out
