"""ComputeFabric: the networks one phase builds for its own pods (compute, storage and out-of-band)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components._step import ApplyStep, apply_command, phase_group
from kasbah.plan.derive import PhaseFabric

FABRIC_TAGS = ("fabric",)


@dataclass
class ComputeFabricArgs:
    """Inputs of a ComputeFabric.

    fabric: the phase's networks as planned (`plan.fabrics[i]` whose `.phase` is the stack's phase).
    step: how `kasbah apply` is invoked. trigger: digest of the fabric scope (`components.scopes`).
    """

    fabric: PhaseFabric
    step: ApplyStep
    trigger: pulumi.Input[str]


class ComputeFabric(pulumi.ComponentResource):
    """The phase's fabric step (`--tags fabric --limit phase_<id>`); pods wait for it (`self.step`)."""

    step: pulumi.CustomResource

    def __init__(self, name: str, args: ComputeFabricArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kasbah:network:ComputeFabric", name, {}, opts)
        fabric = args.fabric
        self.step = apply_command(
            self,
            f"{name}-apply",
            args.step,
            tags=FABRIC_TAGS,
            limit=[phase_group(fabric.phase)],
            trigger=args.trigger,
        )
        switches: dict[str, int] = {}
        for net in fabric.compute:
            for tier, count in net.totals.items():
                switches[f"compute_{tier}"] = switches.get(f"compute_{tier}", 0) + count
        for label, net in (("storage", fabric.storage), ("oob", fabric.oob)):
            if net is not None:
                switches[label] = net.switches
        self.register_outputs(
            {
                "phase": fabric.phase,
                "kinds": [c.kind for c in fabric.compute],
                "switches": dict(sorted(switches.items())),
                "applied": self.step.stdout,
            }
        )
