"""WAN map: Morocco's coast, the landing stations, each leased cable to its far-end hub and the onward legs the plan's
routes use, on an azimuthal equidistant projection centred on the campus (catalog coordinates); each region's
preferred and diverse routes labelled with their RTT floor; then the one-cable-cut view per region.

Lines are great circles through the catalog's `via` points: a schematic of which places a cable joins, not its
route on the sea floor (lengths and RTTs are the planner's, from published route km or its estimate)."""

from __future__ import annotations

import itertools

from kasbah.catalog.models import Catalog
from kasbah.html_report import geo
from kasbah.html_report.svg import colour, data, esc, figure, num, text
from kasbah.plan.derive import Plan
from kasbah.plan.wan import WanPath
from kasbah.spec.campus import Campus

WIDTH, MAP_H = 960, 560
HEIGHT = MAP_H + 250
INSET = (0, MAP_H + 10, 330, 236)
"""Below the map: the inset of northern Morocco (site, backhaul, landing stations): x, y, width, height."""

DASHES = ("", "8 4", "2 3", "10 3 2 3", "4 4", "1 2")


class _Places:
    """Catalog coordinates of the campus, stations and hubs by the plan's node names (ls:<id>, hub:<id>, edge)."""

    def __init__(self, campus: Campus, catalog: Catalog):
        self.coords: dict[str, geo.Lonlat] = {"edge": (campus.site.longitude, campus.site.latitude)}
        self.names: dict[str, str] = {"edge": f"campus ({campus.site.city})"}
        for k, ls in catalog.landing_stations.items():
            self.coords[f"ls:{k}"] = (ls.longitude, ls.latitude)
            self.names[f"ls:{k}"] = ls.city
        for k, hub in catalog.hubs.items():
            self.coords[f"hub:{k}"] = (hub.longitude, hub.latitude)
            self.names[f"hub:{k}"] = hub.city
        self.catalog = catalog

    def cable_route(self, cable: str, station: str, far_end: str) -> list[geo.Lonlat]:
        """Landing station, the segment's `via` hubs, far end: the points a schematic cable line passes."""
        pts = [self.coords.get(f"ls:{station}"), self.coords.get(f"hub:{far_end}")]
        system = self.catalog.cables.get(cable)
        via: list[geo.Lonlat] = []
        if system is not None:
            for seg in system.segments:
                if (seg.landing_station, seg.far_end) == (station, far_end):
                    via = [self.coords[f"hub:{v}"] for v in seg.via if f"hub:{v}" in self.coords]
        if pts[0] is None or pts[1] is None:
            return []
        return [pts[0], *via, pts[1]]


def _poly(fr: geo.Frame, pts: list[geo.Lonlat]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for a, b in itertools.pairwise(pts):
        seg = geo.geodesic(fr, a, b)
        out.extend(seg if not out else seg[1:])
    return out


def _path_points(places: _Places, fr: geo.Frame, p: WanPath) -> list[tuple[float, float]]:
    """A route's pixel points: backhaul to the station, the cable (through its via points), then the legs."""
    hops = [h for h in p.hops if not h.startswith("region:")]
    pts: list[tuple[float, float]] = []
    for i, (a, b) in enumerate(itertools.pairwise(hops)):
        if a not in places.coords or b not in places.coords:
            return []
        if a.startswith("ls:") and p.cables:
            route = places.cable_route(p.cables[0], a[3:], b[4:]) or [places.coords[a], places.coords[b]]
        else:
            route = [places.coords[a], places.coords[b]]
        seg = _poly(fr, route)
        pts.extend(seg if i == 0 else seg[1:])
    return pts


def _used_nodes(plan: Plan) -> tuple[set[str], set[tuple[str, str]]]:
    nodes: set[str] = {"edge"}
    legs: set[tuple[str, str]] = set()
    for c in plan.wan.cables:
        nodes.update({f"ls:{c.landing_station}", f"hub:{c.far_end}"})
    for r in plan.wan.regions:
        for p in r.paths:
            hubs = [h for h in p.hops if h.startswith("hub:")]
            nodes.update(hubs)
            legs.update(tuple(sorted(pair)) for pair in itertools.pairwise(hubs))  # type: ignore[misc]
    return nodes, legs


def route_text(p: WanPath | None) -> str:
    """`casablanca/mtwa-north → lisbon → madrid` (the CLI's notation)."""
    if p is None:
        return "none"
    hubs = [h.split(":", 1)[1] for h in p.hops if h.startswith("hub:")]
    return " → ".join(["/".join([*p.landing_stations[:1], *p.cables[:1]]), *hubs])


def wan_figure(plan: Plan, campus: Campus, catalog: Catalog) -> str:
    places = _Places(campus, catalog)
    nodes, legs = _used_nodes(plan)
    pts = [places.coords[n] for n in sorted(nodes) if n in places.coords]
    fr = geo.frame_for(pts, places.coords["edge"], px=0, py=0, width=WIDTH, height=MAP_H, margin=0.06)
    out = [
        f'<rect width="{WIDTH}" height="{MAP_H}" fill="#b9d3ea" stroke="#000"/>',
        f'<path d="{geo.land_path(fr, resolution="l")}" fill="#f3f1ea" stroke="#8a8a8a" stroke-width="0.6"/>',
    ]
    # Onward legs (hub to hub) that any planned route uses.
    for a, b in sorted(legs):
        if a in places.coords and b in places.coords:
            out.append(
                f'<path d="{geo.polyline(_poly(fr, [places.coords[a], places.coords[b]]))}" fill="none" '
                f'stroke="#777" stroke-width="1.2" stroke-dasharray="1 3"{data(leg=f"{a[4:]}-{b[4:]}")}/>'
            )
    # Cables: lit solid, leased but dark dashed; labelled with id and km.
    for c in plan.wan.cables:
        route = places.cable_route(c.id, c.landing_station, c.far_end)
        if not route:
            continue
        line_pts = _poly(fr, route)
        dash = "" if c.lit_gbps > 0 else ' stroke-dasharray="5 4"'
        out.append(
            f'<path d="{geo.polyline(line_pts)}" fill="none" stroke="#1d3557" stroke-width="2"{dash}'
            f"{data(cable=c.id, km=c.km, lit_gbps=c.lit_gbps)}><title>{esc(c.id)}: {esc(c.landing_station)} → "
            f"{esc(c.far_end)}, {esc(num(c.km))} km ({c.km_source}), {esc(num(c.lit_gbps))} of "
            f"{esc(num(c.leased_gbps))} Gb/s lit</title></path>"
        )
        (ax, ay), (bx, by) = line_pts[0], line_pts[-1]
        if abs(bx - ax) + abs(by - ay) > 160:  # short cables are named in the list below the map
            mx, my = line_pts[len(line_pts) * 3 // 5]
            out.append(text(mx + 4, my - 4, f"{c.id} {num(c.km, 0)} km", size=9, fill_="#1d3557"))
    # Each region's preferred and diverse routes, overlaid, labelled with the RTT floor at their last hub.
    callouts: list[str] = []
    stacks = {"west": 0, "east": 0}
    for ri, r in enumerate(plan.wan.regions):
        chosen: list[tuple[str, WanPath]] = []
        if r.preferred is not None:
            chosen.append(("preferred", r.preferred))
        if r.diverse_pair:
            chosen.extend(("diverse", p) for p in r.diverse_pair if p != r.preferred)
        for role, p in chosen:
            ppts = _path_points(places, fr, p)
            if not ppts:
                continue
            width = 4.5 if role == "preferred" else 3
            out.append(
                f'<path d="{geo.polyline(ppts)}" fill="none" stroke="{colour(ri + 1)}" stroke-opacity="0.75" '
                f'stroke-width="{width}" stroke-dasharray="{DASHES[ri % len(DASHES)] or "none"}"'
                f"{data(region=r.id, role=role, rtt_floor_ms=p.rtt_floor_ms)}/>"
            )
            end = next((h for h in reversed(p.hops) if h.startswith("hub:")), None)
            if end and end in places.coords:
                callouts.append(_callout(fr.point(*places.coords[end]), r.name, r.id, ri, role, p, stacks))
    out.extend(callouts)
    # Places.
    for n in sorted(nodes):
        if n not in places.coords or n == "edge":
            continue
        x, y = fr.point(*places.coords[n])
        if n.startswith("ls:"):
            out.append(f'<rect x="{x - 3.5:.2f}" y="{y - 3.5:.2f}" width="7" height="7" fill="#fff" stroke="#000"/>')
        else:
            out.append(f'<circle cx="{x:.2f}" cy="{y:.2f}" r="4" fill="#000"/>')
            out.append(text(x + 6, y - 5, places.names[n], size=11, weight="bold"))
    sx, sy = fr.point(*places.coords["edge"])
    out.append(f'<path d="M{sx:.2f} {sy - 7:.2f}l6 11h-12z" fill="#c00" stroke="#000"/>')
    out.append(_inset(plan, places, nodes))
    out.append(_legend(plan))
    out.append(_cable_list(plan))
    desc = (
        "WAN map. "
        + " ".join(
            f"{r.name}: preferred {route_text(r.preferred)} at "
            f"{num(r.preferred.rtt_floor_ms) if r.preferred else '-'} ms RTT floor (SLO {num(r.rtt_slo_ms)} ms); "
            f"{num(r.capacity_gbps)} Gb/s, {num(r.capacity_after_worst_cut_gbps)} Gb/s after losing "
            f"{r.worst_cut_cable or 'any one cable'}."
            for r in plan.wan.regions
        )
        + " Cables: "
        + "; ".join(f"{c.id} {c.landing_station} to {c.far_end} {num(c.km)} km" for c in plan.wan.cables)
    )
    height = MAP_H + max(HEIGHT - MAP_H, 44 + 17 * len(plan.wan.cables), 44 + 16 * (4 + len(plan.wan.regions)))
    return figure("fig-wan", WIDTH, height, f"WAN routes from {campus.site.city}", desc, "".join(out))


def _callout(
    at: tuple[float, float], name: str, region: str, ri: int, role: str, p: WanPath, stacks: dict[str, int]
) -> str:
    """A route's RTT label in a column (the Atlantic for western hubs, the east edge for eastern ones), with a
    leader line to the hub where the route ends: labels never sit on each other or on the hubs' names."""
    x, y = at
    side = "west" if x < WIDTH / 2 else "east"
    k = stacks[side]
    stacks[side] = k + 1
    label = f"{name}{' backup' if role == 'diverse' else ''} {num(p.rtt_floor_ms)} ms"
    lw = 5.9 * len(label) + 10
    lx = 10.0 if side == "west" else WIDTH - 10 - lw
    ly = (MAP_H * 0.52 if side == "west" else MAP_H * 0.42) + 20 * k
    anchor_x = lx + lw if side == "west" else lx
    return (
        f'<line x1="{anchor_x:.2f}" y1="{ly + 7:.2f}" x2="{x:.2f}" y2="{y:.2f}" stroke="{colour(ri + 1)}" '
        'stroke-width="0.9"/>'
        f'<rect x="{lx:.2f}" y="{ly:.2f}" width="{lw:.2f}" height="15" rx="2" fill="#fff" '
        f'stroke="{colour(ri + 1)}" stroke-width="1.5"/>'
        + text(lx + 5, ly + 11.5, label, size=10, extra=data(region=region, role=role, rtt_floor_ms=p.rtt_floor_ms))
    )


def _inset(plan: Plan, places: _Places, nodes: set[str]) -> str:
    """Northern Morocco at a larger scale: the campus, its backhaul to each landing station, the stations."""
    x0, y0, w, h = INSET
    local = ["edge", *sorted(n for n in nodes if n.startswith("ls:") and n in places.coords)]
    fr = geo.frame_for(
        [places.coords[n] for n in local], places.coords["edge"], px=x0, py=y0, width=w, height=h, margin=0.25
    )
    out = [
        f'<rect x="{x0}" y="{y0}" width="{w}" height="{h}" fill="#b9d3ea" stroke="#000" stroke-width="1.2"/>',
        f'<path d="{geo.land_path(fr, resolution="i", tolerance_px=0.4)}" fill="#f3f1ea" stroke="#8a8a8a" '
        'stroke-width="0.6"/>',
    ]
    sx, sy = fr.point(*places.coords["edge"])
    for n in local[1:]:
        x, y = fr.point(*places.coords[n])
        out.append(
            f'<line x1="{sx:.2f}" y1="{sy:.2f}" x2="{x:.2f}" y2="{y:.2f}" stroke="#444" stroke-width="1.2" '
            'stroke-dasharray="4 2"/>'
        )
    for n in local[1:]:
        x, y = fr.point(*places.coords[n])
        out.append(f'<rect x="{x - 4:.2f}" y="{y - 4:.2f}" width="8" height="8" fill="#fff" stroke="#000"/>')
        out.append(text(x + 7, y + 4, places.names[n], size=10, weight="bold", extra=data(station=n[3:])))
    out.append(f'<path d="M{sx:.2f} {sy - 8:.2f}l7 12h-14z" fill="#c00" stroke="#000"/>')
    out.append(text(sx + 9, sy + 4, places.names["edge"], size=10, weight="bold"))
    out.append(text(x0 + 6, y0 + h - 8, "inset: campus, backhaul (dashed), landing stations", size=9, fill_="#333"))
    return "".join(out)


def _legend(plan: Plan) -> str:
    x, y = INSET[2] + 24, MAP_H + 32
    rows = 4 + len(plan.wan.regions)
    out = [
        f'<rect x="{x - 8}" y="{y - 14}" width="250" height="{16 * rows + 10}" fill="#fff" fill-opacity="0.92" '
        'stroke="#555"/>'
    ]
    items = [
        ('<path d="M{a} {b}h26" stroke="#1d3557" stroke-width="2"/>', "cable, lit (id, route km)"),
        ('<path d="M{a} {b}h26" stroke="#1d3557" stroke-width="2" stroke-dasharray="5 4"/>', "cable, leased, dark"),
        ('<path d="M{a} {b}h26" stroke="#777" stroke-width="1.2" stroke-dasharray="1 3"/>', "onward leg"),
        ('<path d="M{c} {d}l6 11h-12z" fill="#c00" stroke="#000"/>', "campus; □ station, ● hub"),
    ]
    for ri, r in enumerate(plan.wan.regions):
        items.append(
            (
                f'<path d="M{{a}} {{b}}h26" stroke="{colour(ri + 1)}" stroke-width="4" '
                f'stroke-dasharray="{DASHES[ri % len(DASHES)] or "none"}"/>',
                f"{r.name}: preferred and diverse",
            )
        )
    for i, (shape, label) in enumerate(items):
        yy = y + 16 * i
        out.append(shape.format(a=x, b=yy - 4, c=x + 13, d=yy - 10))
        out.append(text(x + 34, yy, label, size=10))
    return "".join(out)


def _cable_list(plan: Plan) -> str:
    """Every leased cable: landing station to far end, route km and where it comes from, lit of leased Gb/s."""
    x, y = INSET[2] + 282, MAP_H + 30
    out = [text(x, y, "Leased cables (route km; lit / leased Gb/s)", size=11, weight="bold")]
    for i, c in enumerate(plan.wan.cables):
        est = " est." if c.km_source == "estimated" else ""
        out.append(
            text(
                x,
                y + 17 * (i + 1),
                f"{c.id}: {c.landing_station} → {c.far_end}, {num(c.km, 0)} km{est}, "
                f"{num(c.lit_gbps)} / {num(c.leased_gbps)}",
                size=10,
                extra=data(cable=c.id, km=c.km),
            )
        )
    return "".join(out)


def cut_table(plan: Plan) -> str:
    """Per region: the preferred route, the worst single cable cut, the route that takes over and what is left."""
    rows = []
    for r in plan.wan.regions:
        backup = r.diverse_pair[1] if r.diverse_pair and len(r.diverse_pair) > 1 else None
        rows.append(
            f'<tr data-region="{esc(r.id)}"><td>{esc(r.name)}</td><td>{esc(route_text(r.preferred))}</td>'
            f"<td class=n>{esc(num(r.preferred.rtt_floor_ms)) if r.preferred else '-'}</td>"
            f"<td>{esc(route_text(backup))}</td><td class=n>{esc(num(backup.rtt_floor_ms)) if backup else '-'}</td>"
            f"<td class=n>{esc(num(r.rtt_slo_ms))}</td><td class=n>{esc(num(r.capacity_gbps))}</td>"
            f"<td>{esc(r.worst_cut_cable or 'none')}</td>"
            f'<td class=n data-after-cut="{esc(r.capacity_after_worst_cut_gbps)}">'
            f"{esc(num(r.capacity_after_worst_cut_gbps))}</td><td class=n>{esc(num(r.committed_egress_gbps))}</td>"
            f"<td>{'yes' if r.meets_slo else 'no'}</td></tr>"
        )
    return (
        '<table class="kb-table"><caption>One cable cut, per region: the preferred route; the shared-risk-diverse '
        "route that takes over when the preferred route's cable is cut; the single cut that leaves the least "
        "capacity, and the capacity it leaves</caption><thead><tr><th>region</th><th>preferred route</th>"
        "<th>RTT floor ms</th><th>takes over when it is cut</th><th>RTT floor ms</th><th>SLO ms</th><th>Gb/s</th>"
        "<th>worst single cut</th><th>Gb/s left</th><th>committed Gb/s</th><th>meets SLO</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )
