"""Reading the lab's routing state back in the plan's terms: sessions per cable, the cable each region uses now.

Cuts are silent: nftables drops everything on a cable's circuit and wet segment inside the cable's landing-station
router, and the links stay up, so only BFD can notice (as with a real cable fault, where the light stays on).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv4Interface

from kasbah import netns
from kasbah.netns import FrrInstance
from kasbah.plan.derive import Plan
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


def cut_ruleset(interfaces: list[str]) -> str:
    names = ", ".join(f'"{i}"' for i in interfaces)
    return (
        f"table inet {CUT_TABLE} {{\n"
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


def restore(ns: str) -> None:
    """Remove a cut's table (absent is fine: restore twice does no harm)."""
    tables = netns.run(["nft", "list", "tables"], netns=ns, check=False)
    if f"inet {CUT_TABLE}" in tables:
        netns.run(["nft", "delete", "table", "inet", CUT_TABLE], netns=ns)
