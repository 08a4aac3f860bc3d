"""Reading the lab's routing state back in the plan's terms: sessions per cable, the cable each region uses now.

Cuts are silent: nftables drops everything on a cable's circuit and wet segment inside the cable's landing-station
router (or on one edge interconnect link, inside the edge router at its first end), and the links stay up, so only
BFD can notice (as with a real cable fault, where the light stays on).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv4Interface

from kasbah import netns
from kasbah.netns import FrrInstance
from kasbah.plan.derive import Plan
from kasbah.plan.edge import Interconnect
from kasbah.plan.lab import ls_node

CUT_TABLE = "kasbah_cut"


@dataclass(frozen=True)
class SessionState:
    edge_router: str
    cable: str
    landing_station: str
    peer: str
    state: str
    bfd: str
    prefixes: int


def sessions(plan: Plan, instances: dict[str, FrrInstance]) -> list[SessionState]:
    out = []
    for router in plan.edge.routers:
        inst = instances[router.id]
        try:
            peers, bfd = inst.bgp_peers(), inst.bfd_peers()
        except (netns.NetnsError, ValueError):
            peers, bfd = {}, {}
        for s in router.sessions:
            p = peers.get(s.peer_address, {})
            out.append(
                SessionState(
                    edge_router=router.id,
                    cable=s.cable,
                    landing_station=s.landing_station,
                    peer=s.peer_address,
                    state=str(p.get("state", "absent")),
                    bfd=bfd.get(s.peer_address, "absent"),
                    prefixes=int(p.get("pfxRcd", 0) or 0),
                )
            )
    return out


def fib_cable(plan: Plan, ns_of: Callable[[str], str], address: str, edge_router: str) -> str | None:
    """The cable the kernel of `edge_router` forwards `address` over now (following the edge interconnect).

    The FIB, not BGP: this is where packets go, and `ip route get` answers in milliseconds, so failover can be
    timed finely.
    """
    by_peer = {s.peer_address: s.cable for r in plan.edge.routers for s in r.sessions}
    ends = {}
    for link in plan.lab.links:
        if link.kind == "interconnect":
            ends[(link.a, str(IPv4Interface(link.b_address).ip))] = link.b
            ends[(link.b, str(IPv4Interface(link.a_address).ip))] = link.a
    router, seen = edge_router, set()
    while router not in seen:
        seen.add(router)
        out = netns.run(["ip", "-j", "route", "get", address], netns=ns_of(router), check=False)
        try:
            gateway = json.loads(out or "[]")[0].get("gateway")
        except (ValueError, IndexError):
            return None
        if gateway in by_peer:
            return by_peer[gateway]
        if (router, gateway) not in ends:
            return None
        router = ends[(router, gateway)]
    return None


def preferred(plan: Plan, region: str, down: frozenset[str] | set[str] = frozenset()) -> str | None:
    """The plan's choice for a region among the cables not in `down`."""
    routing = next(r for r in plan.edge.regions if r.region == region)
    return next((p.cable for p in routing.preference if p.cable not in down), None)


def cut_ruleset(interfaces: list[str], table: str = CUT_TABLE) -> str:
    names = ", ".join(f'"{i}"' for i in interfaces)
    return (
        f"table inet {table} {{\n"
        f"  chain input {{ type filter hook input priority -300; policy accept; iifname {{ {names} }} drop; }}\n"
        f"  chain forward {{ type filter hook forward priority -300; policy accept; "
        f"iifname {{ {names} }} drop; oifname {{ {names} }} drop; }}\n"
        f"  chain output {{ type filter hook output priority -300; policy accept; oifname {{ {names} }} drop; }}\n"
        "}\n"
    )


def cut(plan: Plan, ns_of: Callable[[str], str], cable: str) -> str:
    """Drop everything on the cable's circuit and wet segment, silently; return the namespace holding the rules."""
    node = ls_node(cable)
    interfaces = sorted((lk.a_if if lk.a == node else lk.b_if) for lk in plan.lab.links_of(node) if lk.cable == cable)
    ns = ns_of(node)
    netns.run(["nft", "-f", "-"], netns=ns, input_text=cut_ruleset(interfaces))
    return ns


def restore(ns: str, table: str = CUT_TABLE) -> None:
    """Remove a cut's table (absent is fine: restore twice does no harm)."""
    tables = netns.run(["nft", "list", "tables"], netns=ns, check=False).split("\n")
    if f"table inet {table}" in tables:
        netns.run(["nft", "delete", "table", "inet", table], netns=ns)


def interconnect(plan: Plan, link_id: str) -> Interconnect | None:
    return next((i for i in plan.edge.interconnects if i.id == link_id), None)


def interconnect_table(link: Interconnect) -> str:
    """The nftables table of one interconnect cut: one per link, so two cut links of one router lift separately."""
    return f"{CUT_TABLE}_{link.a_if}"


def cut_interconnect(plan: Plan, ns_of: Callable[[str], str], link_id: str) -> str:
    """Drop everything on one edge interconnect link at its `a` end, silently; return the namespace of the rules."""
    link = interconnect(plan, link_id)
    if link is None:
        raise ValueError(f"{link_id!r} is not an interconnect link of the plan")
    ns = ns_of(link.a)
    netns.run(["nft", "-f", "-"], netns=ns, input_text=cut_ruleset([link.a_if], interconnect_table(link)))
    return ns


def restore_interconnect(plan: Plan, ns: str, link_id: str) -> None:
    link = interconnect(plan, link_id)
    if link is not None:
        restore(ns, interconnect_table(link))


def ospf_full(inst: FrrInstance) -> set[str]:
    """The interfaces on which the router has a Full OSPF adjacency now."""
    try:
        data = inst.query("show ip ospf neighbor json")
    except (netns.NetnsError, ValueError):
        return set()
    out = set()
    for entries in data.get("neighbors", {}).values():
        for n in entries if isinstance(entries, list) else [entries]:
            state = str(n.get("nbrState") or n.get("state") or "")
            iface = str(n.get("ifaceName") or "").split(":")[0]
            if state.startswith("Full") and iface:
                out.add(iface)
    return out


def ibgp_sessions(plan: Plan, instances: dict[str, FrrInstance]) -> dict[tuple[str, str], tuple[str, str]]:
    """(router, peer router) -> (BGP state, BFD state) of every iBGP session of the edge mesh, as each side sees it."""
    loopbacks = {r.id: r.loopback.split("/")[0] for r in plan.edge.routers}
    out = {}
    for router in plan.edge.routers:
        try:
            peers, bfd = instances[router.id].bgp_peers(), instances[router.id].bfd_peers()
        except (netns.NetnsError, ValueError):
            peers, bfd = {}, {}
        for other, address in loopbacks.items():
            if other != router.id:
                state = str(peers.get(address, {}).get("state", "absent"))
                out[(router.id, other)] = (state, bfd.get(address, "absent"))
    return out


def ibgp_drops(plan: Plan, instances: dict[str, FrrInstance]) -> dict[tuple[str, str], int]:
    """(router, peer router) -> how often that iBGP session has dropped since bgpd started (FRR's own counter, so a
    flap between two looks is not missed)."""
    loopbacks = {r.id: r.loopback.split("/")[0] for r in plan.edge.routers}
    out = {}
    for router in plan.edge.routers:
        try:
            neighbors = instances[router.id].query("show bgp neighbors json")
        except (netns.NetnsError, ValueError):
            neighbors = {}
        for other, address in loopbacks.items():
            if other != router.id:
                out[(router.id, other)] = int(neighbors.get(address, {}).get("connectionsDropped", 0) or 0)
    return out
