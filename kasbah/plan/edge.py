"""The campus WAN edge: routers, eBGP sessions to the landing-station peers and per-region path preferences.

Everything the WAN edge role, the lab and the monitoring need to agree on is decided here once: which router peers
over which cable, the /31 of each session, the vault variable holding its password, and for each region the
local-preference each cable's routes get (best latency floor first), so the edge sends each region's traffic over the
path with the lowest latency floor and falls back in order.

The edge routers run iBGP over their loopbacks, so they also need each other's loopbacks: the plan links them with an
interconnect of point-to-point /31s and an IGP over it (see `plan_interconnects`).
"""

from __future__ import annotations

from ipaddress import IPv4Network

from kasbah.plan.addresses import Allocation
from kasbah.plan.model import PlanModel
from kasbah.plan.wan import UplinkRef, WanPlan
from kasbah.spec.campus import Campus

INTERCONNECT_IF_PREFIX = "ic"
"""An edge router's interconnect ports are `ic0`, `ic1`, ... in build order (a real router names its ports so with
systemd .link files; the lab's veths carry the same names), so the rendered OSPF config names them as built."""
OSPF_AREA = "0.0.0.0"
"""One backbone area: a handful of edge routers need no hierarchy."""
IBGP_BFD_SLOWDOWN = 3
"""The iBGP multihop BFD detects `x3` slower than the per-link BFD: when one interconnect link fails, its link BFD
drops the OSPF adjacency and traffic moves to the remaining links before the loopback-to-loopback session could
notice, so a link cut never takes iBGP down; only a router (or its BGP daemon) gone does."""
PREFERRED_LOCAL_PREF = 200
"""Local preference of a region's best cable; each next cable gets 10 less, never below 110 (above BGP's 100)."""


class BgpSession(PlanModel):
    edge_router: str
    cable: str
    landing_station: str
    peer_asn: int
    link_cidr: str
    local_address: str
    peer_address: str
    phase: str
    password_var: str
    max_prefixes: int = 2_000_000
    max_prefixes_warning_only: bool = False


class EdgeRouter(PlanModel):
    id: str
    asn: int
    loopback: str
    phase: str
    sessions: list[BgpSession]


class CablePreference(PlanModel):
    cable: str
    landing_station: str
    rtt_floor_ms: float
    local_pref: int


class RegionRouting(PlanModel):
    region: str
    prefixes: list[str]
    probe_addresses: list[str]
    """Per prefix, in the same order, the address that stands for it: its first host. The WAN probes target it and
    the lab's hubs answer on it."""
    preference: list[CablePreference]


class Bfd(PlanModel):
    interval_ms: int
    multiplier: int


class Interconnect(PlanModel):
    """One point-to-point link between two edge routers: `a` is the router built first and holds the lower address."""

    id: str
    """`a/b/n`: the n-th link (from 1) between routers a and b."""
    a: str
    b: str
    a_if: str
    b_if: str
    link_cidr: str
    a_address: str
    b_address: str
    """Each end's address with the prefix length (`100.64.0.8/31`)."""
    phase: str


class InterconnectSlot(PlanModel):
    a: str
    b: str
    n: int
    phase: str

    @property
    def scope(self) -> str:
        """The address plan's scope of this link's /31 (ids never hold `/`)."""
        return f"interconnect {self.a}/{self.b}/{self.n}"


class EdgePlan(PlanModel):
    asn: int
    announce: list[str]
    bfd: Bfd
    """Per eBGP session and per interconnect link (OSPF)."""
    ibgp_bfd: Bfd
    """The iBGP sessions' multihop BFD (loopback to loopback): slower than a link's, see `IBGP_BFD_SLOWDOWN`."""
    ospf_area: str
    routers: list[EdgeRouter]
    interconnects: list[Interconnect]
    regions: list[RegionRouting]

    def interconnects_of(self, router: str) -> list[Interconnect]:
        return [i for i in self.interconnects if router in (i.a, i.b)]


def probe_address(prefix: str) -> str:
    net = IPv4Network(prefix)
    return str(next(iter(net.hosts()), net.network_address))


def password_var(router: str, cable: str) -> str:
    """The ansible-vault variable holding one session's password (never its value)."""
    return f"vault_bgp_password_{router}_{cable}".replace("-", "_")


def interconnect_slots(router_phase: dict[str, str]) -> list[InterconnectSlot]:
    """Every interconnect link of the campus in build order, from the edge routers in the order they were built.

    Topology: a full mesh of point-to-point links, so any two edge routers are one hop apart (the iBGP next hop is
    always a neighbour, no transit through a third edge) and, with three or more routers, cutting any one link still
    leaves a path through a third router. Two routers alone would be partitioned by one cut, so a pair that is the
    campus's only pair when its phase is built gets two parallel links (OSPF spreads over both and keeps the other
    when one fails). Links are only ever added: a phase adding a router links it to every earlier one, and the
    earlier links (their addresses and port names) stay as built.
    """
    by_phase: dict[str, list[str]] = {}
    for router, phase in router_phase.items():
        by_phase.setdefault(phase, []).append(router)
    built: list[str] = []
    out: list[InterconnectSlot] = []
    for phase, new in by_phase.items():
        per_pair = 2 if len(built) + len(new) == 2 else 1
        for router in new:
            for earlier in built:
                out += [InterconnectSlot(a=earlier, b=router, n=n, phase=phase) for n in range(1, per_pair + 1)]
            built.append(router)
    return out


