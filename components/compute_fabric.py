"""ComputeFabric: the networks one phase builds for its own pods (compute, storage and out-of-band)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi

from components._step import ApplyStep, apply_command, phase_group, remember_depends_on
from kasbah.plan.derive import PhaseFabric

FABRIC_TAGS = ("fabric",)


@dataclass
class ComputeFabricArgs:
    """Inputs of a ComputeFabric.

    phase: the phase whose fabric this is; the step runs on the inventory group `phase_<phase>` (or `group`).
    step: how `kasbah apply` is invoked. trigger: digest of the fabric scope (`components.scopes`).
    kinds, switches: reported as outputs only. Build it from a plan's fabric with `from_plan`.
    """

    phase: str
    step: ApplyStep
    trigger: pulumi.Input[str]
    kinds: Sequence[str] = ()
    switches: Mapping[str, int] = field(default_factory=dict)
    group: str | None = None

    @classmethod
    def from_plan(cls, fabric: PhaseFabric, step: ApplyStep, trigger: pulumi.Input[str]) -> ComputeFabricArgs:
        """The phase's networks as planned (`plan.fabrics[i]` whose `.phase` is the stack's phase)."""
        switches: dict[str, int] = {}
        for net in fabric.compute:
            for tier, count in net.totals.items():
                switches[f"compute_{tier}"] = switches.get(f"compute_{tier}", 0) + count
        for label, net in (("storage", fabric.storage), ("oob", fabric.oob)):
            if net is not None:
                switches[label] = net.switches
        return cls(
            phase=fabric.phase,
            step=step,
            trigger=trigger,
            kinds=[c.kind for c in fabric.compute],
            switches=dict(sorted(switches.items())),
        )


class ComputeFabric(pulumi.ComponentResource):
    """The phase's fabric step (`<name>-apply`: `--tags fabric --limit phase_<id>`); pods wait for `self.step`."""

    step: pulumi.CustomResource

    def __init__(self, name: str, args: ComputeFabricArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kasbah:network:ComputeFabric", name, {}, opts)
        remember_depends_on(self, opts)
        self.step = apply_command(
            self,
            f"{name}-apply",
            args.step,
            tags=FABRIC_TAGS,
            limit=[args.group or phase_group(args.phase)],
            trigger=args.trigger,
        )
        self.register_outputs(
            {
                "phase": args.phase,
                "kinds": list(args.kinds),
                "switches": dict(sorted(args.switches.items())),
                "applied": self.step.stdout,
            }
        )
