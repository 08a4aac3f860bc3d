"""WAN plan: routes from the campus edge to each region over the leased subsea cables, with latency floors,
shared-risk diversity and capacity after a single cable cut.

The model is a directed graph (networkx), traffic flowing outwards from the campus:

    edge -> ls:<station> -> cable:<id> -> hub:<far end> <-> hub:<other> -> region:<id>

`edge -> ls` is the terrestrial backhaul, `ls -> cable` carries the lit capacity of one leased cable (so parallel cables
between the same station and hub stay separate edges and max-flow works on a plain DiGraph), `cable -> hub` is the
subsea route length, `hub <-> hub` the terrestrial links, `hub -> region` is free. Cable nodes are internal: a path's
`hops` list only the campus edge, stations, hubs and the region. Edges point away from the campus so no route can come
back through another Moroccan landing station.

Lengths are route km where published or declared; otherwise (a cable segment without a published length, a terrestrial
leg without `km`, a backhaul without `backhaul_km`) the great circle times ROUTE_FACTOR, so a path is never preferred on
an understated floor, and a region whose SLO rests on such an estimate hears about it (`wan.estimated-route`). The RTT
is the propagation floor at 4.9 µs/km (domain reference 1b) and real routes are slower.

Capacity counts only what is contracted: a cable carries what the phases light on it (within the lease), a terrestrial
leg the transit contracted on it (`capacity_gbps`, per direction; none by default). Everything is pure and
deterministic: same inputs, same plan, same findings in the same order.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import networkx as nx

from kasbah.findings import Finding, Findings, Level, Path, did_you_mean
from kasbah.plan.model import PlanModel
from kasbah.spec.campus import CableLease, Campus, Region
from kasbah.spec.phase import WanUplink
from kasbah.yamlsource import SourceDoc

if TYPE_CHECKING:
    from kasbah.catalog.models import Catalog

EARTH_RADIUS_KM = 6371.0088
"""Mean Earth radius (IUGG), the R the domain reference's great-circle table uses."""

FIBRE_US_PER_KM = 4.9
"""One-way propagation in single-mode fibre, µs per km (group index ~1.468; domain reference 1b)."""

ROUTE_FACTOR = 1.25
"""Route km per great-circle km for a length that is not published: the median ratio of the catalog's published
point-to-point segments to their great circles [C] (Estepona-Tetouan 113/98 = 1.15, Medusa Nador-Marseille
1,416/1,152 = 1.23, Atlas Offshore 1,634/1,310 = 1.25, MTWA North 814/585 = 1.39, Loukkos 187/132 = 1.42; median 1.25).
Bozkurt et al., "Dissecting Latency in the Internet's Fiber Infrastructure" (arXiv 1811.10737, 2018) find a median of
1.3 for the shortest conduit paths between US cities [S], so the figure is not an outlier. tests/test_catalog.py holds
it against the catalog."""

PESSIMISTIC_ROUTE_FACTOR = 1.42
"""The largest of those ratios (Loukkos) [C]: what an estimated leg may plausibly be. An SLO met at ROUTE_FACTOR but
missed at this factor, with no published route meeting it, rests on the estimate and gets a warning."""

MAX_TERRESTRIAL_HOPS = 4
"""Hub-to-hub links a route may chain after the cable; longer detours are never the answer and blow up enumeration."""

MAX_PATHS = 1000
"""Routes enumerated per region, shortest first (k-shortest, k = MAX_PATHS, then any routes tied with the last).

A dense terrestrial mesh has routes by the million (a 45-hub clique: N^4 within four hops), and enumerating them
all took tens of seconds. The bound never changes the preferred route (the shortest), the diverse pair (chosen from
each cable's own shortest routes, searched separately) or the capacities (max flow on the graph): it only limits
`paths`, of which the plan keeps MAX_REPORTED_PATHS. When it cuts, `wan.paths-bounded` says so.
"""

MAX_REPORTED_PATHS = 32
"""Routes kept in each region's plan (best first)."""

EDGE = "edge"
_WAN: Path = ("wan",)


@dataclass(frozen=True)
class UplinkRef:
    """One uplink a phase lights, with where it is written (for located findings)."""

    phase_id: str
    doc: SourceDoc = field(hash=False)
    path: Path
    uplink: WanUplink


