"""The hour-by-hour energy model of a phase spec: supply, load per phase, dispatch, storage sizing, the schedule."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
from pydantic import Field

from kasbah.energy import dispatch as dsp
from kasbah.energy.load import PhaseLoad, PodLoad, profile
from kasbah.energy.measured import read_series
from kasbah.energy.schedule import Schedule, caps
from kasbah.energy.storage_sizing import DEFAULT_DURATION_H, storage_for_target
from kasbah.energy.year import HOURS, hours_index, seed_for
from kasbah.findings import Finding, Level, did_you_mean
from kasbah.plan.derive import Plan
from kasbah.plan.model import PlanModel
from kasbah.spec.campus import SolarPlant, WindPlant
from kasbah.spec.load import LoadedSpec

STORAGE_KINDS = ("battery", "pumped_hydro")
WIND_SEARCH_MAX = 10.0
"""Largest wind multiple tried when telling how much more wind would reach the target."""
STEPS = ("solar", "wind", "load", "dispatch", "storage sizing", "schedule")
"""The progress bar's steps, in order."""

Progress = Callable[[str], None]


class PlantResult(PlanModel):
    source: str
    mw: float
    derived: bool
    capacity_factor: float
    annual_mwh: float
    measured: str | None


class StorageResult(PlanModel):
    power_mw: float
    energy_mwh: float
    round_trip_efficiency: float


class StorageNeed(PlanModel):
    power_mw: float
    energy_mwh: float


class MonthResult(PlanModel):
    month: int
    load_mwh: float
    supply_mwh: float
    matched_mwh: float
    unmatched_mwh: float


class PhaseResult(PlanModel):
    """The campus as it stands after one phase, over the modelled year."""

    phase: str
    annual_load_mwh: float
    peak_load_mw: float
    cfe_score_without_storage: float
    cfe_score: float
    cfe_score_with_caps: float
    hours_matched: int
    unmet_mwh: float
    curtailed_mwh: float
    storage_cycles: float
    storage_for_target: StorageNeed | None


class EnergyResult(PlanModel):
    """What `kasbah energy --json` prints; the top-level figures are the target phase's (the campus as it stands)."""

    campus: str
    phase: str
    hours: int
    seed: int
    latitude: float
    longitude: float
    plants: list[PlantResult]
    storage: StorageResult
    target_cfe: float | None
    declared_renewable_share: float
    cfe_score: float
    hours_matched: int
    unmet_mwh: float
    curtailed_mwh: float
    storage_cycles: float
    storage_for_target: StorageNeed | None
    cfe_score_with_caps: float
    phases: list[PhaseResult]
    monthly: list[MonthResult]
    schedule: Schedule
    supply_mw: list[float] = Field(exclude=True, repr=False)
    load_mw: list[float] = Field(exclude=True, repr=False)
    served_mw: list[float] = Field(exclude=True, repr=False)


def _r(x: float, nd: int = 3) -> float:
    return round(float(x), nd)


