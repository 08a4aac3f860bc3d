"""The modelled year: 8,760 hourly steps of a non-leap reference year, in UTC."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

HOURS = 8760
REFERENCE_YEAR = 2025
"""Any non-leap year would do: the model is a typical year, not a forecast of this one."""


def hours_index() -> pd.DatetimeIndex:
    """Hour-beginning timestamps of the reference year, UTC."""
    return pd.date_range(f"{REFERENCE_YEAR}-01-01", periods=HOURS, freq="h", tz="UTC")


def seed_for(*parts: object) -> int:
    """A stable 32-bit seed from the spec's own values (same spec -> same weather), independent of PYTHONHASHSEED."""
    text = "|".join(repr(p) for p in parts)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big")


def rng(seed: int, stream: str) -> np.random.Generator:
    """One independent generator per model (solar clouds, wind), so changing one plant never reshuffles the other."""
    return np.random.default_rng([seed, seed_for(stream)])


AR_BURN_IN = 500
"""Steps discarded so the AR(1) series starts from its stationary distribution."""


def ar1(g: np.random.Generator, n: int, r: float) -> np.ndarray:
    """A unit-variance Gaussian AR(1) series with lag-1 correlation r. A plain loop (a few ms for a year): scipy's
    lfilter would do it vectorised but scipy.signal costs about 30 MB of imports."""
    eps = (g.standard_normal(n + AR_BURN_IN) * np.sqrt(1 - r * r)).tolist()
    z = [0.0] * len(eps)
    prev = 0.0
    for i, e in enumerate(eps):
        prev = r * prev + e
        z[i] = prev
    return np.asarray(z[AR_BURN_IN:])
