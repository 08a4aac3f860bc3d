"""Fabric: per phase and compute domain, the switch tiers (leaf, spine, core) with their counts, and between the
tiers the cables and transceivers the plan counts; then where the next phase plugs in (the plan's growth figures:
planned nodes, the phase a stage extends, spine and core ports held in reserve)."""

from __future__ import annotations

from kasbah.html_report.svg import data, esc, figure, fill, line, num, rect, text
from kasbah.plan.derive import Plan
from kasbah.plan.fabric import ComputeFabricPlan, FabricDomain

MAX_DOMAINS = 6
"""Domains drawn per fabric; the rest are summed in the figure's text (a split fabric's domains are alike)."""

COL_W = 300
TIER_H = 46


def _domain(
    x: float, y0: float, cf: ComputeFabricPlan, d: FabricDomain, key: str, phase_index: int
) -> tuple[str, float]:
    """Tiers bottom-up: the nodes (slot 0), then each switch tier; each link labelled with its cables."""
    out: list[str] = []
    tiers = list(d.tiers)
    step = TIER_H + 34
    box_h = TIER_H - 8
    box_w = COL_W - 40

    def top(k: int) -> float:
        return y0 + (len(tiers) - k) * step

    out.append(
        rect(
            x,
            top(0),
            box_w,
            box_h,
            fill_=fill(phase_index),
            stroke="#222",
            extra=data(fabric=key, tier="nodes", nodes=d.nodes, endpoints=d.endpoints),
        )
    )
    out.append(
        f'<rect x="{x + 8:.2f}" y="{top(0) + 7:.2f}" width="{box_w - 16}" height="24" rx="3" '
        'fill="#fff" fill-opacity="0.9"/>'
    )
    out.append(
        text(
            x + box_w / 2,
            top(0) + 23,
            f"{num(d.nodes)} nodes · {num(d.endpoints)} ports",
            size=11,
            anchor="middle",
            weight="bold",
        )
    )
    mid_x = x + box_w / 2
    for i, t in enumerate(tiers, start=1):
        y = top(i)
        # A later stage cables its leaves into the switches an earlier phase built: drawn dashed, named as theirs.
        inherited = t.switches == 0 and cf.growth is not None and cf.growth.extends is not None
        out.append(line(mid_x, y + box_h, mid_x, top(i - 1), stroke="#444", sw=2))
        out.append(
            text(
                mid_x + 6,
                y + box_h + 14,
                f"{num(t.cables_down)} cables",
                size=10,
                extra=data(fabric=key, tier=t.name, cables_down=t.cables_down),
            )
        )
        out.append(
            text(
                mid_x + 6,
                y + box_h + 27,
                f"{num(t.transceivers_down)} transceivers",
                size=10,
                extra=data(fabric=key, tier=t.name, transceivers_down=t.transceivers_down),
            )
        )
        out.append(
            rect(
                x,
                y,
                box_w,
                box_h,
                fill_="#fff" if inherited else "#eef" if t.name == "leaf" else "#dde",
                stroke="#222",
                sw=1.2,
                extra=data(fabric=key, tier=t.name, switches=t.switches)
                + (' stroke-dasharray="5 3"' if inherited else ""),
            )
        )
        title = (
            f"{t.name}: {cf.growth.extends}'s, none added"
            if inherited and cf.growth
            else f"{t.name}: {num(t.switches)} × {cf.switch}"
        )
        out.append(text(x + 8, y + 16, title, size=12, weight="bold"))
        out.append(text(x + 8, y + 31, f"{t.ports_down} ports down · {t.ports_up} up", size=10, fill_="#333"))
    return "".join(out), len(tiers) * step + box_h


def fabric_figures(plan: Plan) -> list[str]:
    """One figure per phase's compute fabric (or per fabric kind when a phase builds several)."""
    figs: list[str] = []
    idx = {p.id: i for i, p in enumerate(plan.phases)}
    for pf in plan.fabrics:
        for n, cf in enumerate(pf.compute):
            key = f"{pf.phase}-{n}"
            shown = cf.domains[:MAX_DOMAINS]
            parts: list[str] = []
            height = 0.0
            for k, d in enumerate(shown):
                x = 20 + k * COL_W
                parts.append(text(x, 66, f"domain {d.index}", size=11, fill_="#333"))
                body, h = _domain(x, 72, cf, d, key, idx.get(pf.phase, 0))
                parts.append(body)
                height = max(height, h)
            head = (
                f"{pf.phase}: {cf.kind} on {cf.switch} ({cf.port_gbps} Gb/s, radix {cf.radix}), {cf.rails} rails, "
                f"{cf.tiers_count} tiers, {cf.oversubscription}"
            )
            parts.insert(0, text(20, 20, head, size=13, weight="bold"))
            parts.insert(
                1,
                text(
                    20,
                    38,
                    f"switches {_totals(cf.totals)} · cables {_totals(cf.cables)} · "
                    f"{num(cf.transceivers)} transceivers",
                    size=11,
                    extra=data(fabric=key, transceivers=cf.transceivers),
                ),
            )
            y = 72 + height + 24
            if len(cf.domains) > MAX_DOMAINS:
                parts.append(
                    text(
                        20,
                        y,
                        f"{len(cf.domains) - MAX_DOMAINS} more domains of the same shape are not "
                        "drawn (their counts are in the totals above)",
                        size=11,
                    )
                )
                y += 18
            growth, gy = _growth(cf, 20, y)
            parts.append(growth)
            y = gy
            if cf.split_note:
                parts.append(text(20, y, cf.split_note, size=11))
                y += 18
            width = max(len(shown), 2) * COL_W + 40
            desc = (
                head + f". Switches {_totals(cf.totals)}; cables {_totals(cf.cables)}; {num(cf.transceivers)} "
                f"transceivers; {len(cf.domains)} domain(s) of up to {num(cf.capacity_per_domain)} ports. "
                + _growth_text(cf)
            )
            figs.append(
                figure(f"fig-fabric-{key}", width, y + 6, f"Compute fabric of {pf.phase}", desc, "".join(parts))
            )
    return figs


