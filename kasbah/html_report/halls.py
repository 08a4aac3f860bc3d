"""Site and halls: each hall a block whose width is its IT MW (the planner's budget), its pods inside it, coloured
and patterned by the phase that built them; then a rack elevation of each system kind with its per-rack power."""

from __future__ import annotations

import math

from kasbah.html_report.svg import data, figure, fill, num, rect, text
from kasbah.plan.compute import PodPlan
from kasbah.plan.derive import Plan

WIDTH = 960
ROW_H = 150
GAP = 10


def _phase_index(plan: Plan) -> dict[str, int]:
    return {p.id: i for i, p in enumerate(plan.phases)}


def halls_figure(plan: Plan) -> str:
    """Halls laid out in rows; a hall's width is proportional to its IT MW, its pods a grid of cells inside."""
    idx = _phase_index(plan)
    pods = {p.id: p for p in plan.pods}
    total = sum(h.it_load_mw for h in plan.halls) or 1.0
    per_row = max(1, min(len(plan.halls), 6))
    rows = math.ceil(len(plan.halls) / per_row) if plan.halls else 1
    # Scale so that the widest row fits: width per MW from the row with the most MW.
    row_mw = [sum(h.it_load_mw for h in plan.halls[r * per_row : (r + 1) * per_row]) for r in range(rows)]
    usable = WIDTH - 20 - GAP * (per_row - 1)
    per_mw = usable / max(max(row_mw, default=total), 1e-9)
    out: list[str] = []
    y = 34
    for r in range(rows):
        x = 10.0
        for h in plan.halls[r * per_row : (r + 1) * per_row]:
            w = max(h.it_load_mw * per_mw, 60.0)
            out.append(
                rect(
                    x,
                    y,
                    w,
                    ROW_H - 16,
                    fill_="#fafafa",
                    stroke="#111",
                    sw=1.6,
                    extra=data(
                        hall=h.id, it_load_mw=h.it_load_mw, racks=h.racks, pods=len(h.pods), built_in=h.built_in
                    ),
                )
            )
            out.append(text(x + 5, y + 15, f"{h.id} · {h.built_in}", size=11, weight="bold"))
            out.append(text(x + 5, y + 29, f"{num(h.it_load_mw)}/{num(h.power_limit_mw)} MW IT", size=9.5))
            racks = f"{num(h.racks)} racks" + (f" · {len(h.pods)} pods" if w >= 112 else "")
            out.append(text(x + 5, y + 42, racks, size=9.5))
            members = [pods[p] for p in h.pods if p in pods]
            inner_w, inner_h = w - 12, ROW_H - 16 - 54
            if members and inner_w > 4:
                cols = max(1, math.ceil(math.sqrt(len(members) * inner_w / inner_h)))
                prow = math.ceil(len(members) / cols)
                cw, ch = inner_w / cols, inner_h / prow
                for i, pp in enumerate(members):
                    cx, cy = x + 6 + (i % cols) * cw, y + 48 + (i // cols) * ch
                    out.append(
                        rect(
                            cx + 0.8,
                            cy + 0.8,
                            cw - 1.6,
                            ch - 1.6,
                            fill_=fill(idx.get(pp.phase, 0)),
                            stroke="#333",
                            sw=0.5,
                            extra=data(pod=pp.id, phase=pp.phase, racks=pp.racks, sku=pp.sku),
                            tip=f"{pp.id}: {pp.sku}, {pp.racks} racks, {num(pp.gpus)} GPUs, "
                            f"{num(pp.budget_kw)} kW budget",
                        )
                    )
            x += w + GAP
        y += ROW_H
    legend = []
    for i, p in enumerate(plan.phases):
        lx = 10 + i * 130
        legend.append(rect(lx, 8, 16, 14, fill_=fill(i), stroke="#222", sw=0.8))
        legend.append(text(lx + 22, 19, f"pods of {p.id}", size=11))
    desc = (
        f"{len(plan.halls)} live halls, {num(plan.cumulative.racks)} racks, {num(plan.cumulative.pods)} pods. "
        + "; ".join(
            f"hall {h.id} (built in {h.built_in}): {num(h.it_load_mw)} MW IT of a {num(h.power_limit_mw)} MW limit, "
            f"{num(h.racks)} racks, {len(h.pods)} pods"
            for h in plan.halls
        )
        + "."
    )
    return figure("fig-halls", WIDTH, y + 4, f"Halls and pods after {plan.phase}", desc, "".join(legend + out))


def _kinds(plan: Plan) -> list[PodPlan]:
    """One live pod per system kind (SKU), the first in plan order: its racks stand for the kind's rack."""
    seen: dict[str, PodPlan] = {}
    for pp in plan.pods:
        seen.setdefault(pp.sku, pp)
    return [seen[k] for k in sorted(seen)]


def rack_figure(plan: Plan) -> str:
    """A rack elevation per system kind: compute trays, NVLink switch trays, power shelves; per-rack power."""
    kinds = _kinds(plan)
    idx = _phase_index(plan)
    col_w = 230
    rack_w, slot_h = 150, 13
    out: list[str] = []
    tallest = 0.0
    descs = []
    for k, pp in enumerate(kinds):
        x = 20 + k * col_w
        trays_per_unit = pp.nodes // pp.units if pp.units else 0
        switch_per_unit = pp.switch_trays // pp.units if pp.units else 0
        compute = trays_per_unit * pp.units_per_rack
        switches = switch_per_unit * pp.units_per_rack
        upper = math.ceil(compute / 2) if switches else compute
        slots: list[tuple[str, str]] = [("power", "power shelves")]
        slots += [("compute", f"compute tray {i + 1}") for i in range(upper)]
        slots += [("switch", f"NVLink switch tray {i + 1}") for i in range(switches)]
        slots += [("compute", f"compute tray {upper + i + 1}") for i in range(compute - upper)]
        slots += [("power", "power shelves")]
        y = 52.0
        out.append(text(x, 16, pp.sku, size=13, weight="bold"))
        out.append(
            text(
                x,
                32,
                f"{num(pp.rack_kw)} kW a rack at maximum draw",
                size=11,
                extra=data(sku=pp.sku, rack_kw=pp.rack_kw),
            )
        )
        out.append(
            text(x, 46, f"pod {pp.id}: {num(pp.budget_kw)} kW budget for {pp.racks} racks", size=10, fill_="#444")
        )
        out.append(rect(x - 4, y - 4, rack_w + 8, len(slots) * slot_h + 8 + 6, fill_="#e8e8e8", stroke="#111", sw=1.6))
        for kind, label in slots:
            h = slot_h * (1.5 if kind == "power" else 1)
            style = {
                "compute": fill(idx.get(pp.phase, 0)),
                "switch": "#555",
                "power": "#bbb",
            }[kind]
            out.append(rect(x, y, rack_w, h - 1.5, fill_=style, stroke="#222", sw=0.6, extra=data(slot=kind)))
            if kind != "compute":
                out.append(
                    text(
                        x + rack_w / 2,
                        y + h / 2 + 2.5,
                        label,
                        size=9,
                        anchor="middle",
                        fill_="#fff" if kind == "switch" else "#111",
                    )
                )
            y += h
        out.append(
            text(
                x,
                y + 18,
                f"{compute} compute trays ({pp.gpus_per_node} GPUs each)",
                size=11,
                extra=data(compute_trays=compute),
            )
        )
        out.append(text(x, y + 32, f"{switches} NVLink switch trays", size=11, extra=data(switch_trays=switches)))
        out.append(text(x, y + 46, f"{pp.nics_per_node} × {pp.nic_gbps} Gb/s NICs a tray", size=11))
        tallest = max(tallest, y + 52)
        descs.append(
            f"{pp.sku}: {compute} compute trays, {switches} NVLink switch trays and power shelves; "
            f"{num(pp.rack_kw)} kW a rack at maximum draw"
        )
    desc = "Rack elevations, one per system kind. " + "; ".join(descs) + "."
    return figure(
        "fig-racks",
        max(len(kinds), 1) * col_w + 40,
        max(tallest, 80),
        "Rack elevation per system kind",
        desc,
        "".join(out),
    )
