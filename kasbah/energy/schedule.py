"""The power-following schedule: per-hour GPU power caps where storage and supply still fall short.

In an hour with unmet load every unprotected pod's GPUs get the same cap, a fraction of the GPU's maximum power,
just low enough to cover the shortfall (rounded up to CAP_STEP), never below the spec's floor, and only where the
cap binds (below what the GPUs draw at that hour's utilisation). Savings count GPU power only (GPUs x maximum W x
the cut, through the pod's PUE); the rest of a rack does not follow the cap. Cost: GPU-hours under a cap, and the
GPU-hours lost if throughput fell in proportion to power (a pessimistic bound: published power-capping studies find
throughput falls less than power).
"""

from __future__ import annotations

import math

import numpy as np

from kasbah.energy.load import PhaseLoad
from kasbah.energy.year import HOURS
from kasbah.plan.model import PlanModel

CAP_STEP = 0.01
"""Caps are whole percent of the GPU's maximum power."""


class HourCap(PlanModel):
    hour: int
    timestamp: str
    cap: float
    limits_w: dict[str, int]


class Schedule(PlanModel):
    floor: float
    gpu_max_w: dict[str, int]
    pods: list[str]
    protected_pods: list[str]
    gpus_capped: int
    hours_capped: int
    gpu_hours_capped: float
    gpu_hours_lost_proportional: float
    energy_shed_mwh: float
    entries: list[HourCap]


def caps(
    load: PhaseLoad, unmet: np.ndarray, floor: float, stamps: list[str]
) -> tuple[np.ndarray, np.ndarray, Schedule]:
    """(cap per hour or NaN, facility MW shed per hour, the schedule) for the campus as it stands after `load`."""
    pods = [p for p in load.pods if not p.protected and p.gpu_max_w and p.gpus]
    shed = np.zeros(HOURS)
    cap = np.full(HOURS, np.nan)
    if not pods:
        return cap, shed, _schedule(load, pods, cap, shed, floor, stamps)
    # Pods of one phase share a utilisation profile: group them, summing facility MW per unit of cap
    # (GPUs x max W x PUE), so each hour's search runs over a handful of groups, not every pod.
    groups: dict[int, tuple[np.ndarray, float]] = {}
    for p in pods:
        u, w = groups.get(id(p.utilisation), (p.utilisation, 0.0))
        groups[id(p.utilisation)] = (u, w + p.gpus * p.gpu_max_w * p.pue / 1e6)
    profiles = [g[0].tolist() for g in groups.values()]
    weights = [g[1] for g in groups.values()]
    unmet_l = unmet.tolist()
    for h in np.flatnonzero(unmet > 1e-9).tolist():
        us = [prof[h] for prof in profiles]
        top = max(us)
        if top <= floor:
            continue

        def shed_at(c: float, us: list[float] = us) -> float:
            return sum(w * max(0.0, u - c) for w, u in zip(weights, us, strict=True))

        if shed_at(floor) <= unmet_l[h]:
            c = floor
        else:
            lo, hi = floor, top  # shed_at(lo) > unmet >= shed_at(hi) = 0
            for _ in range(30):
                mid = (lo + hi) / 2
                if shed_at(mid) >= unmet_l[h]:
                    lo = mid
                else:
                    hi = mid
            c = max(floor, math.floor(lo / CAP_STEP + 1e-9) * CAP_STEP)
        c = max(floor, round(c, 2))
        if c < top:
            cap[h] = c
            shed[h] = shed_at(c)
    return cap, shed, _schedule(load, pods, cap, shed, floor, stamps)


def _schedule(load: PhaseLoad, pods: list, cap: np.ndarray, shed: np.ndarray, floor: float, stamps: list[str]):
    skus = {p.sku: p.gpu_max_w for p in pods}
    gpus = sum(p.gpus for p in pods)
    capped = np.flatnonzero(~np.isnan(cap))
    lost = 0.0
    for p in pods:
        u = p.utilisation[capped]
        c = cap[capped]
        with np.errstate(divide="ignore", invalid="ignore"):
            frac = np.where(u > 0, np.maximum(0, u - c) / u, 0.0)
        lost += float(p.gpus * frac.sum())
    entries = [
        HourCap(
            hour=int(h),
            timestamp=stamps[h],
            cap=float(cap[h]),
            limits_w={sku: math.floor(w * cap[h]) for sku, w in sorted(skus.items())},
        )
        for h in capped
    ]
    return Schedule(
        floor=floor,
        gpu_max_w=dict(sorted((p.sku, p.gpu_max_w) for p in load.pods if p.gpu_max_w)),
        pods=sorted(p.id for p in pods),
        protected_pods=sorted(p.id for p in load.pods if p.protected),
        gpus_capped=gpus,
        hours_capped=len(capped),
        gpu_hours_capped=float(gpus * len(capped)),
        gpu_hours_lost_proportional=round(lost, 1),
        energy_shed_mwh=round(float(shed.sum()), 3),
        entries=entries,
    )
