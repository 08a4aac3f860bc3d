"""The storage needed to reach a target CFE score: a bisection on the store's power at a fixed duration.

The score never falls as power and energy grow together (tested as a property), so bisection finds the smallest
size to the search's tolerance. Beyond SEARCH_MAX_HOURS of peak load the target counts as out of storage's reach:
more wind or a power cap is the answer then.
"""

from __future__ import annotations

import math

import numpy as np

from kasbah.energy.dispatch import cfe_score, dispatch

DEFAULT_DURATION_H = 4.0
"""Duration when the spec declares no battery energy: the common utility-scale lithium-ion size (NREL ATB's 4-hour)."""
SEARCH_MAX_HOURS = 48.0
"""Largest store tried, in hours of peak facility load: two days of storage is far beyond any battery fleet built."""
ITERATIONS = 18
"""Bisection steps: the answer to within 2^-18 of the largest size tried."""


def score_with(supply: np.ndarray, load: np.ndarray, power_mw: float, duration_h: float, rte: float) -> float:
    return cfe_score(dispatch(supply, load, power_mw, power_mw * duration_h, rte), load)


def storage_for_target(
    supply: np.ndarray, load: np.ndarray, target: float, duration_h: float, rte: float
) -> tuple[float, float] | None:
    """(MW, MWh) of the smallest store (of the given duration) reaching the target, or None when none does."""
    if score_with(supply, load, 0.0, duration_h, rte) >= target:
        return 0.0, 0.0
    peak = float(load.max())
    hi = peak * SEARCH_MAX_HOURS / duration_h
    if score_with(supply, load, hi, duration_h, rte) < target:
        return None
    lo = 0.0
    for _ in range(ITERATIONS):
        mid = (lo + hi) / 2
        if score_with(supply, load, mid, duration_h, rte) >= target:
            hi = mid
        else:
            lo = mid
    mw = math.ceil(hi * 10) / 10  # rounded up, so the size given still reaches the target
    return mw, round(mw * duration_h, 1)