class WanPath(PlanModel):
    """One route from the campus edge to a region."""

    hops: list[str]
    cables: list[str]
    landing_stations: list[str]
    km: float
    rtt_floor_ms: float
    estimated_km: float = 0.0
    """Of `km`, what is estimated (great circle x ROUTE_FACTOR), not published or declared."""
    estimated_legs: list[str] = []


class RegionPlan(PlanModel):
    """What a region gets: routes, the preferred one, a shared-risk-diverse pair and capacity before/after a cut.

    Capacities are per region: regions share cables, so the figures are not additive across regions.
    """

    id: str
    name: str
    committed_egress_gbps: float
    rtt_slo_ms: float
    paths: list[WanPath]
    preferred: WanPath | None
    diverse_pair: list[WanPath] | None
    capacity_gbps: float
    capacity_after_worst_cut_gbps: float
    worst_cut_cable: str | None
    meets_slo: bool


class CableUse(PlanModel):
    """A leased cable segment: its length, where the length comes from, and what the phases light on it."""

    id: str
    landing_station: str
    far_end: str
    km: float
    km_source: Literal["published", "estimated"]
    great_circle_km: float | None = None
    """For an estimated length: the great circle (through the segment's `via` hubs) it was estimated from."""
    leased_gbps: float
    lit_gbps: float
    uplinks: list[str]


class WanPlan(PlanModel):
    cables: list[CableUse]
    regions: list[RegionPlan]


def great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Haversine distance in km: the lower bound for any fibre route between two points."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dphi = p2 - p1
    dlam = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dlam / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def rtt_floor_ms(km: float) -> float:
    """Round-trip propagation floor over `km` of fibre, in ms, rounded to 3 decimals."""
    return round(2 * km * FIBRE_US_PER_KM / 1000, 3)


def estimated_km(great_circle: float) -> float:
    """The length the planner uses for a route known only by its great circle."""
    return great_circle * ROUTE_FACTOR


def _r(x: float) -> float:
    return round(x, 3)


def _ls(i: str) -> str:
    return f"ls:{i}"


def _cable(i: str) -> str:
    return f"cable:{i}"


def _hub(i: str) -> str:
    return f"hub:{i}"


def _region(i: str) -> str:
    return f"region:{i}"


def _fmt_gbps(x: float) -> str:
    return f"{x:g} Gb/s"


@dataclass
class _Ctx:
    """Working state shared by the validation steps."""

    campus: Campus
    doc: SourceDoc
    catalog: Catalog
    findings: Findings = field(default_factory=Findings)
    stations: dict[str, float] = field(default_factory=dict)  # usable station id -> backhaul km
    estimated_backhaul: dict[str, float] = field(default_factory=dict)  # station id -> backhaul km not declared
    listed_hubs: set[str] = field(default_factory=set)

    def error(self, code: str, path: Path, message: str, hint: str | None = None, level: Level = Level.ERROR) -> None:
        self.findings.add(self.doc.finding(level, code, (*_WAN, *path), message, hint))

    def hub_known(self, hub: str, path: Path, what: str) -> bool:
        """True when the catalog has the hub's coordinates; reports a hub unknown or not listed in wan.hubs."""
        if hub not in self.catalog.hubs:
            self.error(
                "wan.unknown-hub",
                path,
                f"{what} '{hub}' is not a hub in the catalog; add it to the catalog or use a known hub",
                did_you_mean(hub, self.catalog.hubs),
            )
            return False
        if hub not in self.listed_hubs:
            self.error(
                "wan.unknown-hub",
                path,
                f"{what} '{hub}' is not listed in wan.hubs; list every hub the WAN uses there",
                did_you_mean(hub, self.listed_hubs) or f"add '{hub}' to wan.hubs",
            )
        return True


