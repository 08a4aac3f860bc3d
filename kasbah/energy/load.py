"""Load, hour by hour: the plan's IT load with a utilisation profile, facility power through each phase's PUE.

Halls carry no PUE of their own in the spec, so each pod takes the design PUE of the phase that built it (the
plan's `live_power` does the same); other IT load (storage, CPU, network) runs flat at its phase's PUE.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kasbah.energy.year import HOURS


def profile(utilisation: float | list[float]) -> np.ndarray:
    """One figure or 24 (hour of day, UTC) -> 8,760 hourly fractions."""
    if isinstance(utilisation, list):
        return np.tile(np.asarray(utilisation, dtype=float), HOURS // 24)
    return np.full(HOURS, float(utilisation))


@dataclass(frozen=True)
class PodLoad:
    """One pod as the load and the schedule see it."""

    id: str
    phase: str
    sku: str
    budget_mw: float
    gpus: int
    gpu_max_w: int | None
    pue: float
    protected: bool
    utilisation: np.ndarray


@dataclass(frozen=True)
class PhaseLoad:
    """The campus as it stands after one phase: its pods (this and every earlier phase) and flat other IT."""

    phase: str
    pods: list[PodLoad]
    other_facility_mw: float

    def facility(self) -> np.ndarray:
        """Facility MW for each hour."""
        total = np.full(HOURS, self.other_facility_mw)
        for pod in self.pods:
            total += pod.budget_mw * pod.pue * pod.utilisation
        return total

    def it_mw(self) -> np.ndarray:
        total = np.zeros(HOURS)
        for pod in self.pods:
            total += pod.budget_mw * pod.utilisation
        return total
