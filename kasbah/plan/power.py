"""Power: halls against their limits, racks against their cooling, the phase against its budget, PUE sanity."""

from __future__ import annotations

import math

from kasbah.findings import Finding, Level
from kasbah.plan.model import PlanModel
from kasbah.spec.phase import Power
from kasbah.yamlsource import SourceDoc

PUE_FLOOR = 1.0
PUE_IMPLAUSIBLE = 3.0
"""Above this a design PUE is almost certainly a typo: even old air-cooled rooms report about 2."""
PUE_DRIFT = 0.3
"""A phase whose design PUE is this far from the campus target gets a warning."""


class HallPlan(PlanModel):
    """A live hall. it_load_mw is the budget its pods need (the SU envelope where published), draw_mw what the units
    themselves draw at their maximum; utilisation and the hall's limit are held against the budget."""

    id: str
    built_in: str
    cooling: str
    power_limit_mw: float
    max_rack_kw: float
    pods: list[str]
    racks: int
    it_load_mw: float
    draw_mw: float
    utilisation: float


class PowerPlan(PlanModel):
    """The phase's own power (its increment) and the campus's after it.

    gpu_it_mw is what the facility budgets for the phase's GPU systems (for GB200 NVL72 NVIDIA's 1.2 MW per 8-rack
    SU, 150 kW a rack), gpu_draw_mw what those systems draw at their maximum (120 kW of compute trays a rack); the
    difference is the switch trays, power-shelf losses and SU network racks the published budget carries.
    """

    basis: str
    budget_mw: float
    design_pue: float
    redundancy: str
    cooling_redundancy: str
    gpu_it_mw: float
    gpu_draw_mw: float
    other_it_mw: float
    it_load_mw: float
    facility_mw: float
    counted_mw: float
    headroom_mw: float
    cumulative_budget_mw: float
    cumulative_it_load_mw: float
    cumulative_facility_mw: float


class GpuPowerLimit(PlanModel):
    """The per-GPU power limit that keeps a phase's GPU systems inside its IT envelope."""

    phase: str
    sku: str
    gpu_max_w: int
    limit_w: int
    envelope_share: float


def gpu_power_limits(plan: PowerPlan, *, phase: str, skus: dict[str, int | None]) -> list[GpuPowerLimit]:
    """Scale each SKU's maximum GPU power by the share of its demand the phase's budget can carry (never above 1).

    The IT room for GPU systems is the budget (on a facility basis: divided by the design PUE) less the other IT load.
    A phase inside its budget keeps the maximum, written explicitly so no node can be raised above it; SKUs with no
    published maximum are left out (nothing to scale).
    """
    room = plan.budget_mw if plan.basis == "it_load" else plan.budget_mw / plan.design_pue
    room -= plan.other_it_mw
    share = 1.0 if plan.gpu_it_mw <= 0 else max(0.0, min(1.0, room / plan.gpu_it_mw))
    return [
        GpuPowerLimit(phase=phase, sku=sku, gpu_max_w=w, limit_w=math.floor(w * share), envelope_share=round(share, 4))
        for sku, w in sorted(skus.items())
        if w is not None
    ]


def phase_power(
    power: Power,
    gpu_it_mw: float,
    *,
    gpu_draw_mw: float | None = None,
    cumulative_budget_mw: float,
    cumulative_it_mw: float,
    cumulative_facility_mw: float,
) -> PowerPlan:
    it = gpu_it_mw + power.other_it_mw
    facility = it * power.design_pue
    counted = it if power.basis == "it_load" else facility
    return PowerPlan(
        basis=power.basis,
        budget_mw=power.budget_mw,
        design_pue=power.design_pue,
        redundancy=power.redundancy,
        cooling_redundancy=power.cooling_redundancy,
        gpu_it_mw=round(gpu_it_mw, 3),
        gpu_draw_mw=round(gpu_it_mw if gpu_draw_mw is None else gpu_draw_mw, 3),
        other_it_mw=round(power.other_it_mw, 3),
        it_load_mw=round(it, 3),
        facility_mw=round(facility, 3),
        counted_mw=round(counted, 3),
        headroom_mw=round(power.budget_mw - counted, 3),
        cumulative_budget_mw=round(cumulative_budget_mw, 3),
        cumulative_it_load_mw=round(cumulative_it_mw, 3),
        cumulative_facility_mw=round(cumulative_facility_mw, 3),
    )


def budget_findings(plan: PowerPlan, doc: SourceDoc, *, phase: str, warn_ratio: float) -> list[Finding]:
    what = (
        "IT load"
        if plan.basis == "it_load"
        else f"facility power (IT {plan.it_load_mw:g} MW x PUE {plan.design_pue:g})"
    )
    out: list[Finding] = []
    if plan.counted_mw > plan.budget_mw:
        out.append(
            doc.finding(
                Level.ERROR,
                "power.over-budget",
                ("power", "budget_mw"),
                f"phase {phase}: {what} is {plan.counted_mw:g} MW, over its budget of {plan.budget_mw:g} MW "
                f"by {plan.counted_mw - plan.budget_mw:.3f} MW",
                "remove pods, lower other_it_mw, or raise power.budget_mw if the grid connection allows it",
            )
        )
    elif plan.counted_mw > warn_ratio * plan.budget_mw:
        out.append(
            doc.finding(
                Level.WARNING,
                "power.near-budget",
                ("power", "budget_mw"),
                f"phase {phase}: {what} is {plan.counted_mw:g} MW, {plan.counted_mw / plan.budget_mw:.0%} of its "
                f"{plan.budget_mw:g} MW budget (warning above {warn_ratio:.0%})",
                "leave headroom for cooling excursions, or confirm the budget counts what you think it counts",
            )
        )
    return out


def pue_findings(power: Power, doc: SourceDoc, *, campus_pue: float, phase: str) -> list[Finding]:
    pue = power.design_pue
    path = ("power", "design_pue")
    if pue < PUE_FLOOR:
        return [
            doc.finding(
                Level.ERROR,
                "power.pue-below-one",
                path,
                f"design PUE {pue:g} is below 1.0: a facility cannot use less power than its IT load",
                "PUE = facility power / IT power; liquid-cooled halls reach about 1.1-1.2",
            )
        ]
    if pue > PUE_IMPLAUSIBLE:
        return [
            doc.finding(
                Level.WARNING,
                "power.pue-implausible",
                path,
                f"design PUE {pue:g} is implausibly high (above {PUE_IMPLAUSIBLE:g})",
                "check the value: is it a percentage or a typo?",
            )
        ]
    if abs(pue - campus_pue) > PUE_DRIFT:
        return [
            doc.finding(
                Level.WARNING,
                "power.pue-far-from-design",
                path,
                f"phase {phase} design PUE {pue:g} is far from the campus design PUE {campus_pue:g} "
                f"(more than {PUE_DRIFT:g} apart)",
                "align the phase with the campus target, or change the campus's design_pue",
            )
        ]
    return []
