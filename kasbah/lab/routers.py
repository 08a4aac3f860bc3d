"""FRR configurations of the lab's stand-in routers (landing stations and far-end hubs), from the plan.

The edge routers are not configured here: the wan_edge role deploys their rendered configuration, as on the campus.
A landing-station router peers with the edge over its cable's circuit (with the session's password) and with the
far-end hub over the cable; a hub peers with the landing stations whose cables end there and with the hubs its
terrestrial legs reach, and originates its regions' prefixes. BFD runs on every session at the plan's timers.
"""

from __future__ import annotations

from dataclasses import dataclass

from kasbah.plan.derive import Plan
from kasbah.plan.lab import LabNode
from kasbah.render.templating import render_template


@dataclass(frozen=True)
class Neighbor:
    address: str
    asn: int
    description: str
    password: str | None
    to_hub: bool


def neighbors(plan: Plan, node: LabNode, passwords: dict[str, str]) -> list[Neighbor]:
    """BGP neighbours of a stand-in router: the far end of each of its links (edge interconnect and core excluded)."""
    lab = plan.lab
    sessions = {(s.edge_router, s.cable): s for r in plan.edge.routers for s in r.sessions}
    out = []
    for link in lab.links_of(node.id):
        if link.kind not in ("circuit", "cable", "terrestrial"):
            continue
        other = lab.node(link.b if link.a == node.id else link.a)
        address = (link.b_address if link.a == node.id else link.a_address).split("/")[0]
        password = None
        session = sessions.get((other.id, link.cable or ""))
        if link.kind == "circuit" and session is not None:
            password = passwords[session.password_var]
        assert other.asn is not None
        out.append(
            Neighbor(
                address=address,
                asn=other.asn,
                description=f"{other.id} over {link.kind} {link.id}",
                password=password,
                to_hub=other.kind == "hub" and node.kind == "landing_station",
            )
        )
    return out


def router_config(plan: Plan, node: LabNode, passwords: dict[str, str]) -> str:
    """FRR's integrated config of one stand-in; `passwords` maps each session's vault variable to the lab's value."""
    if node.kind == "landing_station":
        what = f"the {node.cable} termination at landing station {node.name}"
        campus_prefixes = plan.edge.announce
    else:
        what = f"far-end hub {node.name}"
        campus_prefixes = []
    return render_template(
        "lab/router.conf.j2",
        node=node,
        what=what,
        campus=plan.campus,
        phase=plan.phase,
        campus_prefixes=campus_prefixes,
        bfd=plan.edge.bfd,
        neighbors=neighbors(plan, node, passwords),
    )
