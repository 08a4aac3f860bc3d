"""PhaseDeployment: everything one construction phase adds, as one component (the root of a phase stack).

Ownership of campus-wide hosts: a phase stack registers a step for EVERY edge router and for monitoring of its
cumulative plan (not only those the phase adds), each triggered by that host's scope digest in this phase's
render. The newest phase applied re-applies them; an older phase's step, re-run later, is a no-op on a host that
carries a newer phase (the roles' phase guard). Pods and the phase's fabric belong to the phase that adds them.

Names: every child is `<name>-...`. The campus stack's resources were named without that prefix before
(`h1-su001`, `fabric-phase1`, `uplink-<cable>`, `monitoring`, `object-storage`); each renamed child carries an
`aliases=[Alias(name=<old name>)]`, and its own children (`<child>-apply`, `<child>-<bucket>`...) inherit the
alias by the SDK's prefix rule, so an existing stack keeps its resources instead of replacing them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi

from components._step import ApplyStep, child_options, remember_depends_on
from components.compute_fabric import ComputeFabric, ComputeFabricArgs
from components.edge_router import EdgeRouter, EdgeRouterArgs, router_password_vars
from components.gpu_pod import GpuPod, GpuPodArgs
from components.monitoring import MONITORING_GROUP, Monitoring, MonitoringArgs, token_vars
from components.object_storage import ObjectStorage, ObjectStorageArgs
from components.scopes import scope_digest, step_groups
from components.slurm_cluster import SlurmCluster, SlurmClusterArgs
from components.wan_uplink import WanUplink, WanUplinkArgs
from kasbah.plan.derive import Plan
from kasbah.plan.edge import BgpSession
from kasbah.render import Files
from kasbah.render.slurm import secret_vars as slurm_secret_vars

STORAGE_OUTPUT = "storage"
"""Stack output of the phase owning object storage, read by later phases through a StackReference."""


@dataclass
class PhaseSecrets:
    """Secrets from stack config (`pulumi config set --secret`), never from a spec.

    s3_access_key / s3_secret_key: needed by the phase that owns object storage. vault: every vault variable the
    phase's steps need (`vault_secrets(plan)`: each BGP session's password on every router of the cumulative plan,
    each alert webhook's token) -> its value.
    """

    s3_access_key: pulumi.Input[str] | None = None
    s3_secret_key: pulumi.Input[str] | None = None
    vault: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)


@dataclass
class PhaseDeploymentArgs:
    """Inputs of a PhaseDeployment.

    plan: the phase's (cumulative) plan. files: what the steps hash
    (`components.scopes.scope_files(plan, kasbah.render.render(plan), root)`). step: how `kasbah apply --build`
    is invoked (the render it names must exist before `pulumi up` runs a step). campus_stack: the stack owning
    campus-wide pieces (`org/project/stack`), required unless this phase is the first; its outputs are read
    through a StackReference.
    """

    plan: Plan
    files: Files
    step: ApplyStep
    secrets: PhaseSecrets = field(default_factory=PhaseSecrets)
    campus_stack: pulumi.Input[str] | None = None


def is_first_phase(plan: Plan) -> bool:
    return bool(plan.phases) and plan.phases[0].id == plan.phase


def vault_secrets(plan: Plan) -> list[str]:
    """Every vault variable the phase's steps pass to `kasbah apply`: the passwords of every session on every
    router of the cumulative plan (a router's step renders all of them), and the alert webhooks' tokens."""
    out = {v for r in plan.edge.routers for v in router_password_vars(r)}
    out |= set(token_vars(plan.monitoring))
    if plan.slurm is not None:
        out |= set(slurm_secret_vars(plan.slurm))
    return sorted(out)


def added_sessions(plan: Plan) -> dict[str, list[BgpSession]]:
    """Cable id -> the BGP sessions this phase adds over it, sorted by router."""
    out: dict[str, list[BgpSession]] = {}
    for router in plan.edge.routers:
        for s in router.sessions:
            if s.phase == plan.phase:
                out.setdefault(s.cable, []).append(s)
    return {cable: sorted(ss, key=lambda s: s.edge_router) for cable, ss in sorted(out.items())}


def step_triggers(plan: Plan, files: Files) -> dict[str, str]:
    """Trigger of every step this phase registers, by step key: `fabric-<phase>`, each pod id it adds, each edge
    router id of the cumulative plan, `monitoring`. Each is the digest of that step's scope only."""
    out: dict[str, str] = {}
    if any(f.phase == plan.phase for f in plan.fabrics):
        groups = step_groups("fabric", phase=plan.phase)
        out[f"fabric-{plan.phase}"] = scope_digest(files, "fabric", [plan.phase], groups)
    for pod in plan.pods:
        if pod.phase == plan.phase:
            groups = step_groups("pod", phase=pod.phase, hall=pod.hall)
            out[pod.id] = scope_digest(files, "pod", [pod.id], groups)
    for router in plan.edge.routers:
        out[router.id] = scope_digest(files, "router", [router.id], step_groups("router"))
    out["monitoring"] = scope_digest(files, "monitoring", groups=step_groups("monitoring"))
    if plan.slurm is not None:
        out["slurm"] = scope_digest(files, "slurm", groups=step_groups("slurm"))
    return dict(sorted(out.items()))


def capacity_summary(plan: Plan) -> dict[str, Any]:
    p = plan.power
    return {
        "phase": plan.phase,
        "increment": plan.increment.model_dump(mode="json"),
        "cumulative": plan.cumulative.model_dump(mode="json"),
        "power": {
            "basis": p.basis,
            "budgetMw": p.budget_mw,
            "itLoadMw": p.it_load_mw,
            "facilityMw": p.facility_mw,
            "cumulativeBudgetMw": p.cumulative_budget_mw,
            "cumulativeFacilityMw": p.cumulative_facility_mw,
        },
    }


def wan_paths(plan: Plan) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for r in plan.wan.regions:
        out[r.id] = {
            "preferred": r.preferred.cables if r.preferred else [],
            "rttFloorMs": r.preferred.rtt_floor_ms if r.preferred else None,
            "diversePair": [p.cables for p in r.diverse_pair] if r.diverse_pair else [],
            "capacityGbps": r.capacity_gbps,
            "afterWorstCutGbps": r.capacity_after_worst_cut_gbps,
            "meetsSlo": r.meets_slo,
        }
    return out


class PhaseDeployment(pulumi.ComponentResource):
    """What `pulumi up -s <phase>` deploys: the phase's fabric and pods, a step per edge router and for monitoring
    (campus-wide hosts, see the module docstring), the cables the phase lights and, in the phase that first needs
    them, the campus's object storage.

    Ordering: the fabric before the pods; the edge routers (and the telemetry bucket) before monitoring. Later
    phases never recreate storage: they read the first phase's outputs through a StackReference. Every child
    waits for `opts.depends_on` and inherits `protect` and providers through its parent.
    """

    outputs: dict[str, pulumi.Input[Any]]

    def __init__(self, name: str, args: PhaseDeploymentArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kasbah:campus:PhaseDeployment", name, {}, opts)
        remember_depends_on(self, opts)
        plan, files = args.plan, args.files
        first = is_first_phase(plan)
        self.tags = {"campus": plan.campus, "phase": plan.phase}
        self.triggers = step_triggers(plan, files)

        storage_out: pulumi.Input[Any] | None = None
        self.storage = self._create_storage(name, args)
        if self.storage is not None:
            storage_out = pulumi.Output.from_input(
                {
                    "endpoint": plan.storage.endpoint,
                    "region": plan.storage.region,
                    "buckets": {p: b.bucket for p, b in sorted(self.storage.buckets.items())},
                }
            )
        self.campus = None
        if not first:
            if not args.campus_stack:
                raise ValueError(
                    f"phase {plan.phase} is not the campus's first phase ({plan.phases[0].id}): it needs "
                    "the stack that owns campus-wide pieces (config kasbah:campusStack)"
                )
            self.campus = pulumi.StackReference(f"{name}-campus", stack_name=args.campus_stack, opts=self._child())
            if self.storage is None:
                storage_out = self.campus.get_output(STORAGE_OUTPUT)

        self.fabric = self._create_fabric(name, args)
        self.pods = self._create_pods(name, args)
        self.routers = self._create_routers(name, args)
        self.uplinks = self._create_uplinks(name, args)
        self.monitoring = self._create_monitoring(name, args, first, storage_out)
        self.slurm = self._create_slurm(name, args)

        buckets = pulumi.Output.from_input(storage_out).apply(lambda s: (s or {}).get("buckets", {}))
        self.outputs = {
            "capacity": capacity_summary(plan),
            "endpoints": {
                "s3": plan.storage.endpoint,
                "s3Region": plan.storage.region,
                "buckets": buckets,
                "stateBucket": plan.storage.state_bucket,
                "monitoring": MONITORING_GROUP,
            },
            "inventory": f"{args.step.build}/inventory",
            "wanPaths": wan_paths(plan),
            "triggers": self.triggers,
        }
        if self.storage is not None:
            self.outputs[STORAGE_OUTPUT] = storage_out
        self.register_outputs(self.outputs)

    def _child(self, old_name: str | None = None, depends_on: list | None = None) -> pulumi.ResourceOptions:
        """A child's options: parented here, after `opts.depends_on`, aliased to its pre-prefix name if any."""
        opts = child_options(self, depends_on or [])
        if old_name is not None:
            opts.aliases = [pulumi.Alias(name=old_name)]
        return opts

    def _create_storage(self, name: str, args: PhaseDeploymentArgs) -> ObjectStorage | None:
        plan = args.plan
        owned = [b for b in plan.storage.buckets if b.phase == plan.phase]
        if not owned:
            return None
        s = args.secrets
        if s.s3_access_key is None or s.s3_secret_key is None:
            raise ValueError(f"phase {plan.phase} owns object storage: it needs S3 credentials (secret config)")
        return ObjectStorage(
            f"{name}-object-storage",
            ObjectStorageArgs.from_plan(
                plan.storage, owned, access_key=s.s3_access_key, secret_key=s.s3_secret_key, tags=self.tags
            ),
            opts=self._child("object-storage"),
        )

    def _create_fabric(self, name: str, args: PhaseDeploymentArgs) -> ComputeFabric | None:
        plan = args.plan
        mine = [f for f in plan.fabrics if f.phase == plan.phase]
        if not mine:
            return None
        key = f"fabric-{plan.phase}"
        return ComputeFabric(
            f"{name}-fabric",
            ComputeFabricArgs.from_plan(mine[0], args.step, self.triggers[key]),
            opts=self._child(key),
        )

    def _create_pods(self, name: str, args: PhaseDeploymentArgs) -> list[GpuPod]:
        plan = args.plan
        after = [self.fabric.step] if self.fabric is not None else []
        return [
            GpuPod(
                f"{name}-{pod.id}",
                GpuPodArgs.from_plan(pod, args.step, self.triggers[pod.id], depends_on=after),
                opts=self._child(pod.id),
            )
            for pod in sorted((p for p in args.plan.pods if p.phase == plan.phase), key=lambda p: p.id)
        ]

    def _create_routers(self, name: str, args: PhaseDeploymentArgs) -> dict[str, EdgeRouter]:
        return {
            router.id: EdgeRouter(
                f"{name}-{router.id}",
                EdgeRouterArgs.from_plan(router, args.step, self.triggers[router.id], args.secrets.vault),
                opts=self._child(),
            )
            for router in sorted(args.plan.edge.routers, key=lambda r: r.id)
        }

    def _create_uplinks(self, name: str, args: PhaseDeploymentArgs) -> list[WanUplink]:
        cables = {c.id: c for c in args.plan.wan.cables}
        uplinks = []
        for cable, sessions in added_sessions(args.plan).items():
            steps = [self.routers[r].step for r in sorted({s.edge_router for s in sessions})]
            uplinks.append(
                WanUplink(
                    f"{name}-uplink-{cable}",
                    WanUplinkArgs.from_plan(cables[cable], sessions, steps),
                    opts=self._child(f"uplink-{cable}"),
                )
            )
        return uplinks

    def _create_slurm(self, name: str, args: PhaseDeploymentArgs) -> SlurmCluster | None:
        """The scheduler of the cumulative plan, after this phase's pods (slurmd needs their GPU stack)."""
        plan = args.plan
        if plan.slurm is None:
            return None
        return SlurmCluster(
            f"{name}-slurm",
            SlurmClusterArgs.from_plan(
                plan.slurm,
                args.step,
                self.triggers["slurm"],
                vault=args.secrets.vault,
                depends_on=[p.step for p in self.pods],
            ),
            opts=self._child(),
        )

    def _create_monitoring(self, name: str, args: PhaseDeploymentArgs, core: bool, storage_out: Any) -> Monitoring:
        plan = args.plan
        after: list[pulumi.Resource] = [r.step for _, r in sorted(self.routers.items())]
        if self.storage is not None and "telemetry" in self.storage.buckets:
            after.append(self.storage.buckets["telemetry"])
        telemetry = None
        if storage_out is not None:
            telemetry = pulumi.Output.from_input(storage_out).apply(
                lambda s: str(((s or {}).get("buckets") or {}).get("telemetry", ""))
            )
        return Monitoring(
            f"{name}-monitoring",
            MonitoringArgs.from_plan(
                plan.monitoring,
                args.step,
                self.triggers["monitoring"],
                core=core,
                tokens=args.secrets.vault,
                telemetry_bucket=telemetry,
                depends_on=after,
            ),
            opts=self._child("monitoring"),
        )
