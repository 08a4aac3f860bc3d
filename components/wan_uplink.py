"""WanUplink: one subsea cable system lit by a phase, and the eBGP sessions the campus edge runs over it.

A cable has no step of its own: its sessions are configured by the steps of the routers that carry them
(`EdgeRouter`, one per router, since a router's configuration holds all its sessions). The component reports the
cable and waits for those routers' steps (`opts.depends_on`), so whatever depends on the uplink waits for them too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

from kasbah.plan.edge import BgpSession
from kasbah.plan.wan import CableUse


@dataclass
class WanUplinkArgs:
    """Inputs of a WanUplink.

    cable_id, landing_station, far_end, lit_gbps: the cable (`plan.wan.cables[i]`). routers: the edge routers
    carrying its sessions; router_steps: their steps (the uplink is up once they ran). sessions: reported as
    outputs only (router, peerAsn, link). Build it from the plan with `from_plan`.
    """

    cable_id: str
    routers: Sequence[str]
    router_steps: Sequence[pulumi.Input[pulumi.Resource]] = ()
    sessions: Sequence[Mapping[str, Any]] = ()
    landing_station: str = ""
    far_end: str = ""
    lit_gbps: float | None = None

    @classmethod
    def from_plan(
        cls, cable: CableUse, sessions: Sequence[BgpSession], router_steps: Sequence[pulumi.Input[pulumi.Resource]]
    ) -> WanUplinkArgs:
        if not sessions:
            raise ValueError(f"WanUplink: no BGP session over cable {cable.id}")
        return cls(
            cable_id=cable.id,
            routers=sorted({s.edge_router for s in sessions}),
            router_steps=router_steps,
            sessions=[{"router": s.edge_router, "peerAsn": s.peer_asn, "link": s.link_cidr} for s in sessions],
            landing_station=cable.landing_station,
            far_end=cable.far_end,
            lit_gbps=cable.lit_gbps,
        )


class WanUplink(pulumi.ComponentResource):
    """A cable's sessions, after the steps of the routers that carry them."""

    def __init__(self, name: str, args: WanUplinkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        if not args.routers:
            raise ValueError(f"WanUplink {name}: no edge router carries cable {args.cable_id}")
        after = pulumi.ResourceOptions(depends_on=list(args.router_steps))
        super().__init__("kasbah:wan:WanUplink", name, {}, pulumi.ResourceOptions.merge(opts, after))
        self.routers = sorted(args.routers)
        self.register_outputs(
            {
                "cable": args.cable_id,
                "landingStation": args.landing_station,
                "farEnd": args.far_end,
                "litGbps": args.lit_gbps,
                "routers": self.routers,
                "sessions": [dict(s) for s in args.sessions],
            }
        )
