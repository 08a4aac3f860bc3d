"""Alert thresholds as numbers the rules can use: the spec's percentages and margins turned into MW, PUE and shares."""

from __future__ import annotations

from kasbah.plan.model import PlanModel
from kasbah.spec.campus import Campus


class MonitoringPlan(PlanModel):
    scrape_interval_s: int
    gpu_temp_warning_c: float
    gpu_temp_critical_c: float
    xid_critical: list[int]
    power_basis: str
    power_budget_mw: float
    power_warning_mw: float
    design_pue: float
    pue_alert_above: float
    renewable_commitment: float
    contracted_mw: float | None


def plan_monitoring(campus: Campus, *, basis: str, budget_mw: float, design_pue: float) -> MonitoringPlan:
    """`budget_mw` is the campus's cumulative budget at this phase on `basis` (it_load or facility power)."""
    m = campus.monitoring
    return MonitoringPlan(
        scrape_interval_s=m.scrape_interval_s,
        gpu_temp_warning_c=m.gpu_temp_warning_c,
        gpu_temp_critical_c=m.gpu_temp_critical_c,
        xid_critical=sorted(set(m.xid_critical)),
        power_basis=basis,
        power_budget_mw=budget_mw,
        power_warning_mw=round(budget_mw * m.power_budget_warning, 3),
        design_pue=design_pue,
        pue_alert_above=round(design_pue + m.pue_margin, 3),
        renewable_commitment=campus.energy.declared_renewable_share,
        contracted_mw=campus.energy.contracted_mw,
    )