def _check_stations(ctx: _Ctx) -> None:
    """Landing stations the campus peers at: known, unique, with distinct peer ASNs other than our own."""
    seen: set[str] = set()
    asns: dict[int, str] = {}
    site = ctx.campus.site
    for i, use in enumerate(ctx.campus.wan.landing_stations):
        here: Path = ("landing_stations", i)
        if use.id in seen:
            ctx.error("wan.duplicate-id", (*here, "id"), f"landing station '{use.id}' is listed twice", "remove one")
            continue
        seen.add(use.id)
        if use.peer_asn == ctx.campus.asns.edge:
            ctx.error(
                "wan.duplicate-asn",
                (*here, "peer_asn"),
                f"peer ASN {use.peer_asn} at '{use.id}' is the campus's own edge AS; eBGP needs the carrier's AS",
                "set peer_asn to the carrier router's AS number",
            )
        elif use.peer_asn in asns:
            ctx.error(
                "wan.duplicate-asn",
                (*here, "peer_asn"),
                f"peer ASN {use.peer_asn} at '{use.id}' is also the peer at '{asns[use.peer_asn]}'",
                "fine when one carrier runs both stations; otherwise check the number",
                level=Level.WARNING,
            )
        asns.setdefault(use.peer_asn, use.id)
        station = ctx.catalog.landing_stations.get(use.id)
        if station is None:
            ctx.error(
                "wan.unknown-landing-station",
                (*here, "id"),
                f"landing station '{use.id}' is not in the catalog; use a catalogued station or add it",
                did_you_mean(use.id, ctx.catalog.landing_stations),
            )
            continue
        km = use.backhaul_km
        if km is None:  # a terrestrial route is no straighter than a subsea one: the same factor, counted estimated
            km = estimated_km(great_circle_km(site.latitude, site.longitude, station.latitude, station.longitude))
            ctx.estimated_backhaul[use.id] = km
        ctx.stations[use.id] = km


def _check_hubs(ctx: _Ctx) -> None:
    """wan.hubs: unique and known to the catalog."""
    for i, hub in enumerate(ctx.campus.wan.hubs):
        if hub in ctx.listed_hubs:
            ctx.error("wan.duplicate-id", ("hubs", i), f"hub '{hub}' is listed twice", "remove one")
            continue
        ctx.listed_hubs.add(hub)
        if hub not in ctx.catalog.hubs:
            ctx.error(
                "wan.unknown-hub",
                ("hubs", i),
                f"hub '{hub}' is not in the catalog; add it to the catalog or use a known hub",
                did_you_mean(hub, ctx.catalog.hubs),
            )


@dataclass(frozen=True)
class _Resolved:
    """A lease whose cable, station, hub and segment all resolve: it can go into the graph."""

    index: int
    lease: CableLease
    km: float
    km_source: Literal["published", "estimated"]
    great_circle_km: float | None = None


def _check_leases(ctx: _Ctx) -> tuple[dict[str, int], dict[str, _Resolved]]:
    """Leases: unique ids, catalogued cable and endpoints, an existing segment, a station the campus uses.

    Returns the index of every first-seen lease id and the leases that resolve to a route.
    """
    first: dict[str, int] = {}
    resolved: dict[str, _Resolved] = {}
    cat = ctx.catalog
    for i, lease in enumerate(ctx.campus.wan.cables):
        here: Path = ("cables", i)
        if lease.id in first:
            ctx.error(
                "wan.duplicate-id",
                (*here, "id"),
                f"cable '{lease.id}' is leased twice; uplinks name a cable by id, so each may be leased once",
                "merge the two leases into one",
            )
            continue
        first[lease.id] = i
        ok = True
        cable = cat.cables.get(lease.id)
        if cable is None:
            ctx.error(
                "wan.unknown-cable",
                (*here, "id"),
                f"cable '{lease.id}' is not in the catalog; use a catalogued cable system or add it",
                did_you_mean(lease.id, cat.cables),
            )
            ok = False
        station = cat.landing_stations.get(lease.landing_station)
        if station is None:
            ctx.error(
                "wan.unknown-landing-station",
                (*here, "landing_station"),
                f"landing station '{lease.landing_station}' is not in the catalog",
                did_you_mean(lease.landing_station, cat.landing_stations),
            )
            ok = False
        elif lease.landing_station not in ctx.stations:
            ctx.error(
                "wan.station-not-used",
                (*here, "landing_station"),
                f"cable '{lease.id}' lands at '{lease.landing_station}', which wan.landing_stations does not list; "
                "the campus has no backhaul or peering there",
                "add the station to wan.landing_stations with its peer_asn, or lease at a station the campus uses",
            )
        if not ctx.hub_known(lease.far_end, (*here, "far_end"), f"far end of cable '{lease.id}'"):
            ok = False
        if not ok or cable is None or station is None:
            continue
        segment = next(
            (s for s in cable.segments if (s.landing_station, s.far_end) == (lease.landing_station, lease.far_end)),
            None,
        )
        if segment is None:
            have = ", ".join(f"{s.landing_station} -> {s.far_end}" for s in cable.segments)
            ctx.error(
                "wan.no-such-segment",
                here,
                f"cable '{lease.id}' has no segment {lease.landing_station} -> {lease.far_end}; it has: {have}",
                "lease a segment the cable has, or fix landing_station / far_end",
            )
            continue
        if segment.length_km is not None:
            resolved[lease.id] = _Resolved(i, lease, segment.length_km, "published")
            continue
        via = [v for v in segment.via if v in cat.hubs]
        if len(via) != len(segment.via):
            missing = ", ".join(v for v in segment.via if v not in cat.hubs)
            ctx.error(
                "wan.unknown-hub",
                here,
                f"cable '{lease.id}' segment {lease.landing_station} -> {lease.far_end} is routed via hubs the "
                f"catalog does not have ({missing}); the great circle skips them",
                "add the hubs to the catalog or fix the segment's via list",
            )
        points = [(station.latitude, station.longitude)]
        points += [(cat.hubs[v].latitude, cat.hubs[v].longitude) for v in via]
        points.append((cat.hubs[lease.far_end].latitude, cat.hubs[lease.far_end].longitude))
        gc = sum(great_circle_km(*p, *q) for p, q in itertools.pairwise(points))
        km = estimated_km(gc)
        resolved[lease.id] = _Resolved(i, lease, km, "estimated", gc)
        through = f" through {', '.join(via)}" if via else ""
        ctx.error(
            "wan.great-circle",
            here,
            f"cable '{lease.id}' {lease.landing_station} -> {lease.far_end}: route length not published; "
            f"estimated at {km:.0f} km, the {gc:.0f} km great circle{through} x {ROUTE_FACTOR:g} (route factor)",
            "add the segment's length_km to the catalog when it is published",
            Level.INFO,
        )
    return first, resolved


def _check_uplinks(
    ctx: _Ctx, uplinks: Iterable[UplinkRef], leases: dict[str, int]
) -> tuple[dict[str, float], dict[str, list[str]]]:
    """Uplinks must ride a leased cable and stay within the lease; returns lit Gb/s and phases per cable."""
    lit: dict[str, float] = {}
    phases: dict[str, list[str]] = {}
    over: set[str] = set()
    for ref in uplinks:
        cable = ref.uplink.cable
        if cable not in leases:
            ref_path: Path = (*ref.path, "cable")
            ctx.findings.add(
                ref.doc.finding(
                    Level.ERROR,
                    "wan.uplink-not-leased",
                    ref_path,
                    f"phase '{ref.phase_id}' lights an uplink on cable '{cable}', which the campus does not lease",
                    did_you_mean(cable, leases) or "add a lease to the campus's wan.cables or use a leased cable",
                )
            )
            continue
        lit[cable] = lit.get(cable, 0.0) + ref.uplink.gbps
        if ref.phase_id not in phases.setdefault(cable, []):
            phases[cable].append(ref.phase_id)
        leased = ctx.campus.wan.cables[leases[cable]].leased_gbps
        if lit[cable] > leased and cable not in over:
            over.add(cable)
            ctx.findings.add(
                ref.doc.finding(
                    Level.ERROR,
                    "wan.over-lease",
                    (*ref.path, "gbps"),
                    f"uplinks on cable '{cable}' reach {_fmt_gbps(lit[cable])} with this one, "
                    f"above the {_fmt_gbps(leased)} leased",
                    "lease more capacity on the cable or light less",
                )
            )
    return lit, phases