def _totals(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {num(v)}" for k, v in counts.items())


def _growth_text(cf: ComputeFabricPlan) -> str:
    g = cf.growth
    if g is None:
        return (
            "Sized for its own nodes only: no ports are reserved for a later phase "
            "(networks.compute.planned_nodes plans a fabric in stages)."
        )
    return (
        f"Built in stages toward {num(g.planned_nodes)} planned nodes: this stage takes it from {num(g.nodes_before)} "
        f"to {num(g.nodes_after)} nodes"
        + (f", extending {g.extends}'s fabric" if g.extends else "")
        + f"; {num(g.spine_ports_reserved)} spine ports and {num(g.core_ports_reserved)} core ports stay reserved "
        "for the next phase."
    )


def _growth(cf: ComputeFabricPlan, x: float, y: float) -> tuple[str, float]:
    """The dashed box saying where the next phase plugs in, or that nothing is reserved."""
    g = cf.growth
    out = []
    if g is None:
        out.append(
            text(
                x,
                y + 4,
                "Sized for its own nodes only: no ports are reserved for a later phase.",
                size=11,
                fill_="#333",
                extra=data(growth="none"),
            )
        )
        out.append(
            text(
                x,
                y + 19,
                "(networks.compute.planned_nodes plans a fabric in stages; a later phase then "
                "names it in networks.compute.extends)",
                size=10,
                fill_="#555",
            )
        )
        return "".join(out), y + 34
    out.append(
        rect(
            x,
            y - 10,
            560,
            62,
            fill_="none",
            stroke="#000",
            sw=1.4,
            extra=' stroke-dasharray="6 4"'
            + data(
                growth="reserved",
                planned_nodes=g.planned_nodes,
                spine_ports_reserved=g.spine_ports_reserved,
                core_ports_reserved=g.core_ports_reserved,
            ),
        )
    )
    done = g.nodes_after >= g.planned_nodes and not (g.spine_ports_reserved or g.core_ports_reserved)
    head = "last stage: the planned fabric is complete" if done else "next phase plugs in here"
    out.append(text(x + 10, y + 8, head, size=12, weight="bold"))
    out.append(
        text(
            x + 10,
            y + 24,
            f"planned {num(g.planned_nodes)} nodes; this stage {num(g.nodes_before)} → "
            f"{num(g.nodes_after)}" + (f", extends {g.extends}" if g.extends else ""),
            size=11,
        )
    )
    out.append(
        text(
            x + 10,
            y + 40,
            f"reserved: {num(g.spine_ports_reserved)} spine down-ports, {num(g.core_ports_reserved)} core ports",
            size=11,
        )
    )
    return "".join(out), y + 62


def other_networks_table(plan: Plan) -> str:
    """Storage and out-of-band networks per phase, as a table (the figure is the compute fabric)."""
    rows = []
    for pf in plan.fabrics:
        for name, net in (("storage", pf.storage), ("oob", pf.oob)):
            if net is None:
                continue
            tiers = ", ".join(f"{t.name} {num(t.switches)}" for t in net.tiers)
            rows.append(
                f"<tr><td>{esc(pf.phase)}</td><td>{name}</td><td>{esc(net.switch)}"
                + (f" / {esc(net.aggregation_switch)}" if net.aggregation_switch else "")
                + f"</td><td>{esc(tiers)}</td><td class=n>{esc(num(net.cables))}</td>"
                f"<td class=n>{esc(num(net.transceivers))}</td></tr>"
            )
    if not rows:
        return ""
    return (
        '<table class="kb-table"><caption>Storage and out-of-band networks</caption><thead><tr><th>phase</th>'
        "<th>network</th><th>switch</th><th>switches by tier</th><th>cables</th><th>transceivers</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )
