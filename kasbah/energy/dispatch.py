"""Dispatch: renewable supply serves the load first; storage charges only from the surplus and discharges into the
shortfall; the grid (or other firming) carries what is left; surplus storage cannot take is curtailed.

CFE score: Google's hourly-matching definition ("24/7 Carbon-Free Energy: Methodologies and Metrics", Google, 2021):
the share of each hour's load met by carbon-free supply, summed over the year and divided by the year's load. The
grid's own carbon-free share counts as zero here (no hourly grid mix for Morocco in the model): a lower bound.
Round-trip losses are taken on charging; the store starts empty (the conservative case).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MATCHED_TOLERANCE_MW = 1e-6
"""An hour counts as fully matched when less than this is left unmet (floating-point noise)."""


@dataclass(frozen=True)
class Dispatch:
    direct: np.ndarray  # supply used by the load in the same hour
    charged: np.ndarray  # supply put into storage (before losses)
    discharged: np.ndarray  # storage delivered to the load
    curtailed: np.ndarray
    unmet: np.ndarray  # carried by the grid or other firming
    soc_end: float

    @property
    def served(self) -> np.ndarray:
        return self.direct + self.discharged


def dispatch(supply: np.ndarray, load: np.ndarray, power_mw: float, energy_mwh: float, rte: float) -> Dispatch:
    """Greedy hourly dispatch (1-hour steps, so MW and MWh are the same numbers per step)."""
    direct = np.minimum(supply, load)
    surplus = supply - direct
    deficit = load - direct
    n = len(supply)
    charged = np.zeros(n)
    discharged = np.zeros(n)
    soc = 0.0
    if power_mw > 0 and energy_mwh > 0:
        sur = surplus.tolist()
        dfc = deficit.tolist()
        ch = [0.0] * n
        dis = [0.0] * n
        for h in range(n):
            s = sur[h]
            if s > 0.0:
                c = min(s, power_mw, (energy_mwh - soc) / rte)
                if c > 0.0:
                    ch[h] = c
                    soc += c * rte
            else:
                d = min(dfc[h], power_mw, soc)
                if d > 0.0:
                    dis[h] = d
                    soc -= d
        charged = np.asarray(ch)
        discharged = np.asarray(dis)
    return Dispatch(
        direct=direct,
        charged=charged,
        discharged=discharged,
        curtailed=surplus - charged,
        unmet=deficit - discharged,
        soc_end=soc,
    )


def cfe_score(d: Dispatch, load: np.ndarray) -> float:
    total = float(load.sum())
    return 1.0 if total <= 0 else float(d.served.sum()) / total


def matched_hours(d: Dispatch) -> int:
    return int((d.unmet < MATCHED_TOLERANCE_MW).sum())


def cycles(d: Dispatch, energy_mwh: float) -> float:
    """Equivalent full cycles: energy delivered / usable capacity."""
    return 0.0 if energy_mwh <= 0 else float(d.discharged.sum()) / energy_mwh