def _build_graph(ctx: _Ctx, resolved: dict[str, _Resolved], lit: dict[str, float]) -> nx.DiGraph:
    """The routing graph; only lit cables and resolvable hubs take part.

    Capacity sits on the cable edges (what is lit) and the hub-to-hub edges (transit contracted, per direction); the
    edges without one (backhaul, subsea route, hub to region) do not limit the flow. `est` is the estimated part of
    an edge's km and `leg` names it for findings.
    """
    g: nx.DiGraph = nx.DiGraph()
    g.add_node(EDGE)
    for sid, km in ctx.stations.items():
        est = ctx.estimated_backhaul.get(sid, 0.0)
        g.add_edge(EDGE, _ls(sid), km=km, est=est, leg=f"backhaul campus -> {sid}")
    for cid, res in resolved.items():
        if cid not in lit:
            continue
        usable = min(lit[cid], res.lease.leased_gbps)
        g.add_edge(_ls(res.lease.landing_station), _cable(cid), km=0.0, capacity=usable)
        est = res.km if res.km_source == "estimated" else 0.0
        leg = f"cable {cid} {res.lease.landing_station} -> {res.lease.far_end}"
        g.add_edge(_cable(cid), _hub(res.lease.far_end), km=res.km, est=est, leg=leg)
    cat = ctx.catalog
    for i, link in enumerate(ctx.campus.wan.terrestrial):
        here: Path = ("terrestrial", i)
        ok_a = ctx.hub_known(link.a, (*here, "a"), "terrestrial link end")
        ok_b = ctx.hub_known(link.b, (*here, "b"), "terrestrial link end")
        if not (ok_a and ok_b) or link.a == link.b:
            continue
        km, est = link.km, 0.0
        if km is None:
            a, b = cat.hubs[link.a], cat.hubs[link.b]
            km = est = estimated_km(great_circle_km(a.latitude, a.longitude, b.latitude, b.longitude))
        if link.capacity_gbps == 0:
            ctx.error(
                "wan.leg-no-capacity",
                (*here, "capacity_gbps"),
                f"terrestrial leg {link.a} <-> {link.b} has no transit contracted (capacity_gbps 0): routes over "
                "it count for latency, but no region's capacity counts them",
                "set capacity_gbps to the transit contracted on the leg",
                Level.INFO,
            )
        ways = {
            "both": ((link.a, link.b), (link.b, link.a)),
            "a-to-b": ((link.a, link.b),),
            "b-to-a": ((link.b, link.a),),
        }
        carried = ways[link.direction]
        for u, v in ((link.a, link.b), (link.b, link.a)):
            if not g.has_edge(_hub(u), _hub(v)):
                cap = link.capacity_gbps if (u, v) in carried else 0.0
                g.add_edge(_hub(u), _hub(v), km=km, est=est, leg=f"terrestrial {u} -> {v}", capacity=cap)
    return g


def _to_path(g: nx.DiGraph, nodes: list[str]) -> WanPath:
    edges = [g.edges[u, v] for u, v in itertools.pairwise(nodes)]
    km = sum(e["km"] for e in edges)
    return WanPath(
        hops=[n for n in nodes if not n.startswith("cable:")],
        cables=[n.removeprefix("cable:") for n in nodes if n.startswith("cable:")],
        landing_stations=[n.removeprefix("ls:") for n in nodes if n.startswith("ls:")],
        km=_r(km),
        rtt_floor_ms=rtt_floor_ms(km),
        estimated_km=_r(sum(e.get("est", 0.0) for e in edges)),
        estimated_legs=[e["leg"] for e in edges if e.get("est", 0.0) > 0],
    )


def _bounds(g: nx.DiGraph, target: str, max_edges: int) -> list[dict[str, float]]:
    """bound[r][v]: fewest km from v to `target` in at most r edges (walks, so a lower bound for simple paths).

    Bellman-Ford by edge count on the reversed graph: max_edges x edges steps, linear in the graph.
    """
    bound: list[dict[str, float]] = [{target: 0.0}]
    for _ in range(max_edges):
        prev = bound[-1]
        cur = dict(prev)
        for v, d in prev.items():
            for u in g.predecessors(v):
                km = d + g.edges[u, v]["km"]
                if km < cur.get(u, math.inf):
                    cur[u] = km
        bound.append(cur)
    return bound


