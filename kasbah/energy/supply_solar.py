"""Solar PV output, hour by hour, with pvlib.

Clear sky: pvlib's Ineichen-Perez model with its bundled Linke turbidity climatology (Remund et al. 2003, SoDa)
at the site's latitude, longitude and altitude. Clouds: the Kasten-Czeplak relation (Kasten & Czeplak 1980,
Solar Energy 24:177) GHI = GHI_clear x (1 - 0.75 N^3.4), N the cloud cover fraction, with a seeded daily N: a
Beta-distributed cover (mean from the spec, Beta concentration CLOUD_CONCENTRATION) persisting day to day through a
Gaussian AR(1) copula (CLOUD_PERSISTENCE). The Erbs model (Erbs et al. 1982) splits GHI into beam and diffuse; the
isotropic sky model transposes to the panels (fixed tilt or pvlib's single-axis tracker with backtracking); output
is PVWatts-style: plane-of-array irradiance / 1,000 W/m2 x capacity x (1 - losses), clipped at capacity.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import betaincinv, ndtr

from kasbah.energy.year import ar1, hours_index, rng
from kasbah.spec.campus import Site, SolarPlant

CLOUD_CONCENTRATION = 4.0
"""Beta(a, b) with a + b = 4: a broad spread of clear, broken and overcast days. A modelling choice."""
CLOUD_PERSISTENCE = 0.6
"""Lag-1 correlation of daily cloud cover (weather systems last a few days). A modelling choice."""
STC_IRRADIANCE = 1000.0
"""W/m2 at standard test conditions (IEC 61215): the irradiance at which a module gives its rated power."""
KASTEN_A, KASTEN_B = 0.75, 3.4
"""Kasten & Czeplak (1980): GHI / GHI_clear = 1 - 0.75 N^3.4."""


def site_altitude(site: Site) -> float:
    """The spec's altitude, else pvlib's bundled altitude map (no network)."""
    if site.altitude_m is not None:
        return site.altitude_m
    from pvlib.location import lookup_altitude

    return float(lookup_altitude(site.latitude, site.longitude))


def daily_cloud_cover(mean: float, seed: int, days: int) -> np.ndarray:
    """Seeded daily cloud cover in [0, 1] with the given mean and day-to-day persistence."""
    g = rng(seed, "solar-clouds")
    z = ar1(g, days, CLOUD_PERSISTENCE)
    if mean <= 0.0:
        return np.zeros(days)
    if mean >= 1.0:
        return np.ones(days)
    a, b = mean * CLOUD_CONCENTRATION, (1 - mean) * CLOUD_CONCENTRATION
    return np.asarray(betaincinv(a, b, ndtr(z)))  # the Beta quantile of the Gaussian's probability


def solar_per_mw(site: Site, plant: SolarPlant, seed: int) -> np.ndarray:
    """Output of 1 MW (AC) of the plant, MW, for each hour of the reference year."""
    import pvlib

    times = hours_index()
    mid = times + pd.Timedelta(minutes=30)  # the sun's position at mid-hour stands for the hour
    alt = site_altitude(site)
    solpos = pvlib.solarposition.get_solarposition(mid, site.latitude, site.longitude, altitude=alt)
    airmass = pvlib.atmosphere.get_relative_airmass(solpos["apparent_zenith"])
    am_abs = pvlib.atmosphere.get_absolute_airmass(airmass, pvlib.atmosphere.alt2pres(alt))
    linke = pvlib.clearsky.lookup_linke_turbidity(mid, site.latitude, site.longitude)
    dni_extra = pvlib.irradiance.get_extra_radiation(mid)
    clear = pvlib.clearsky.ineichen(solpos["apparent_zenith"], am_abs, linke, altitude=alt, dni_extra=dni_extra)
    cover = daily_cloud_cover(plant.mean_cloud_cover, seed, len(times) // 24)
    factor = 1 - KASTEN_A * np.power(np.repeat(cover, 24), KASTEN_B)
    ghi = (clear["ghi"].to_numpy() * factor).clip(min=0)
    ghi_s = pd.Series(ghi, index=mid)
    split = pvlib.irradiance.erbs(ghi_s, solpos["zenith"], mid)
    if plant.tracking == "single_axis":
        track = pvlib.tracking.singleaxis(
            solpos["apparent_zenith"], solpos["azimuth"], axis_azimuth=plant.azimuth_deg - 180, backtrack=True
        )
        tilt = track["surface_tilt"].fillna(0)
        azimuth = track["surface_azimuth"].fillna(plant.azimuth_deg)
    else:
        tilt = abs(site.latitude) if plant.tilt_deg is None else plant.tilt_deg
        azimuth = plant.azimuth_deg
    poa = (
        pvlib.irradiance.get_total_irradiance(
            tilt,
            azimuth,
            solpos["apparent_zenith"],
            solpos["azimuth"],
            split["dni"],
            ghi_s,
            split["dhi"],
            dni_extra=dni_extra,
            model="isotropic",
        )["poa_global"]
        .fillna(0)
        .to_numpy()
    )
    out = poa / STC_IRRADIANCE * (1 - plant.losses)
    return np.clip(out, 0.0, 1.0)
