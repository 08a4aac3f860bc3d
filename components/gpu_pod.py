"""GpuPod: one scalable unit (e.g. 8 GB200 NVL72 racks), the unit of granularity of a phase stack."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi

from components._step import ApplyStep, apply_command, pod_group, remember_depends_on
from kasbah.plan.compute import PodPlan

POD_TAGS = ("base", "gpu")
"""Ansible tags a pod's step runs: the host baseline and the GPU node stack."""


@dataclass
class GpuPodArgs:
    """Inputs of a GpuPod.

    pod_id: the pod's id; its step runs on the inventory group `pod_<id>` (or `group` when given).
    step: how `kasbah apply` is invoked. trigger: digest of the pod's scope (`components.scopes`), or any value
    that changes when the pod's configuration does (it may come from another resource).
    sku, racks, nodes, gpus, hall, it_kw: reported as outputs only. depends_on: steps that must finish first
    (the phase's compute fabric). Build it from a plan's pod with `from_plan`.
    """

    pod_id: str
    step: ApplyStep
    trigger: pulumi.Input[str]
    sku: str = ""
    racks: int = 0
    nodes: int = 0
    gpus: int = 0
    hall: str = ""
    it_kw: float | None = None
    group: str | None = None
    depends_on: Sequence[pulumi.Input[pulumi.Resource]] = field(default_factory=tuple)

    @classmethod
    def from_plan(
        cls,
        pod: PodPlan,
        step: ApplyStep,
        trigger: pulumi.Input[str],
        depends_on: Sequence[pulumi.Input[pulumi.Resource]] = (),
    ) -> GpuPodArgs:
        """A campus pod as planned (`plan.pods[i]`); counts are never re-derived here."""
        return cls(
            pod_id=pod.id,
            step=step,
            trigger=trigger,
            sku=pod.sku,
            racks=pod.racks,
            nodes=pod.nodes,
            gpus=pod.gpus,
            hall=pod.hall,
            it_kw=pod.it_kw,
            depends_on=depends_on,
        )


class GpuPod(pulumi.ComponentResource):
    """A scalable unit: one Command (`<name>-apply`) that runs the base and GPU roles on the pod's group.

    Nodes and racks are not resources: a 500 MW phase has 66,000 trays, and a stack must stay small (one pod costs
    two resources). `pulumi up` re-runs the pod's step when its trigger changes.
    """

    step: pulumi.CustomResource

    def __init__(self, name: str, args: GpuPodArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kasbah:compute:GpuPod", name, {}, opts)
        remember_depends_on(self, opts)
        self.group = args.group or pod_group(args.pod_id)
        self.step = apply_command(
            self,
            f"{name}-apply",
            args.step,
            tags=POD_TAGS,
            limit=[self.group],
            trigger=args.trigger,
            depends_on=args.depends_on,
        )
        self.register_outputs(
            {
                "group": self.group,
                "hall": args.hall,
                "sku": args.sku,
                "racks": args.racks,
                "nodes": args.nodes,
                "gpus": args.gpus,
                "itKw": args.it_kw,
                "applied": self.step.stdout,
            }
        )