def _shortest_routes(g: nx.DiGraph, start: tuple[str, ...], target: str, max_edges: int) -> Iterator[list[str]]:
    """Simple paths that begin with `start` and end at `target` in at most `max_edges` edges, shortest km first.

    Best-first search over partial paths, ordered by km so far plus the exact hop-limited lower bound of the rest
    (A* with a consistent heuristic), so complete paths come out in nondecreasing km and the caller may stop after
    any number of them: the cost grows with the routes taken, not with all the routes there are.
    """
    bound = _bounds(g, target, max_edges)
    km0 = sum(g.edges[u, v]["km"] for u, v in itertools.pairwise(start))
    left = max_edges - (len(start) - 1)
    if left < 0 or start[-1] not in bound[left]:
        return
    order = itertools.count()  # ties pop in push order; successors are pushed sorted: deterministic
    heap: list[tuple[float, int, float, tuple[str, ...]]] = [(km0 + bound[left][start[-1]], next(order), km0, start)]
    while heap:
        _, _, km, path = heapq.heappop(heap)
        v = path[-1]
        if v == target:
            yield list(path)
            continue
        left = max_edges - len(path)  # edges left after the next one
        for w in sorted(g.successors(v)):
            if w in path or w not in bound[left]:
                continue
            step = km + g.edges[v, w]["km"]
            heapq.heappush(heap, (step + bound[left][w], next(order), step, (*path, w)))


def _routes(g: nx.DiGraph, target: str, max_edges: int, limit: int) -> tuple[list[WanPath], bool]:
    """The `limit` shortest routes (and any tied with the last), sorted as the plan shows them; True when cut."""
    found: list[WanPath] = []
    routes = _shortest_routes(g, (EDGE,), target, max_edges)
    for nodes in routes:
        path = _to_path(g, nodes)
        if len(found) >= limit and path.rtt_floor_ms > found[-1].rtt_floor_ms:
            return _sorted(found), True
        found.append(path)
    return _sorted(found), False


def _sorted(paths: list[WanPath]) -> list[WanPath]:
    return sorted(paths, key=lambda p: (p.rtt_floor_ms, p.hops, p.cables))


def _cable_best(g: nx.DiGraph, target: str, max_edges: int, cables: list[str]) -> list[WanPath]:
    """Each lit cable's shortest routes to `target` (all tied at its best RTT floor), sorted as the plan shows them.

    A route's shared risk is its one cable and that cable's station, so the best diverse pair is always made of
    routes that are the best of their own cable: this list finds the same pair as all routes would.
    """
    best: list[WanPath] = []
    for cid in cables:
        node = _cable(cid)
        if not g.has_node(node):
            continue
        station = next(iter(g.predecessors(node)))
        if not g.has_edge(EDGE, station):  # a station the campus has no backhaul to: no route
            continue
        first: float | None = None
        for nodes in _shortest_routes(g, (EDGE, station, node), target, max_edges):
            path = _to_path(g, nodes)
            if first is not None and path.rtt_floor_ms > first:
                break
            first = path.rtt_floor_ms
            best.append(path)
    return _sorted(best)


def _diverse(a: WanPath, b: WanPath) -> bool:
    """Diverse = no shared-risk group in common: no cable and no landing station."""
    return not (set(a.cables) & set(b.cables)) and not (set(a.landing_stations) & set(b.landing_stations))


def _best_diverse_pair(paths: list[WanPath]) -> list[WanPath] | None:
    """The diverse pair whose slower member is fastest (then lowest total RTT); `paths` is sorted best first."""
    best: tuple[float, float, int, int] | None = None
    for j, q in enumerate(paths):
        if best is not None and q.rtt_floor_ms > best[0]:
            break
        for i in range(j):
            p = paths[i]
            if _diverse(p, q):
                key = (q.rtt_floor_ms, p.rtt_floor_ms + q.rtt_floor_ms, i, j)
                if best is None or key < best:
                    best = key
                break  # later i only have a higher RTT for this q
    return None if best is None else [paths[best[2]], paths[best[3]]]


