"""The Energy section: a slot for the hourly energy model's charts (heat map, monthly matched/unmatched bars).

The model and its charts live in `kasbah.energy` (built separately); the page takes their SVG strings, so this
module never imports it. No model for the campus: the section says so instead of drawing anything."""

from __future__ import annotations

from kasbah.html_report.svg import esc, num
from kasbah.plan.derive import Plan


def energy_section(plan: Plan, heatmap_svg: str | None, monthly_svg: str | None) -> str:
    """The section's body: the two charts when the model ran, else a note; the plan's PPA figures either way."""
    e = plan.energy
    facts = (
        f"<p>PPA with {esc(e.supplier)}: "
        + (f"{esc(num(e.contracted_mw))} MW contracted, " if e.contracted_mw is not None else "capacity not given, ")
        + f"{e.renewable_share:.0%} renewable by share (declared {e.declared_renewable_share:.0%}); campus demand "
        f"{esc(num(e.demand_mw))} MW; firming {esc(num(e.firming_mw))} MW / {esc(num(e.firming_mwh))} MWh.</p>"
    )
    if heatmap_svg is None and monthly_svg is None:
        return facts + (
            '<p class="kb-empty" data-energy="none">The hourly energy model has no inputs for this campus, so there is '
            "no heat map of supply against load and no monthly matched/unmatched energy to show.</p>"
        )
    charts = "".join(f'<div class="kb-chart">{svg}</div>' for svg in (heatmap_svg, monthly_svg) if svg)
    return facts + charts
