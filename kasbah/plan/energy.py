"""Energy supply: the PPA's renewable share and capacity against the campus's demand."""

from __future__ import annotations

from kasbah.findings import Finding, Level
from kasbah.plan.model import PlanModel
from kasbah.spec.campus import RENEWABLE_KINDS, Energy
from kasbah.yamlsource import SourceDoc

SHARE_TOLERANCE = 0.001


class EnergyPlan(PlanModel):
    supplier: str
    contracted_mw: float | None
    declared_renewable_share: float
    renewable_share: float
    demand_mw: float
    contract_headroom_mw: float | None
    firming_mw: float
    firming_mwh: float


def plan_energy(energy: Energy, doc: SourceDoc, *, demand_mw: float) -> tuple[EnergyPlan, list[Finding]]:
    out: list[Finding] = []
    total = sum(s.share for s in energy.sources)
    renewable = sum(s.share for s in energy.sources if s.kind in RENEWABLE_KINDS)
    if abs(total - 1.0) > SHARE_TOLERANCE:
        out.append(
            doc.finding(
                Level.ERROR,
                "energy.shares",
                ("energy", "sources"),
                f"energy source shares add up to {total:.3f}, not 1",
                "shares are fractions of the campus's annual energy; make them sum to 1",
            )
        )
    if renewable + SHARE_TOLERANCE < energy.declared_renewable_share:
        out.append(
            doc.finding(
                Level.ERROR,
                "energy.renewable-share",
                ("energy", "declared_renewable_share"),
                f"the sources give a renewable share of {renewable:.1%}, below the declared "
                f"{energy.declared_renewable_share:.1%}",
                "add renewable sources (solar_pv, csp, wind, hydro) or lower declared_renewable_share",
            )
        )
    headroom = None
    if energy.contracted_mw is None:
        out.append(
            doc.finding(
                Level.INFO,
                "energy.contract-unknown",
                ("energy",),
                "the PPA's contracted capacity is not given, so demand is not checked against it",
                "set energy.contracted_mw when the figure is known",
            )
        )
    else:
        headroom = round(energy.contracted_mw - demand_mw, 3)
        if headroom < 0:
            out.append(
                doc.finding(
                    Level.ERROR,
                    "energy.over-contract",
                    ("energy", "contracted_mw"),
                    f"facility demand of {demand_mw:g} MW exceeds the {energy.contracted_mw:g} MW contracted "
                    f"with {energy.ppa_supplier}",
                    "extend the PPA or phase the build within it",
                )
            )
    variable = any(s.kind in ("solar_pv", "wind") for s in energy.sources)
    if variable and not energy.firming:
        out.append(
            doc.finding(
                Level.WARNING,
                "energy.no-firming",
                ("energy", "firming"),
                "solar and wind supply a constant GPU load without any firming (storage, grid or gas)",
                "declare the batteries, pumped hydro or grid backup that carry the load when the wind drops",
            )
        )
    plan = EnergyPlan(
        supplier=energy.ppa_supplier,
        contracted_mw=energy.contracted_mw,
        declared_renewable_share=energy.declared_renewable_share,
        renewable_share=round(renewable, 4),
        demand_mw=round(demand_mw, 3),
        contract_headroom_mw=headroom,
        firming_mw=round(sum(f.power_mw for f in energy.firming), 3),
        firming_mwh=round(sum(f.energy_mwh or 0 for f in energy.firming), 3),
    )
    return plan, out
