"""Campus growth: each phase's facility and IT MW, racks and GPUs, stacked phase by phase at each phase's date,
against the PPA's contracted capacity and the campus's budget after this phase (all figures from the plan)."""

from __future__ import annotations

from kasbah.html_report.svg import data, esc, figure, fill, line, num, rect, text
from kasbah.plan.derive import Plan

PANEL_W = 232
PANEL_H = 250
TOP = 48
LEFT = 14


def _panel(
    x0: float,
    title: str,
    unit: str,
    columns: list[list[tuple[int, float]]],
    labels: list[tuple[str, str]],
    refs: list[tuple[str, float, str]],
    key: str,
) -> str:
    """One stacked-column panel: columns[k] lists (phase index, value) standing at date k."""
    tops = [sum(v for _, v in col) for col in columns]
    peak = max([*tops, *(r[1] for r in refs), 1e-9])
    plot_h = PANEL_H - 70
    base_y = TOP + 22 + plot_h
    scale = plot_h / peak
    out = [text(x0 + PANEL_W / 2, TOP, f"{title} ({unit})" if unit else title, anchor="middle", weight="bold")]
    n = max(len(columns), 1)
    slot = (PANEL_W - 20) / n
    bw = min(48.0, slot * 0.6)
    for k, col in enumerate(columns):
        cx = x0 + 10 + slot * (k + 0.5)
        y = base_y
        for phase_index, value in col:
            h = value * scale
            y -= h
            out.append(
                rect(
                    cx - bw / 2,
                    y,
                    bw,
                    h,
                    fill_=fill(phase_index),
                    stroke="#222",
                    sw=0.8,
                    extra=data(metric=key, phase=labels[phase_index][0], value=value),
                )
            )
            if h >= 13:
                out.append(
                    f'<rect x="{cx - 24:.2f}" y="{y + h / 2 - 8:.2f}" width="48" height="14" rx="3" '
                    'fill="#fff" fill-opacity="0.85"/>'
                )
                out.append(text(cx, y + h / 2 + 3, num(value), size=10, anchor="middle"))
        out.append(text(cx, base_y + 14, labels[k][0], size=11, anchor="middle", weight="bold"))
        out.append(text(cx, base_y + 27, labels[k][1], size=10, anchor="middle", fill_="#444"))
    out.append(line(x0 + 6, base_y, x0 + PANEL_W - 6, base_y, stroke="#222"))
    for i, (label, value, dash) in enumerate(refs):
        y = base_y - value * scale
        out.append(
            line(
                x0 + 6,
                y,
                x0 + PANEL_W - 6,
                y,
                stroke="#000",
                sw=1.4,
                dash=dash,
                extra=data(reference=label, value=value),
            )
        )
        # Labels under their line (the panel title is above); a second line close to the first stacks below it.
        below = 12 if i == 0 or abs(refs[0][1] - value) * scale >= 24 else 24
        out.append(text(x0 + 8, y + below, f"{label} {num(value)}", size=10))
    return "".join(out)


def growth_figure(plan: Plan) -> str:
    """Four panels (facility MW, IT MW, racks, GPUs); each column is a phase date, each block a phase's own figure."""
    phases = plan.phases
    labels = [(p.id, p.ready_by.isoformat()) for p in phases]

    def cols(attr: str) -> list[list[tuple[int, float]]]:
        return [[(i, float(getattr(q, attr))) for i, q in enumerate(phases[: k + 1])] for k in range(len(phases))]

    refs_fac: list[tuple[str, float, str]] = []
    if plan.energy.contracted_mw is not None:
        refs_fac.append((f"PPA {plan.energy.supplier}", plan.energy.contracted_mw, "6 3"))
    refs_fac.append((f"budget after {plan.phase}", plan.power.cumulative_budget_mw, "2 2"))
    body = [
        _panel(LEFT, "Facility", "MW", cols("facility_mw"), labels, refs_fac, "facility_mw"),
        _panel(LEFT + PANEL_W, "IT load", "MW", cols("it_load_mw"), labels, [], "it_load_mw"),
        _panel(LEFT + 2 * PANEL_W, "Racks", "", [[(i, v) for i, v in c] for c in cols("racks")], labels, [], "racks"),
        _panel(LEFT + 3 * PANEL_W, "GPUs", "", cols("gpus"), labels, [], "gpus"),
    ]
    legend = []
    for i, p in enumerate(phases):
        x = LEFT + 10 + i * 240
        legend.append(rect(x, 10, 16, 14, fill_=fill(i), stroke="#222", sw=0.8))
        legend.append(text(x + 22, 21, f"{p.id} (ready by {p.ready_by.isoformat()})", size=11))
    c = plan.power
    e = plan.energy
    desc = (
        f"Campus {plan.campus} after {plan.phase}: facility {num(c.cumulative_facility_mw)} MW, "
        f"IT load {num(c.cumulative_it_load_mw)} MW, {num(plan.cumulative.racks)} racks, "
        f"{num(plan.cumulative.gpus)} GPUs; budget {num(c.cumulative_budget_mw)} MW"
        + (f", PPA contracted {num(e.contracted_mw)} MW with {e.supplier}" if e.contracted_mw is not None else "")
        + ". By phase: "
        + "; ".join(
            f"{p.id} ready by {p.ready_by.isoformat()}: facility {num(p.facility_mw)} MW, IT {num(p.it_load_mw)} MW, "
            f"{num(p.racks)} racks, {num(p.gpus)} GPUs"
            for p in phases
        )
        + "."
    )
    width = LEFT * 2 + 4 * PANEL_W
    return figure(
        "fig-growth", width, TOP + PANEL_H, f"Campus growth to {plan.phase}", desc, "".join(legend) + "".join(body)
    )


def growth_notes(plan: Plan) -> str:
    """What the columns do not show: decommissioned pieces and the basis each phase's budget counts."""
    items = [
        f"<li>{esc(p.id)}: budget {esc(num(p.budget_mw))} MW counted as {esc(p.basis.replace('_', ' '))}"
        + (f"; decommissioned {esc(', '.join(p.decommissioned))}" if p.decommissioned else "")
        + "</li>"
        for p in plan.phases
    ]
    return f'<ul class="kb-notes">{"".join(items)}</ul>'
