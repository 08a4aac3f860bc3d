"""Wind farm output, hour by hour, with windpowerlib's bundled power curves.

Wind at hub height: a seeded Weibull/AR(1) model (the Gaussian-transform approach of Brown, Katz & Murphy 1984,
J. Climate Appl. Meteor. 23:1184): a unit Gaussian AR(1) process with the spec's hour-to-hour correlation, mapped
through the normal CDF onto a Weibull distribution with the spec's mean and shape at the reference height, then
scaled to the hub with the Hellman power law (windpowerlib.wind_speed.hellman). Power: windpowerlib's
power_output.power_curve on the turbine's curve from the CSV shipped inside windpowerlib (never the OEDB online).
"""

from __future__ import annotations

import math
from functools import cache
from importlib import resources

import numpy as np
import pandas as pd
from scipy.special import ndtr

from kasbah.energy.year import HOURS, ar1, rng
from kasbah.spec.campus import WindPlant


@cache
def _curves() -> pd.DataFrame:
    path = resources.files("windpowerlib") / "data" / "default_turbine_data" / "power_curves.csv"
    with resources.as_file(path) as p:
        return pd.read_csv(p, index_col=0)


def turbine_types() -> list[str]:
    """Turbine types with a power curve in windpowerlib's bundled data."""
    return sorted(_curves().index)


def power_curve(turbine: str) -> tuple[np.ndarray, np.ndarray]:
    """(wind speed m/s, power W) of a bundled turbine; KeyError when windpowerlib ships no curve for it."""
    row = _curves().loc[turbine].dropna()
    return row.index.astype(float).to_numpy(), row.to_numpy(dtype=float)


def hub_wind_speed(plant: WindPlant, seed: int) -> np.ndarray:
    """Seeded hourly wind speed at hub height, m/s."""
    from windpowerlib.wind_speed import hellman

    g = rng(seed, "wind")
    z = ar1(g, HOURS, plant.autocorrelation)
    k = plant.weibull_k
    scale = plant.mean_speed_ms / math.gamma(1 + 1 / k)
    u = np.clip(ndtr(z), 1e-12, 1 - 1e-12)
    v_ref = scale * np.power(-np.log1p(-u), 1 / k)
    ref_h = plant.reference_height_m or plant.hub_height_m
    return np.asarray(hellman(pd.Series(v_ref), ref_h, plant.hub_height_m, hellman_exponent=plant.hellman_exponent))


def wind_per_mw(plant: WindPlant, seed: int) -> np.ndarray:
    """Output of 1 MW of the farm, MW, for each hour."""
    from windpowerlib.power_output import power_curve as pc

    speeds, watts = power_curve(plant.turbine)
    v = hub_wind_speed(plant, seed)
    rated = float(watts.max())
    p = np.asarray(pc(pd.Series(v), pd.Series(speeds), pd.Series(watts)), dtype=float)
    return np.clip(p / rated * (1 - plant.losses), 0.0, 1.0)
