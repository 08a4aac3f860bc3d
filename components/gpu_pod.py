"""GpuPod: one scalable unit (e.g. 8 GB200 NVL72 racks), the unit of granularity of a phase stack."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi

from components._step import ApplyStep, apply_command, pod_group
from kasbah.plan.compute import PodPlan

POD_TAGS = ("base", "gpu")
"""Ansible tags a pod's step runs: the host baseline and the GPU node stack."""


@dataclass
class GpuPodArgs:
    """Inputs of a GpuPod.

    pod: the pod as planned (`plan.pods[i]`); counts are never re-derived here.
    step: how `kasbah apply` is invoked. trigger: digest of the pod's scope (`components.scopes`).
    depends_on: steps that must finish first (the phase's compute fabric).
    """

    pod: PodPlan
    step: ApplyStep
    trigger: pulumi.Input[str]
    depends_on: Sequence[pulumi.Resource] = field(default_factory=tuple)


class GpuPod(pulumi.ComponentResource):
    """A scalable unit: one Command that runs the base and GPU roles on the pod's inventory group.

    Nodes and racks are not resources: a 500 MW phase has 66,000 trays, and a stack must stay small (one pod costs
    two resources). `pulumi up` re-runs the pod's step when its trigger changes.
    """

    step: pulumi.CustomResource

    def __init__(self, name: str, args: GpuPodArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kasbah:compute:GpuPod", name, {}, opts)
        pod = args.pod
        self.group = pod_group(pod.id)
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
                "hall": pod.hall,
                "sku": pod.sku,
                "racks": pod.racks,
                "nodes": pod.nodes,
                "gpus": pod.gpus,
                "itKw": pod.it_kw,
                "applied": self.step.stdout,
            }
        )
