"""The campus WAN edge: routers, eBGP sessions to the landing-station peers and per-region path preferences.

Everything the WAN edge role, the lab and the monitoring need to agree on is decided here once: which router peers
over which cable, the /31 of each session, the vault variable holding its password, and for each region the
local-preference each cable's routes get (best latency floor first), so the edge sends each region's traffic over the
path with the lowest latency floor and falls back in order.
"""

from __future__ import annotations

from ipaddress import IPv4Network

from kasbah.plan.addresses import Allocation
from kasbah.plan.model import PlanModel
from kasbah.plan.wan import UplinkRef, WanPlan
from kasbah.spec.campus import Campus

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


class EdgePlan(PlanModel):
    asn: int
    announce: list[str]
    bfd: Bfd
    routers: list[EdgeRouter]
    regions: list[RegionRouting]


def probe_address(prefix: str) -> str:
    net = IPv4Network(prefix)
    return str(next(iter(net.hosts()), net.network_address))


def password_var(router: str, cable: str) -> str:
    """The ansible-vault variable holding one session's password (never its value)."""
    return f"vault_bgp_password_{router}_{cable}".replace("-", "_")


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
    return EdgePlan(
        asn=campus.asns.edge,
        announce=[str(p) for p in announce],
        bfd=Bfd(interval_ms=campus.wan.bfd_interval_ms, multiplier=campus.wan.bfd_multiplier),
        routers=routers,
        regions=regions,
    )
