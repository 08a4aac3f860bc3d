"""WanUplink: one subsea cable system lit by a phase, and the eBGP sessions the campus edge runs over it.

A cable has no step of its own: its sessions are configured by the steps of the routers that carry them
(`EdgeRouter`, one per router, since a router's configuration holds all its sessions). The component reports the
cable and waits for those routers' steps (`opts.depends_on`), so whatever depends on the uplink waits for them too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi

from kasbah.plan.edge import BgpSession
from kasbah.plan.wan import CableUse


@dataclass
class WanUplinkArgs:
    """Inputs of a WanUplink.

    cable_id, landing_station, far_end, lit_gbps: the cable (`plan.wan.cables[i]`). sessions: the sessions this
    phase adds over it. router_steps: the steps of the routers carrying them (the uplink is up once they ran).
    Build it from the plan with `from_plan`.
    """

    cable_id: str
    sessions: Sequence[BgpSession]
    router_steps: Sequence[pulumi.Input[pulumi.Resource]] = ()
    landing_station: str = ""
    far_end: str = ""
    lit_gbps: float | None = None

    @classmethod
    def from_plan(
        cls, cable: CableUse, sessions: Sequence[BgpSession], router_steps: Sequence[pulumi.Input[pulumi.Resource]]
    ) -> WanUplinkArgs:
        return cls(
            cable_id=cable.id,
            sessions=sessions,
            router_steps=router_steps,
            landing_station=cable.landing_station,
            far_end=cable.far_end,
            lit_gbps=cable.lit_gbps,
        )


class WanUplink(pulumi.ComponentResource):
    """A cable's sessions, after the steps of the routers that carry them."""

    def __init__(self, name: str, args: WanUplinkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        if not args.sessions:
            raise ValueError(f"WanUplink {name}: no BGP session over cable {args.cable_id}")
        after = pulumi.ResourceOptions(depends_on=list(args.router_steps))
        super().__init__("kasbah:wan:WanUplink", name, {}, pulumi.ResourceOptions.merge(opts, after))
        self.routers = sorted({s.edge_router for s in args.sessions})
        self.register_outputs(
            {
                "cable": args.cable_id,
                "landingStation": args.landing_station,
                "farEnd": args.far_end,
                "litGbps": args.lit_gbps,
                "routers": self.routers,
                "sessions": [
                    {"router": s.edge_router, "peerAsn": s.peer_asn, "link": s.link_cidr} for s in args.sessions
                ],
            }
        )