def _capacity(g: nx.DiGraph, target: str, cables: list[str]) -> tuple[float, float, str | None]:
    """Max flow edge -> target, and the worst single cable cut (None when no cut lowers it)."""
    if not nx.has_path(g, EDGE, target):
        return 0.0, 0.0, None
    full = float(nx.maximum_flow_value(g, EDGE, target))
    worst, worst_cable = full, None
    for cid in cables:
        cut = g.copy()
        cut.remove_node(_cable(cid))
        value = float(nx.maximum_flow_value(cut, EDGE, target)) if nx.has_path(cut, EDGE, target) else 0.0
        if value < worst:
            worst, worst_cable = value, cid
    return _r(full), _r(worst), worst_cable


def _estimate_doubt(ctx: _Ctx, here: Path, region: Region, paths: list[WanPath], preferred: WanPath) -> None:
    """Say when the preferred route's floor rests on estimated lengths: a warning when the SLO does (no published
    route meets it and the route misses it at PESSIMISTIC_ROUTE_FACTOR), a note otherwise."""
    if preferred.estimated_km == 0:
        return
    slo = region.rtt_slo_ms
    pessimistic = rtt_floor_ms(preferred.km + preferred.estimated_km * (PESSIMISTIC_ROUTE_FACTOR / ROUTE_FACTOR - 1))
    published = any(p.estimated_km == 0 and p.rtt_floor_ms <= slo for p in paths)
    at_risk = preferred.rtt_floor_ms <= slo < pessimistic and not published
    legs = "; ".join(preferred.estimated_legs)
    ctx.error(
        "wan.estimated-route",
        (*here, "rtt_slo_ms") if at_risk else here,
        f"region '{region.id}': its best route ({' -> '.join(preferred.hops)}) has {preferred.estimated_km:g} of its "
        f"{preferred.km:g} km estimated, not published ({legs}); its {preferred.rtt_floor_ms:g} ms floor assumes "
        f"route factor {ROUTE_FACTOR:g}"
        + (
            f", and at {PESSIMISTIC_ROUTE_FACTOR:g} it would be {pessimistic:g} ms, above the {slo:g} ms SLO"
            if at_risk
            else ""
        ),
        "get the route length from the carrier (catalog length_km, the leg's km, the station's backhaul_km), or "
        "lease a route whose length is published"
        if at_risk
        else None,
        Level.WARNING if at_risk else Level.INFO,
    )