def run_model(
    spec: LoadedSpec, plan: Plan, progress: Progress | None = None
) -> tuple[EnergyResult | None, list[Finding]]:
    """The year for the spec's chain, or None when the campus declares no hourly model (or its inputs are bad)."""
    tick = progress or (lambda _step: None)
    campus = spec.campus
    hourly = campus.energy.hourly
    if hourly is None:
        return None, []
    doc = spec.campus_doc
    out: list[Finding] = []
    seed = (
        hourly.seed if hourly.seed is not None else seed_for(campus.name, campus.site.latitude, campus.site.longitude)
    )
    shares = {s.kind: 0.0 for s in campus.energy.sources}
    for s in campus.energy.sources:
        shares[s.kind] += s.share
    base = Path(doc.file).parent

    # Load first: plants without a size are derived from the final phase's annual energy.
    loads = _loads(spec, plan, out)
    tick("load")
    if any(f.level >= Level.ERROR for f in out):
        return None, out
    final = loads[-1].facility()
    annual = float(final.sum())

    supply = np.zeros(HOURS)
    by_source: dict[str, np.ndarray] = {}
    plants: list[PlantResult] = []
    # Per source: its hourly MW per MW built and, for a derived size, its share of a year's energy. A derived plant
    # grows with the campus: each phase's figures use the size its own load derives, so phase 1's score is the same
    # whichever phase file the model runs from.
    scaled: list[tuple[str, np.ndarray, float, float]] = []
    fixed = np.zeros(HOURS)
    for source, plant, path in (
        ("solar_pv", hourly.solar, ("energy", "hourly", "solar")),
        ("wind", hourly.wind, ("energy", "hourly", "wind")),
    ):
        share = shares.get(source, 0.0)
        if plant is None and share <= 0:
            tick(source if source == "wind" else "solar")
            continue
        where = path if plant is not None else ("energy", "sources")
        if plant is None:
            plant = SolarPlant() if source == "solar_pv" else WindPlant()
        series = _plant_series(source, plant, campus, seed, base, path, doc, out)
        tick("solar" if source == "solar_pv" else "wind")
        if series is None:
            continue
        per_mw, measured = series
        if measured is not None:
            mw = plant.mw or float(per_mw.max())
            absolute = per_mw
            cf = float(absolute.mean()) / mw if mw else 0.0
            derived = False
        else:
            cf = float(per_mw.mean())
            derived = plant.mw is None
            mw = plant.mw if plant.mw is not None else (share * annual / (HOURS * cf) if cf > 0 else 0.0)
            absolute = per_mw * mw
            if derived:
                scaled.append((source, per_mw, share, cf))
                out.append(
                    doc.finding(
                        Level.INFO,
                        "energy.plant-derived",
                        where,
                        f"{source} plant size not given: {mw:.1f} MW derived from its {share:.0%} share of "
                        f"{annual / 1000:.1f} GWh a year (phase {loads[-1].phase}'s facility load) at the model's "
                        f"capacity factor of {cf:.1%}; each earlier phase's figures use the size its own load "
                        "derives, as the PPA grows with the campus",
                        f"set energy.hourly.{'solar' if source == 'solar_pv' else 'wind'}.mw to the PPA's figure",
                    )
                )
        supply += absolute
        if not derived:
            fixed += absolute
        by_source[source] = absolute
        plants.append(
            PlantResult(
                source=source,
                mw=_r(mw, 1),
                derived=derived,
                capacity_factor=_r(cf, 4),
                annual_mwh=_r(absolute.sum(), 1),
                measured=measured,
            )
        )
    if any(f.level >= Level.ERROR for f in out):
        return None, out

    stores = [f for f in campus.energy.firming if f.kind in STORAGE_KINDS]
    p_mw = sum(f.power_mw for f in stores)
    e_mwh = sum(f.energy_mwh if f.energy_mwh is not None else f.power_mw * DEFAULT_DURATION_H for f in stores)
    rte = sum(f.round_trip_efficiency * f.power_mw for f in stores) / p_mw if p_mw else 0.85
    duration = e_mwh / p_mw if p_mw else DEFAULT_DURATION_H
    stamps = [t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in hours_index()]

    phases: list[PhaseResult] = []
    target_d: dsp.Dispatch | None = None
    schedule: Schedule | None = None

    def supply_of(load: np.ndarray) -> np.ndarray:
        """The supply when the campus carries `load`: fixed plants as built, derived ones sized from its energy."""
        if not scaled or load is final:
            return supply
        grown = fixed.copy()
        energy = float(load.sum())
        for _source, per_mw, share, cf in scaled:
            grown += per_mw * (share * energy / (HOURS * cf))
        return grown

    for i, pl in enumerate(loads):
        load = final if i == len(loads) - 1 else pl.facility()
        here = supply_of(load)
        bare = dsp.dispatch(here, load, 0.0, 0.0, 1.0)
        d = dsp.dispatch(here, load, p_mw, e_mwh, rte)
        if i == len(loads) - 1:
            tick("dispatch")
        need = None
        if hourly.target_cfe is not None:
            got = storage_for_target(here, load, hourly.target_cfe, duration, rte)
            need = StorageNeed(power_mw=got[0], energy_mwh=got[1]) if got else None
        if i == len(loads) - 1:
            tick("storage sizing")
        _, shed, sched = caps(pl, d.unmet, hourly.gpu_cap_floor, stamps)
        capped_load = load - shed
        with_caps = dsp.cfe_score(dsp.dispatch(here, capped_load, p_mw, e_mwh, rte), capped_load)
        phases.append(
            PhaseResult(
                phase=pl.phase,
                annual_load_mwh=_r(load.sum(), 1),
                peak_load_mw=_r(load.max()),
                cfe_score_without_storage=_r(dsp.cfe_score(bare, load), 4),
                cfe_score=_r(dsp.cfe_score(d, load), 4),
                cfe_score_with_caps=_r(with_caps, 4),
                hours_matched=dsp.matched_hours(d),
                unmet_mwh=_r(d.unmet.sum(), 1),
                curtailed_mwh=_r(d.curtailed.sum(), 1),
                storage_cycles=_r(dsp.cycles(d, e_mwh), 1),
                storage_for_target=need,
            )
        )
        target_d, schedule = d, sched
    tick("schedule")
    assert target_d is not None and schedule is not None
    last = phases[-1]
    load = loads[-1].facility()
    out.extend(_target_findings(spec, last, hourly.target_cfe, supply, by_source.get("wind"), load, (p_mw, e_mwh, rte)))
    month = hours_index().month.to_numpy()
    monthly = [
        MonthResult(
            month=m,
            load_mwh=_r(load[month == m].sum(), 1),
            supply_mwh=_r(supply[month == m].sum(), 1),
            matched_mwh=_r(target_d.served[month == m].sum(), 1),
            unmatched_mwh=_r(target_d.unmet[month == m].sum(), 1),
        )
        for m in range(1, 13)
    ]
    result = EnergyResult(
        campus=campus.name,
        phase=spec.target.phase.id,
        hours=HOURS,
        seed=seed,
        latitude=campus.site.latitude,
        longitude=campus.site.longitude,
        plants=plants,
        storage=StorageResult(power_mw=_r(p_mw, 1), energy_mwh=_r(e_mwh, 1), round_trip_efficiency=_r(rte, 4)),
        target_cfe=hourly.target_cfe,
        declared_renewable_share=campus.energy.declared_renewable_share,
        cfe_score=last.cfe_score,
        hours_matched=last.hours_matched,
        unmet_mwh=last.unmet_mwh,
        curtailed_mwh=last.curtailed_mwh,
        storage_cycles=last.storage_cycles,
        storage_for_target=last.storage_for_target,
        cfe_score_with_caps=last.cfe_score_with_caps,
        phases=phases,
        monthly=monthly,
        schedule=schedule,
        supply_mw=[_r(x) for x in supply],
        load_mw=[_r(x) for x in load],
        served_mw=[_r(x) for x in target_d.served],
    )
    return result, out


