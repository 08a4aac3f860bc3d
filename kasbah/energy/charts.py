"""SVG charts of an energy result: inline-able (no external references, no scripts), <title>/<desc> with the key
numbers, ids from a fixed prefix, numbers printed with fixed precision: the same result gives the same bytes."""

from __future__ import annotations

from xml.sax.saxutils import escape

from kasbah.energy.model import EnergyResult

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
RAMP = ("#7f1d1d", "#b91c1c", "#dc2626", "#ea580c", "#f59e0b", "#facc15", "#a3e635", "#4ade80", "#16a34a", "#166534")
"""Ten steps of the hour's supply/load ratio, red (no renewable supply) to green (supply at or above the load)."""
MATCHED, UNMATCHED = "#16a34a", "#9ca3af"


def _bucket(supply: float, load: float) -> int:
    ratio = 1.0 if load <= 0 else supply / load
    return min(len(RAMP) - 1, max(0, int(ratio * (len(RAMP) - 1))))


def heatmap_svg(result: EnergyResult) -> str:
    """Hourly renewable supply / facility load, one column a day (365) and one row an hour of day (UTC)."""
    cell_w, cell_h, left, top = 2, 8, 40, 30
    width, height = left + 365 * cell_w + 10, top + 24 * cell_h + 40
    parts: list[str] = []
    for day in range(365):
        hour = 0
        while hour < 24:
            b = _bucket(result.supply_mw[day * 24 + hour], result.load_mw[day * 24 + hour])
            run = 1
            while (
                hour + run < 24
                and _bucket(result.supply_mw[day * 24 + hour + run], result.load_mw[day * 24 + hour + run]) == b
            ):
                run += 1
            parts.append(
                f'<rect x="{left + day * cell_w}" y="{top + hour * cell_h}" width="{cell_w}" '
                f'height="{run * cell_h}" fill="{RAMP[b]}"/>'
            )
            hour += run
    title = f"{result.campus} {result.phase}: hourly renewable supply against load"
    desc = (
        f"CFE score {result.cfe_score:.1%}, {result.hours_matched} of {result.hours} hours fully matched, "
        f"{result.unmet_mwh:,.0f} MWh unmet, {result.curtailed_mwh:,.0f} MWh curtailed. Columns are days, rows hours "
        "of day (UTC); colour is supply / load from red (0) to green (1 or more)."
    )
    labels = [
        f'<text x="{left - 4}" y="{top + h * cell_h + 7}" text-anchor="end" font-size="8">{h:02d}</text>'
        for h in range(0, 24, 6)
    ]
    labels += [
        f'<text x="{left + d * cell_w}" y="{top + 24 * cell_h + 12}" font-size="8">{MONTHS[i]}</text>'
        for i, d in enumerate((0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334))
    ]
    return _svg("kasbah-energy-heatmap", width, height, title, desc, parts + labels)


def monthly_svg(result: EnergyResult) -> str:
    """Per month: load matched by solar, wind and storage, and the unmatched rest (grid or firming), in GWh."""
    left, top, bar_w, gap, plot_h = 70, 30, 30, 12, 200
    width, height = left + 12 * (bar_w + gap) + 20, top + plot_h + 50
    peak = max((m.load_mwh for m in result.monthly), default=0.0) or 1.0
    parts: list[str] = []
    for i, m in enumerate(result.monthly):
        x = left + i * (bar_w + gap)
        h_match = m.matched_mwh / peak * plot_h
        h_un = m.unmatched_mwh / peak * plot_h
        base = top + plot_h
        parts.append(
            f'<rect x="{x}" y="{base - h_match:.2f}" width="{bar_w}" height="{h_match:.2f}" fill="{MATCHED}">'
            f"<title>{MONTHS[i]}: {m.matched_mwh / 1000:,.1f} GWh matched</title></rect>"
        )
        parts.append(
            f'<rect x="{x}" y="{base - h_match - h_un:.2f}" width="{bar_w}" height="{h_un:.2f}" fill="{UNMATCHED}">'
            f"<title>{MONTHS[i]}: {m.unmatched_mwh / 1000:,.1f} GWh unmatched</title></rect>"
        )
        parts.append(
            f'<text x="{x + bar_w / 2:.1f}" y="{base + 14}" text-anchor="middle" font-size="10">{MONTHS[i]}</text>'
        )
    parts.append(f'<text x="{left - 6}" y="{top + 4}" text-anchor="end" font-size="10">{peak / 1000:,.0f} GWh</text>')
    parts.append(f'<text x="{left - 6}" y="{top + plot_h}" text-anchor="end" font-size="10">0</text>')
    parts.append(
        f'<text x="{left}" y="{height - 10}" font-size="10"><tspan fill="{MATCHED}">■ matched</tspan> '
        f'<tspan fill="{UNMATCHED}">■ unmatched (grid or firming)</tspan></text>'
    )
    matched = sum(m.matched_mwh for m in result.monthly)
    unmatched = sum(m.unmatched_mwh for m in result.monthly)
    title = f"{result.campus} {result.phase}: load matched hour by hour, per month"
    desc = (
        f"{matched / 1000:,.1f} GWh matched and {unmatched / 1000:,.1f} GWh unmatched over the year; "
        f"CFE score {result.cfe_score:.1%}."
    )
    return _svg("kasbah-energy-monthly", width, height, title, desc, parts)


def _svg(ident: str, width: int, height: int, title: str, desc: str, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" id="{ident}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-labelledby="{ident}-title {ident}-desc" '
        'font-family="sans-serif">'
        f'<title id="{ident}-title">{escape(title)}</title><desc id="{ident}-desc">{escape(desc)}</desc>'
        f'<text x="10" y="16" font-size="12">{escape(title)}</text>' + "".join(body) + "</svg>\n"
    )