def _plan_region(ctx: _Ctx, g: nx.DiGraph, i: int, region: Region, lit_cables: list[str]) -> RegionPlan:
    """Routes, diversity, SLO and capacity checks for one region (per region: regions share cables)."""
    here: Path = ("regions", i)
    target = _region(region.id)
    g.add_node(target)
    for j, hub in enumerate(region.hubs):
        if ctx.hub_known(hub, (*here, "hubs", j), f"hub of region '{region.id}'") and g.has_node(_hub(hub)):
            g.add_edge(_hub(hub), target, km=0.0)
    cutoff = 4 + MAX_TERRESTRIAL_HOPS  # edges: edge, ls, cable, hub, (hubs...), region
    paths, cut = _routes(g, target, cutoff, MAX_PATHS)
    preferred = paths[0] if paths else None
    pair = _best_diverse_pair(_cable_best(g, target, cutoff, lit_cables))
    if cut:
        ctx.error(
            "wan.paths-bounded",
            here,
            f"region '{region.id}' has more than {MAX_PATHS:,} routes within {MAX_TERRESTRIAL_HOPS} terrestrial "
            f"hops; only the {len(paths):,} shortest were enumerated (the preferred route, the diverse pair and "
            "the capacities are still exact)",
            "fine for a dense mesh; list fewer terrestrial links if the plan's route lists should be complete",
            Level.WARNING,
        )
    capacity, after_cut, worst = _capacity(g, target, lit_cables)
    slo = region.rtt_slo_ms
    committed = region.committed_egress_gbps
    if preferred is None:
        ctx.error(
            "wan.unreachable",
            here,
            f"region '{region.id}' has no route from the campus: no lit cable reaches its hubs "
            f"({', '.join(region.hubs)}) directly or over terrestrial links",
            "light an uplink on a cable ending at one of its hubs, or add a terrestrial link to one",
        )
    else:
        if preferred.rtt_floor_ms > slo:
            ctx.error(
                "wan.slo-below-floor",
                (*here, "rtt_slo_ms"),
                f"region '{region.id}' RTT SLO {slo:g} ms is below the physical floor {preferred.rtt_floor_ms:g} ms "
                f"of its best route ({' -> '.join(preferred.hops)}, {preferred.km:g} km); it cannot be met",
                f"raise the SLO to at least {math.ceil(preferred.rtt_floor_ms)} ms plus equipment delay, "
                "or reach the region by a shorter route",
            )
        elif pair is not None and pair[1].rtt_floor_ms > slo:
            ctx.error(
                "wan.backup-over-slo",
                (*here, "rtt_slo_ms"),
                f"region '{region.id}': the diverse backup route ({' -> '.join(pair[1].hops)}) has an RTT floor of "
                f"{pair[1].rtt_floor_ms:g} ms, above the {slo:g} ms SLO; after a cut the SLO is missed",
                "accept degraded latency during a cut, or lease a shorter diverse route",
                Level.WARNING,
            )
        if pair is None:
            ctx.error(
                "wan.not-diverse",
                here,
                f"region '{region.id}' has no two routes without a shared cable or landing station; "
                "one cable or station failure cuts it off",
                "light a cable from a different landing station that reaches one of the region's hubs",
            )
        if capacity < committed:
            ctx.error(
                "wan.capacity",
                (*here, "committed_egress_gbps"),
                f"region '{region.id}' can reach {_fmt_gbps(capacity)} over the lit cables and contracted legs, "
                f"below the {_fmt_gbps(committed)} committed egress",
                "light more uplinks on cables reaching the region, contract transit on the legs to it, "
                "or lower the commitment",
            )
        elif after_cut < committed:
            ctx.error(
                "wan.cut-capacity",
                (*here, "committed_egress_gbps"),
                f"region '{region.id}' drops to {_fmt_gbps(after_cut)} if cable '{worst}' is cut, below the "
                f"{_fmt_gbps(committed)} committed egress",
                f"light more capacity on routes that avoid '{worst}'",
            )
        _estimate_doubt(ctx, here, region, paths, preferred)
    return RegionPlan(
        id=region.id,
        name=region.name,
        committed_egress_gbps=_r(committed),
        rtt_slo_ms=_r(slo),
        paths=paths[:MAX_REPORTED_PATHS],
        preferred=preferred,
        diverse_pair=pair,
        capacity_gbps=capacity,
        capacity_after_worst_cut_gbps=after_cut,
        worst_cut_cable=worst,
        meets_slo=preferred is not None and preferred.rtt_floor_ms <= slo,
    )


def plan_wan(
    *, campus: Campus, campus_doc: SourceDoc, catalog: Catalog, uplinks: list[UplinkRef]
) -> tuple[WanPlan, list[Finding]]:
    """Plan the WAN for one phase from the campus's leases and the cumulative uplinks up to that phase.

    `catalog` is the effective catalog (built-in merged with the campus's overrides). Anything that does not resolve
    (unknown ids, missing segments) is reported and left out of the graph; it never raises.
    """
    ctx = _Ctx(campus=campus, doc=campus_doc, catalog=catalog)
    _check_stations(ctx)
    _check_hubs(ctx)
    leases, resolved = _check_leases(ctx)
    lit, phases = _check_uplinks(ctx, uplinks, leases)
    g = _build_graph(ctx, resolved, lit)
    lit_cables = sorted(cid for cid in resolved if cid in lit)

    cables = [
        CableUse(
            id=cid,
            landing_station=res.lease.landing_station,
            far_end=res.lease.far_end,
            km=_r(res.km),
            km_source=res.km_source,
            great_circle_km=None if res.great_circle_km is None else _r(res.great_circle_km),
            leased_gbps=_r(res.lease.leased_gbps),
            lit_gbps=_r(lit.get(cid, 0.0)),
            uplinks=phases.get(cid, []),
        )
        for cid, res in resolved.items()
    ]
    regions: list[RegionPlan] = []
    seen: set[str] = set()
    for i, region in enumerate(campus.wan.regions):
        if region.id in seen:
            ctx.error("wan.duplicate-id", ("regions", i, "id"), f"region '{region.id}' is defined twice", "remove one")
            continue
        seen.add(region.id)
        regions.append(_plan_region(ctx, g, i, region, lit_cables))
    return WanPlan(cables=cables, regions=regions), list(ctx.findings)
