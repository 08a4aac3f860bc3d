"""The lab's topology: which routers stand in for the phase's WAN, how they are linked and addressed.

The edge routers are the campus's own (loopbacks and session /31s from the edge plan). What the campus does not own
is emulated: one router per lit cable at its landing station (the carrier's termination of that cable, in the
station's AS), one router per far-end hub (AS `lab.hub_asn_base` + its index in `wan.hubs`) announcing its
regions' prefixes, the terrestrial legs between hubs and the campus core behind the edges (where the monitoring
host sits and probes from). A landing station with two cables gets two routers, so a cut of one cable can never
reroute the other's circuit inside the station.

The edge interconnect is the campus's own and comes from the edge plan as it would be built: its /31s from the
address plan, its ports named as the rendered OSPF config names them (`ic0`, ...). Every emulated link is a /31 from
`lab.links`, handed out in a fixed order (cables, terrestrial legs, core links); interface names are short and fixed
here so every part of the lab agrees on them.
"""

from __future__ import annotations

from ipaddress import IPv4Network
from typing import Literal

from kasbah.plan.edge import EdgePlan
from kasbah.plan.model import PlanModel
from kasbah.plan.services import ServiceHost
from kasbah.spec.campus import Campus

NodeKind = Literal["edge", "landing_station", "hub", "campus"]
LinkKind = Literal["circuit", "cable", "terrestrial", "interconnect", "core"]
CAMPUS_NODE = "campus"
_IF_LETTER = {"circuit": "c", "cable": "w", "terrestrial": "t", "interconnect": "i", "core": "k"}


class LabNode(PlanModel):
    id: str
    kind: NodeKind
    name: str
    """The spec's id: edge router, landing station, hub or the campus."""
    asn: int | None
    router_id: str | None
    cable: str | None = None
    """For a landing-station router: the cable it terminates."""
    addresses: list[str]
    """Addresses on its loopback: an edge's loopback, a hub's region targets, the monitoring host's address."""
    announce: list[str]
    """Prefixes it originates in BGP (a hub's regions; the edge announces through its own rendered config)."""


class LabLink(PlanModel):
    id: str
    kind: LinkKind
    a: str
    b: str
    a_if: str
    b_if: str
    a_address: str
    b_address: str
    """Each end's address with the prefix length (`100.64.0.0/31`)."""
    cable: str | None = None


class LabPlan(PlanModel):
    nodes: list[LabNode]
    links: list[LabLink]
    probe_source: str
    """The monitoring host's address: the source of every probe, announced by the edge within the campus prefixes."""
    problems: list[str] = []
    """What the topology could not place (e.g. `lab.links` too small); the planner reports each as an error."""

    def node(self, node_id: str) -> LabNode:
        return next(n for n in self.nodes if n.id == node_id)

    def cable_router(self, cable: str) -> LabNode | None:
        return next((n for n in self.nodes if n.kind == "landing_station" and n.cable == cable), None)

    def links_of(self, node_id: str) -> list[LabLink]:
        return [link for link in self.links if node_id in (link.a, link.b)]


def ls_node(cable: str) -> str:
    return f"ls-{cable}"


def hub_node(hub: str) -> str:
    return f"hub-{hub}"


