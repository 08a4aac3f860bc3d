"""SlurmCluster: the campus's scheduler (controllers, every GPU node's slurmd, accounting), one step per phase stack.

Like monitoring, the cluster is campus-wide: every phase stack registers this step with its own cumulative render
(every node and block of every phase up to it), triggered by the digest of the Slurm scope (`slurm/` renders, the
plan's Slurm slice, the slurm and phase_guard roles). The newest phase's stack re-applies it when anything in it
changes; an older phase's step, re-run later, leaves hosts that carry a newer phase as they are (phase guard).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi

from components._step import ApplyStep, apply_command, remember_depends_on
from kasbah.plan.slurm import SlurmPlan
from kasbah.render.slurm import secret_vars

SLURM_TAGS = ("slurm",)
SLURM_GROUPS = ("slurm_controllers", "gpu_nodes")
"""The step's hosts: the controller pair and every GPU node (slurm.conf is one file cluster-wide)."""


@dataclass
class SlurmClusterArgs:
    """Inputs of a SlurmCluster.

    step: how `kasbah apply` is invoked. trigger: digest of the slurm scope (`components.scopes`).
    secrets: vault variable -> value for exactly `kasbah.render.slurm.secret_vars(plan.slurm)` (the munge key, and
    slurmdbd's password with accounting), passed as `VAULT_*`. depends_on: steps that must finish first (the GPU
    pods: slurmd needs the driver). summary: plan values reported as outputs (`from_plan` fills them).
    """

    step: ApplyStep
    trigger: pulumi.Input[str]
    secrets: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    depends_on: Sequence[pulumi.Input[pulumi.Resource]] = field(default_factory=tuple)
    summary: Mapping[str, object] = field(default_factory=dict)
    groups: Sequence[str] = SLURM_GROUPS

    @classmethod
    def from_plan(
        cls,
        slurm: SlurmPlan,
        step: ApplyStep,
        trigger: pulumi.Input[str],
        *,
        vault: Mapping[str, pulumi.Input[str]],
        depends_on: Sequence[pulumi.Input[pulumi.Resource]] = (),
    ) -> SlurmClusterArgs:
        """The plan's cluster; every secret the role needs must be in `vault`."""
        missing = [v for v in secret_vars(slurm) if v not in vault]
        if missing:
            raise ValueError(f"slurm: no value for {', '.join(missing)}")
        return cls(
            step=step,
            trigger=trigger,
            secrets={v: vault[v] for v in secret_vars(slurm)},
            depends_on=depends_on,
            summary={
                "clusterName": slurm.cluster_name,
                "controllers": list(slurm.controllers),
                "topology": slurm.topology,
                "blocks": len(slurm.blocks),
                "blockSize": slurm.block_size,
                "segmentMax": slurm.segment_max,
            },
        )


class SlurmCluster(pulumi.ComponentResource):
    """One Command (`<name>-apply`) applying the slurm role to the controllers and GPU nodes with the phase's
    rendered Slurm files and the munge key (and slurmdbd's password) as secret environment variables."""

    step: pulumi.CustomResource

    def __init__(self, name: str, args: SlurmClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kasbah:scheduler:SlurmCluster", name, {}, opts)
        remember_depends_on(self, opts)
        self.step = apply_command(
            self,
            f"{name}-apply",
            args.step,
            tags=SLURM_TAGS,
            limit=list(args.groups),
            trigger=args.trigger,
            depends_on=args.depends_on,
            secrets=args.secrets,
        )
        self.register_outputs({**args.summary, "applied": self.step.stdout})
