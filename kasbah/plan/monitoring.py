"""Alert thresholds as numbers the rules can use: the spec's percentages and margins turned into MW, PUE and shares."""

from __future__ import annotations

from kasbah.monitoring import exporters as ex
from kasbah.plan.model import PlanModel
from kasbah.spec.campus import Campus


class ReceiverPlan(PlanModel):
    owner: str
    page_url: str | None
    ticket_url: str | None
    token_var: str | None


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
    hall_telemetry: dict[str, str]
    fabric_telemetry: dict[str, str]
    energy_telemetry: str
    receivers: list[ReceiverPlan]


def plan_monitoring(
    campus: Campus,
    *,
    basis: str,
    budget_mw: float,
    design_pue: float,
    hall_telemetry: dict[str, str | None],
    fabric_telemetry: dict[str, str | None],
) -> MonitoringPlan:
    """`budget_mw` is the campus's cumulative budget at this phase on `basis` (it_load or facility power).

    Telemetry endpoints the spec leaves out are named in the campus's internal DNS zone (one name per hall, fabric
    and the intake meters, on the exporters' ports), so every scrape job has a target an operator can create.
    """
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
        hall_telemetry={h: e or ex.facility_target(campus.name, h) for h, e in sorted(hall_telemetry.items())},
        fabric_telemetry={p: e or ex.ufm_target(campus.name, p) for p, e in fabric_telemetry.items()},
        energy_telemetry=m.energy_telemetry or ex.energy_target(campus.name),
        receivers=[
            ReceiverPlan(owner=o, page_url=r.page_url, ticket_url=r.ticket_url, token_var=r.token_var)
            for o, r in sorted(m.receivers.items())
        ],
    )
