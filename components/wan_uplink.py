"""WanUplink: one subsea cable system lit by a phase, and the eBGP sessions the campus edge runs over it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi

from components._step import ApplyStep, apply_command
from kasbah.plan.edge import BgpSession
from kasbah.plan.wan import CableUse

WAN_TAGS = ("wan_edge",)


@dataclass
class WanUplinkArgs:
    """Inputs of a WanUplink.

    cable: the cable as planned (`plan.wan.cables[i]`). sessions: the sessions this phase adds over it
    (`router.sessions` with `.phase` == the stack's phase). passwords: each session's `password_var` -> its
    secret (from `pulumi config set --secret`, never from a spec). trigger: digest of the routers' scopes.
    """

    cable: CableUse
    sessions: Sequence[BgpSession]
    step: ApplyStep
    trigger: pulumi.Input[str]
    passwords: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)


class WanUplink(pulumi.ComponentResource):
    """One Command that applies the WAN edge role to the routers carrying this cable's sessions.

    Granularity is the cable, not the BGP session or the fibre pair. The passwords reach the command only as
    secret environment variables (`VAULT_BGP_PASSWORD_...`), never on its command line.
    """

    step: pulumi.CustomResource

    def __init__(self, name: str, args: WanUplinkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kasbah:wan:WanUplink", name, {}, opts)
        if not args.sessions:
            raise ValueError(f"WanUplink {name}: no BGP session over cable {args.cable.id}")
        routers = sorted({s.edge_router for s in args.sessions})
        missing = sorted({s.password_var for s in args.sessions} - set(args.passwords))
        if missing:
            raise ValueError(f"WanUplink {name}: no password for {', '.join(missing)}")
        self.routers = routers
        self.step = apply_command(
            self,
            f"{name}-apply",
            args.step,
            tags=WAN_TAGS,
            limit=routers,
            trigger=args.trigger,
            secrets={s.password_var: args.passwords[s.password_var] for s in args.sessions},
        )
        self.register_outputs(
            {
                "cable": args.cable.id,
                "landingStation": args.cable.landing_station,
                "farEnd": args.cable.far_end,
                "litGbps": args.cable.lit_gbps,
                "routers": routers,
                "sessions": [
                    {"router": s.edge_router, "peerAsn": s.peer_asn, "link": s.link_cidr} for s in args.sessions
                ],
                "applied": self.step.stdout,
            }
        )