def plan_lab(campus: Campus, edge: EdgePlan, service_hosts: list[ServiceHost]) -> LabPlan:
    hubs = list(campus.wan.hubs)
    far_end = {c.id: c.far_end for c in campus.wan.cables}
    region_prefixes: dict[str, list[str]] = {h: [] for h in hubs}
    for region in campus.wan.regions:
        for hub in region.hubs:
            region_prefixes.setdefault(hub, []).extend(str(p) for p in region.prefixes)
    on_lo = {  # a region's probe address, held by every hub of the region (anycast)
        p: f"{a}/{IPv4Network(p).prefixlen}"
        for r in edge.regions
        for p, a in zip(r.prefixes, r.probe_addresses, strict=True)
    }
    block = campus.lab.links
    pairs = iter((str(net[0]), str(net[1])) for net in block.subnets(new_prefix=31) if block.prefixlen <= 31)
    problems: list[str] = []
    links: list[LabLink] = []
    counts: dict[str, int] = {}

    def iface(node: str, kind: LinkKind) -> str:
        n = counts.get(f"{node}/{kind}", 0)
        counts[f"{node}/{kind}"] = n + 1
        return f"{_IF_LETTER[kind]}{n}"

    def link(
        kind: LinkKind,
        link_id: str,
        a: str,
        b: str,
        cidr: tuple[str, str] | None = None,
        cable=None,
        names: tuple[str, str] | None = None,
    ) -> None:
        if cidr is None:
            pair = next(pairs, None)
            if pair is None:
                problems.append(f"lab.links {block} has no /31 left for the {kind} link {link_id}")
                return
            addresses = (f"{pair[0]}/31", f"{pair[1]}/31")
        else:
            addresses = cidr
        links.append(
            LabLink(
                id=link_id,
                kind=kind,
                a=a,
                b=b,
                a_if=names[0] if names else iface(a, kind),
                b_if=names[1] if names else iface(b, kind),
                a_address=addresses[0],
                b_address=addresses[1],
                cable=cable,
            )
        )

    sessions = sorted((s for r in edge.routers for s in r.sessions), key=lambda s: s.cable)
    for s in sessions:
        prefixlen = s.link_cidr.split("/")[1]
        link(
            "circuit",
            f"{s.cable} circuit",
            s.edge_router,
            ls_node(s.cable),
            (f"{s.local_address}/{prefixlen}", f"{s.peer_address}/{prefixlen}"),
            cable=s.cable,
        )
    # One termination per lit cable, even when two edge routers light it.
    lit = sorted({s.cable: s for s in sessions}.values(), key=lambda s: s.cable)
    for s in lit:
        link("cable", s.cable, ls_node(s.cable), hub_node(far_end[s.cable]), cable=s.cable)
    for t in campus.wan.terrestrial:
        link("terrestrial", f"{t.a}-{t.b}", hub_node(t.a), hub_node(t.b))
    routers = [r.id for r in edge.routers]
    for ic in edge.interconnects:
        link("interconnect", ic.id, ic.a, ic.b, (ic.a_address, ic.b_address), names=(ic.a_if, ic.b_if))
    for r in routers:
        link("core", f"{CAMPUS_NODE}-{r}", CAMPUS_NODE, r)

    def first_link_address(node: str) -> str | None:
        for lk in links:
            if node in (lk.a, lk.b):
                return (lk.a_address if lk.a == node else lk.b_address).split("/")[0]
        return None

    monitoring = next((h for h in service_hosts if h.role == "monitoring"), None)
    probe_source = monitoring.address if monitoring else ""
    nodes = [
        LabNode(
            id=r.id,
            kind="edge",
            name=r.id,
            asn=r.asn,
            router_id=r.loopback.split("/")[0],
            addresses=[r.loopback],
            announce=[],
        )
        for r in edge.routers
    ]
    nodes += [
        LabNode(
            id=ls_node(s.cable),
            kind="landing_station",
            name=s.landing_station,
            asn=s.peer_asn,
            router_id=first_link_address(ls_node(s.cable)),
            cable=s.cable,
            addresses=[],
            announce=[],
        )
        for s in lit
    ]
    nodes += [
        LabNode(
            id=hub_node(h),
            kind="hub",
            name=h,
            asn=campus.lab.hub_asn_base + i,
            router_id=first_link_address(hub_node(h)),
            addresses=[on_lo[p] for p in region_prefixes.get(h, []) if p in on_lo],
            announce=list(region_prefixes.get(h, [])),
        )
        for i, h in enumerate(hubs)
    ]
    nodes.append(
        LabNode(
            id=CAMPUS_NODE,
            kind="campus",
            name=campus.name,
            asn=None,
            router_id=None,
            addresses=[f"{probe_source}/32"] if probe_source else [],
            announce=[],
        )
    )
    return LabPlan(nodes=nodes, links=links, probe_source=probe_source, problems=problems)
