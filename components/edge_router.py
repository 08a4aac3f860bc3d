"""EdgeRouter: one campus edge router's step, the only step that configures that router.

The wan_edge role templates every BGP session of a router at once (`frr/<router>.conf.j2`), so a router is
configured by exactly one step per stack, `--limit <router>`, carrying the password of EVERY session on it in the
stack's cumulative plan (one step per cable, each with only its own password, could not render the router).

Ownership: edge routers are campus-wide hosts. Every phase stack registers a step for every router of its
cumulative plan, triggered by that router's scope digest in this phase's render. The newest phase's stack
therefore re-applies a router whenever anything it covers changes; an older phase's step, re-run later, leaves a
router that carries a newer phase unchanged (the roles' phase guard: "the newest phase applied owns a campus-wide
host") and never removes a later phase's sessions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi

from components._step import ApplyStep, apply_command, remember_depends_on
from kasbah.plan.edge import EdgeRouter as RouterPlan

WAN_TAGS = ("wan_edge",)


def router_password_vars(router: RouterPlan) -> list[str]:
    """The vault variables the router's render references: one per BGP session on it, of every phase so far."""
    return sorted({s.password_var for s in router.sessions})


@dataclass
class EdgeRouterArgs:
    """Inputs of an EdgeRouter.

    router_id: the inventory host (`--limit`). step: how `kasbah apply` is invoked. trigger: digest of the router's
    scope (`components.scopes`). passwords: vault variable -> secret (from `pulumi config set --secret`, never from
    a spec), passed as `VAULT_*` environment variables. sessions, asn: reported as outputs only.
    depends_on: steps that must finish first. Build it from a plan's router with `from_plan`.
    """

    router_id: str
    step: ApplyStep
    trigger: pulumi.Input[str]
    passwords: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    asn: int | None = None
    sessions: Sequence[Mapping[str, Any]] = ()
    depends_on: Sequence[pulumi.Input[pulumi.Resource]] = field(default_factory=tuple)

    @classmethod
    def from_plan(
        cls,
        router: RouterPlan,
        step: ApplyStep,
        trigger: pulumi.Input[str],
        passwords: Mapping[str, pulumi.Input[str]],
    ) -> EdgeRouterArgs:
        """A campus router as planned (`plan.edge.routers[i]`): every session's password must be given."""
        wanted = router_password_vars(router)
        missing = [v for v in wanted if v not in passwords]
        if missing:
            raise ValueError(f"edge router {router.id}: no password for {', '.join(missing)}")
        return cls(
            router_id=router.id,
            step=step,
            trigger=trigger,
            passwords={v: passwords[v] for v in wanted},
            asn=router.asn,
            sessions=[
                {"cable": s.cable, "peerAsn": s.peer_asn, "link": s.link_cidr, "phase": s.phase}
                for s in router.sessions
            ],
        )


class EdgeRouter(pulumi.ComponentResource):
    """One Command (`<name>-apply`) applying the WAN edge role to one router with all its sessions' passwords."""

    step: pulumi.CustomResource

    def __init__(self, name: str, args: EdgeRouterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kasbah:wan:EdgeRouter", name, {}, opts)
        remember_depends_on(self, opts)
        self.router = args.router_id
        self.step = apply_command(
            self,
            f"{name}-apply",
            args.step,
            tags=WAN_TAGS,
            limit=[args.router_id],
            trigger=args.trigger,
            secrets=args.passwords,
            depends_on=args.depends_on,
        )
        self.register_outputs(
            {
                "router": args.router_id,
                "asn": args.asn,
                "sessions": [dict(s) for s in args.sessions],
                "applied": self.step.stdout,
            }
        )