def _plant_series(source, plant, campus, seed, base, path, doc, out) -> tuple[np.ndarray, str | None] | None:
    if plant.csv is not None:
        file = base / plant.csv
        series, problems = read_series(file, str(file), plant.mw)
        out.extend(problems)
        return None if series is None else (series, plant.csv)
    if source == "solar_pv":
        from kasbah.energy.supply_solar import solar_per_mw

        return solar_per_mw(campus.site, plant, seed), None
    from kasbah.energy.supply_wind import turbine_types, wind_per_mw

    types = turbine_types()
    if plant.turbine not in types:
        out.append(
            doc.finding(
                Level.ERROR,
                "energy.turbine-unknown",
                (*path, "turbine"),
                f"windpowerlib ships no power curve for turbine '{plant.turbine}'",
                did_you_mean(plant.turbine, types) or f"pick one of its {len(types)} bundled types, e.g. {types[0]}",
            )
        )
        return None
    return wind_per_mw(plant, seed), None


def _loads(spec: LoadedSpec, plan: Plan, out: list[Finding]) -> list[PhaseLoad]:
    """The campus after each phase of the chain: pods built so far (the plan's live pods) and other IT."""
    campus_util = profile(spec.campus.energy.hourly.utilisation if spec.campus.energy.hourly else 1.0)
    order = [lp.phase.id for lp in spec.phases]
    gpu_w = {g.sku: g.gpu_max_w for g in plan.gpu_power_limits}
    protected: set[str] = set()
    live = {p.id for p in plan.pods}
    for lp in spec.phases:
        for j, pod in enumerate(lp.phase.energy.protected_pods):
            if pod not in live:
                out.append(
                    lp.doc.finding(
                        Level.ERROR,
                        "energy.protected-pod-unknown",
                        ("energy", "protected_pods", j),
                        f"protected pod '{pod}' is not a live pod of the campus",
                        did_you_mean(pod, live) or "name a pod listed under a hall of this or an earlier phase",
                    )
                )
            protected.add(pod)
    utils = {
        lp.phase.id: (profile(lp.phase.energy.utilisation) if lp.phase.energy.utilisation is not None else campus_util)
        for lp in spec.phases
    }
    pue = {lp.phase.id: lp.phase.power.design_pue for lp in spec.phases}
    loads: list[PhaseLoad] = []
    other = 0.0
    for i, lp in enumerate(spec.phases):
        other += lp.phase.power.other_it_mw * lp.phase.power.design_pue
        built = set(order[: i + 1])
        pods = [
            PodLoad(
                id=p.id,
                phase=p.phase,
                sku=p.sku,
                budget_mw=p.budget_kw / 1000,
                gpus=p.gpus,
                gpu_max_w=gpu_w.get(p.sku),
                pue=pue[p.phase],
                protected=p.id in protected,
                utilisation=utils[p.phase],
            )
            for p in plan.pods
            if p.phase in built
        ]
        loads.append(PhaseLoad(phase=lp.phase.id, pods=pods, other_facility_mw=other))
    return loads