def plan_interconnects(router_phase: dict[str, str], blocks: dict[str, str]) -> list[Interconnect]:
    """The interconnect links whose /31 the address plan holds; port names `ic<k>` count each router's links."""
    ports: dict[str, int] = {}
    out = []
    for slot in interconnect_slots(router_phase):
        ifs = []
        for router in (slot.a, slot.b):
            ifs.append(f"{INTERCONNECT_IF_PREFIX}{ports.get(router, 0)}")
            ports[router] = ports.get(router, 0) + 1
        cidr = blocks.get(slot.scope)
        if cidr is None:
            continue  # the address plan is exhausted and said so
        net = IPv4Network(cidr)
        out.append(
            Interconnect(
                id=f"{slot.a}/{slot.b}/{slot.n}",
                a=slot.a,
                b=slot.b,
                a_if=ifs[0],
                b_if=ifs[1],
                link_cidr=cidr,
                a_address=f"{net[0]}/{net.prefixlen}",
                b_address=f"{net[1]}/{net.prefixlen}",
                phase=slot.phase,
            )
        )
    return out


def plan_edge(
    campus: Campus, wan: WanPlan, uplinks: list[UplinkRef], allocations: list[Allocation], router_phase: dict[str, str]
) -> EdgePlan:
    blocks = {a.scope: a.cidr for a in allocations if a.network in ("wan_links", "loopbacks")}
    stations = {s.id: s for s in campus.wan.landing_stations}
    leases = {}
    for lease in campus.wan.cables:
        leases.setdefault(lease.id, lease)
    sessions: dict[str, list[BgpSession]] = {}
    for u in uplinks:
        router, cable = u.uplink.edge_router, u.uplink.cable
        lease = leases.get(cable)
        cidr = blocks.get(f"uplink {cable}/{router}")
        if lease is None or lease.landing_station not in stations or cidr is None:
            continue  # the WAN plan already reported it
        net = IPv4Network(cidr)
        sessions.setdefault(router, []).append(
            BgpSession(
                edge_router=router,
                cable=cable,
                landing_station=lease.landing_station,
                peer_asn=stations[lease.landing_station].peer_asn,
                link_cidr=cidr,
                local_address=str(net[0]),
                peer_address=str(net[1]),
                phase=u.phase_id,
                password_var=password_var(router, cable),
                max_prefixes=stations[lease.landing_station].max_prefixes,
                max_prefixes_warning_only=stations[lease.landing_station].max_prefixes_warning_only,
            )
        )
    routers = [
        EdgeRouter(
            id=r,
            asn=campus.asns.edge,
            loopback=blocks.get(f"edge {r}", ""),
            phase=router_phase[r],
            sessions=sorted(sessions[r], key=lambda s: s.cable),
        )
        for r in sorted(sessions)
    ]
    lit = {s.cable: s.landing_station for r in routers for s in r.sessions}
    prefixes = {r.id: r.prefixes for r in campus.wan.regions}
    regions = []
    for rp in wan.regions:
        best: dict[str, float] = {}
        for path in rp.paths:
            first = path.cables[0] if path.cables else None
            if first in lit and path.rtt_floor_ms < best.get(first, float("inf")):
                best[first] = path.rtt_floor_ms
        ranked = sorted(best.items(), key=lambda kv: (kv[1], kv[0]))
        regions.append(
            RegionRouting(
                region=rp.id,
                prefixes=[str(p) for p in prefixes.get(rp.id, [])],
                probe_addresses=[probe_address(str(p)) for p in prefixes.get(rp.id, [])],
                preference=[
                    CablePreference(
                        cable=c,
                        landing_station=lit[c],
                        rtt_floor_ms=rtt,
                        local_pref=max(PREFERRED_LOCAL_PREF - 10 * i, 110),
                    )
                    for i, (c, rtt) in enumerate(ranked)
                ],
            )
        )
    announce = campus.wan.announce or [campus.addressing.services]
    with_sessions = {r.id for r in routers}
    return EdgePlan(
        asn=campus.asns.edge,
        announce=[str(p) for p in announce],
        bfd=Bfd(interval_ms=campus.wan.bfd_interval_ms, multiplier=campus.wan.bfd_multiplier),
        ibgp_bfd=Bfd(
            interval_ms=campus.wan.bfd_interval_ms,
            multiplier=min(campus.wan.bfd_multiplier * IBGP_BFD_SLOWDOWN, 255),
        ),
        ospf_area=OSPF_AREA,
        routers=routers,
        interconnects=[i for i in plan_interconnects(router_phase, blocks) if {i.a, i.b} <= with_sessions],
        regions=regions,
    )
