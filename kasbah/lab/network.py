"""The lab's network: namespaces, veth links and kernel routes from the plan's lab topology, and FRR per router.

Kernel routes stand in for the campus core behind the edges, which the plan does not model: the core reaches each
edge's loopback and circuits, and each edge reaches the campus prefixes through the core. The edges reach each
other's loopbacks the way the campus will: over the planned interconnect links (built here with the plan's port names,
addressed by the edges' rendered config) by its OSPF, so the lab adds no route or address between edges. Everything
else is BGP. The lab puts each edge's loopback on `lo` before FRR starts (its exporter listens there); the rendered
config names the same address, which zebra accepts as already present.
"""

from __future__ import annotations

from ipaddress import IPv4Interface
from pathlib import Path

from kasbah import netns
from kasbah.lab.routers import router_config
from kasbah.lab.state import LabState
from kasbah.netns import FrrInstance
from kasbah.plan.derive import Plan
from kasbah.plan.lab import CAMPUS_NODE, LabLink
from kasbah.render.frr import DAEMONS as EDGE_DAEMONS

SYSCTLS = (
    "net.ipv4.ip_forward=1",
    "net.ipv4.conf.all.rp_filter=0",
    "net.ipv4.conf.default.rp_filter=0",
    "net.ipv4.conf.all.accept_local=1",
)
"""Routers forward; no reverse-path filter (paths are asymmetric by design). accept_local: every hub of a region
holds the region's probe address (anycast), so a reply from one hub may cross another that holds it too, which
Linux would otherwise drop as a martian source."""


def _end(link: LabLink, node: str) -> tuple[str, str]:
    """(interface, address without length) of `node`'s end of `link`."""
    if link.a == node:
        return link.a_if, str(IPv4Interface(link.a_address).ip)
    return link.b_if, str(IPv4Interface(link.b_address).ip)


def _far(link: LabLink, node: str) -> str:
    return _end(link, link.b if link.a == node else link.a)[1]


def build(plan: Plan, state: LabState) -> None:
    """Namespaces, loopback addresses, links and kernel routes; each namespace is recorded before it is used."""
    lab = plan.lab
    for node in lab.nodes:
        ns = state.netns(node.id)
        netns.add_namespace(ns)
        state.namespaces.append(ns)
        state.save()
        netns.run(["sysctl", "-q", "-w", *SYSCTLS], netns=ns)
        for address in node.addresses:
            netns.add_address(ns, "lo", address)
    for link in lab.links:
        # The interconnect's addresses come from the edges' rendered config (zebra puts them on the ports), as on
        # the campus: until the wan_edge role has run, the ports are up and unaddressed.
        own = link.kind == "interconnect"
        a_cidr, b_cidr = (None, None) if own else (link.a_address, link.b_address)
        netns.add_veth(state.netns(link.a), link.a_if, a_cidr, state.netns(link.b), link.b_if, b_cidr)
    edges = [n for n in lab.nodes if n.kind == "edge"]
    core = {lk.b: lk for lk in lab.links if lk.kind == "core"}
    campus_ns = state.netns(CAMPUS_NODE)
    source = lab.probe_source
    for i, edge in enumerate(edges):
        link = core[edge.id]
        via = _far(link, CAMPUS_NODE)
        targets = [*edge.addresses, *(lk.a_address for lk in lab.links_of(edge.id) if lk.kind == "circuit")]
        for target in targets:
            net = IPv4Interface(target).network
            netns.run(["ip", "route", "add", str(net), "via", via, "src", source], netns=campus_ns)
        if i == 0:  # the campus's traffic leaves through the first edge router; iBGP picks the exit from there
            netns.run(["ip", "route", "add", "default", "via", via, "src", source], netns=campus_ns)
        edge_ns = state.netns(edge.id)
        for prefix in plan.edge.announce:
            netns.run(["ip", "route", "add", prefix, "via", _far(link, edge.id)], netns=edge_ns)


def frr_instances(state: LabState) -> dict[str, FrrInstance]:
    """The FRR instance of every router, as recorded (daemon PIDs from their pid files when they still run)."""
    out = {}
    for node_id, base in sorted(state.frr.items()):
        inst = FrrInstance(state.netns(node_id), Path(base))
        # The daemons it was started with (`prepare` wrote a file for each): an edge's include ospfd.
        inst.daemons = tuple(d for d in EDGE_DAEMONS if (inst.config_dir / f"{d}.conf").is_file()) or inst.daemons
        for daemon in inst.daemons:
            pid_file = inst.run_dir / f"{daemon}.pid"
            text = pid_file.read_text().strip() if pid_file.is_file() else ""
            if text.isdigit():
                inst.pids[daemon] = int(text)
        out[node_id] = inst
    return out


def start_routers(plan: Plan, state: LabState, passwords: dict[str, str]) -> dict[str, FrrInstance]:
    """FRR in every router namespace: stand-ins with their configs, edges empty (the wan_edge role configures them)."""
    instances = {}
    for node in plan.lab.nodes:
        if node.kind == "campus":
            continue
        base = Path(state.dir) / "frr" / node.id
        if node.kind == "edge":  # the daemons its rendered config needs (OSPF on the interconnect)
            inst = FrrInstance(state.netns(node.id), base, daemons=EDGE_DAEMONS)
        else:
            inst = FrrInstance(state.netns(node.id), base)
        state.frr[node.id] = str(inst.base)
        state.save()
        config = None if node.kind == "edge" else router_config(plan, node, passwords)
        inst.start(config)
        for daemon, pid in inst.pids.items():
            state.add_process(f"{daemon}@{node.id}", pid, inst.netns, inst.log_file(daemon), expect=daemon)
        instances[node.id] = inst
    return instances