def _target_findings(
    spec: LoadedSpec,
    last: PhaseResult,
    target: float | None,
    supply: np.ndarray,
    wind: np.ndarray | None,
    load: np.ndarray,
    store: tuple[float, float, float],
) -> list[Finding]:
    doc = spec.campus_doc
    out: list[Finding] = []
    declared = spec.campus.energy.declared_renewable_share
    if last.cfe_score + 1e-9 < declared:
        out.append(
            doc.finding(
                Level.WARNING,
                "energy.hourly-share-short",
                ("energy", "declared_renewable_share"),
                f"phase {last.phase}: hour by hour, solar, wind and storage meet {last.cfe_score:.1%} of the load, "
                f"{declared - last.cfe_score:.1%} short of the declared {declared:.0%} renewable share "
                f"({last.unmet_mwh / 1000:,.1f} GWh a year from the grid or firming)",
                _remedy(last, "the declared share"),
            )
        )
    if target is not None and last.cfe_score + 1e-9 < target:
        wind_x = _wind_multiple(supply, wind, load, target, store)
        more = f"; or {wind_x:.2f}x the wind capacity" if wind_x else ""
        out.append(
            doc.finding(
                Level.WARNING,
                "energy.cfe-below-target",
                ("energy", "hourly", "target_cfe"),
                f"phase {last.phase}: CFE score {last.cfe_score:.1%} is {target - last.cfe_score:.1%} below the "
                f"target of {target:.0%}",
                _remedy(last, "the target") + more,
            )
        )
    return out


def _remedy(last: PhaseResult, what: str) -> str:
    need = last.storage_for_target
    parts = []
    if need is not None:
        parts.append(f"storage of {need.power_mw:g} MW / {need.energy_mwh:g} MWh reaches {what}")
    else:
        parts.append("no storage size tried reaches it: add wind (it blows at night) or solar")
    parts.append(f"GPU power caps raise the score to {last.cfe_score_with_caps:.1%}")
    return "; ".join(parts)


def _wind_multiple(
    supply: np.ndarray, wind: np.ndarray | None, load: np.ndarray, target: float, store: tuple[float, float, float]
) -> float | None:
    """The smallest multiple of today's wind capacity (to 0.01) reaching the target with today's storage, or None."""
    if wind is None or wind.sum() <= 0:
        return None

    def score(m: float) -> float:
        return dsp.cfe_score(dsp.dispatch(supply + (m - 1) * wind, load, *store), load)

    if score(WIND_SEARCH_MAX) < target:
        return None
    lo, hi = 1.0, WIND_SEARCH_MAX
    while hi - lo > 0.005:
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if score(mid) >= target else (mid, hi)
    return math.ceil(hi * 100) / 100
