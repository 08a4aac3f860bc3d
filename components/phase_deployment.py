"""PhaseDeployment: everything one construction phase adds, as one component (the root of a phase stack)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi

from components._step import ApplyStep
from components.compute_fabric import ComputeFabric, ComputeFabricArgs
from components.gpu_pod import GpuPod, GpuPodArgs
from components.monitoring import MONITORING_GROUP, Monitoring, MonitoringArgs
from components.object_storage import ObjectStorage, ObjectStorageArgs
from components.scopes import scope_digest, step_groups
from components.wan_uplink import WanUplink, WanUplinkArgs
from kasbah.plan.derive import Plan
from kasbah.plan.edge import BgpSession
from kasbah.render import Files

STORAGE_OUTPUT = "storage"
"""Stack output of the phase owning object storage, read by later phases through a StackReference."""


@dataclass
class PhaseSecrets:
    """Secrets from stack config (`pulumi config set --secret`), never from a spec.

    s3_access_key / s3_secret_key: needed by the phase that owns object storage. bgp_passwords: `password_var`
    of each BGP session the phase adds -> its password.
    """

    s3_access_key: pulumi.Input[str] | None = None
    s3_secret_key: pulumi.Input[str] | None = None
    bgp_passwords: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)


@dataclass
class PhaseDeploymentArgs:
    """Inputs of a PhaseDeployment.

    plan: the phase's (cumulative) plan; only what `plan.phase` adds is registered.
    files: what the steps hash (`components.scopes.scope_files(plan, kasbah.render.render(plan), root)`).
    step: how `kasbah apply` is invoked. build_dir: reported as the inventory location.
    campus_stack: the stack owning campus-wide pieces (`org/project/stack`), required unless this phase is the
    first; its outputs are read through a StackReference.
    """

    plan: Plan
    files: Files
    step: ApplyStep
    secrets: PhaseSecrets = field(default_factory=PhaseSecrets)
    campus_stack: str | None = None


def is_first_phase(plan: Plan) -> bool:
    return bool(plan.phases) and plan.phases[0].id == plan.phase


def added_sessions(plan: Plan) -> dict[str, list[BgpSession]]:
    """Cable id -> the BGP sessions this phase adds over it, sorted by router."""
    out: dict[str, list[BgpSession]] = {}
    for router in plan.edge.routers:
        for s in router.sessions:
            if s.phase == plan.phase:
                out.setdefault(s.cable, []).append(s)
    return {cable: sorted(ss, key=lambda s: s.edge_router) for cable, ss in sorted(out.items())}


def step_triggers(plan: Plan, files: Files) -> dict[str, str]:
    """Trigger of every step this phase registers, by step name: `fabric-<phase>`, pod id, `uplink-<cable>`,
    `monitoring`. Each is the digest of that step's scope only (`components.scopes`)."""
    out: dict[str, str] = {}
    if any(f.phase == plan.phase for f in plan.fabrics):
        groups = step_groups("fabric", phase=plan.phase)
        out[f"fabric-{plan.phase}"] = scope_digest(files, "fabric", [plan.phase], groups)
    for pod in plan.pods:
        if pod.phase == plan.phase:
            groups = step_groups("pod", phase=pod.phase, hall=pod.hall)
            out[pod.id] = scope_digest(files, "pod", [pod.id], groups)
    for cable, sessions in added_sessions(plan).items():
        routers = sorted({s.edge_router for s in sessions})
        out[f"uplink-{cable}"] = scope_digest(files, "router", routers, step_groups("router"))
    out["monitoring"] = scope_digest(files, "monitoring", groups=step_groups("monitoring"))
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
    """What `pulumi up -s <phase>` deploys: the phase's fabric, its pods, the cables it lights, monitoring and, in
    the phase that first needs them, the campus's object storage and monitoring core.

    Ordering: the fabric before the pods; the uplinks (and the telemetry bucket) before monitoring. Later phases
    never recreate campus-wide pieces: they read the first phase's outputs through a StackReference.
    """

    outputs: dict[str, pulumi.Input[Any]]

    def __init__(self, name: str, args: PhaseDeploymentArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kasbah:campus:PhaseDeployment", name, {}, opts)
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
            self.campus = pulumi.StackReference(
                f"{name}-campus", stack_name=args.campus_stack, opts=pulumi.ResourceOptions(parent=self)
            )
            if self.storage is None:
                storage_out = self.campus.get_output(STORAGE_OUTPUT)

        self.fabric = self._create_fabric(name, args)
        self.pods = self._create_pods(args)
        self.uplinks = self._create_uplinks(args)
        self.monitoring = self._create_monitoring(args, first, storage_out)

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
            "inventory": f"{args.step.build_dir}/{plan.phase}/inventory",
            "wanPaths": wan_paths(plan),
            "triggers": self.triggers,
        }
        if self.storage is not None:
            self.outputs[STORAGE_OUTPUT] = storage_out
        self.register_outputs(self.outputs)

    def _create_storage(self, name: str, args: PhaseDeploymentArgs) -> ObjectStorage | None:
        plan = args.plan
        owned = [b for b in plan.storage.buckets if b.phase == plan.phase]
        if not owned:
            return None
        s = args.secrets
        if s.s3_access_key is None or s.s3_secret_key is None:
            raise ValueError(f"phase {plan.phase} owns object storage: it needs S3 credentials (secret config)")
        return ObjectStorage(
            "object-storage",
            ObjectStorageArgs(
                storage=plan.storage,
                buckets=owned,
                access_key=s.s3_access_key,
                secret_key=s.s3_secret_key,
                tags=self.tags,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _create_fabric(self, name: str, args: PhaseDeploymentArgs) -> ComputeFabric | None:
        plan = args.plan
        mine = [f for f in plan.fabrics if f.phase == plan.phase]
        if not mine:
            return None
        trigger = self.triggers[f"fabric-{plan.phase}"]
        return ComputeFabric(
            f"fabric-{plan.phase}",
            ComputeFabricArgs(fabric=mine[0], step=args.step, trigger=trigger),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _create_pods(self, args: PhaseDeploymentArgs) -> list[GpuPod]:
        plan = args.plan
        after = [self.fabric.step] if self.fabric is not None else []
        pods = []
        for pod in sorted((p for p in plan.pods if p.phase == plan.phase), key=lambda p: p.id):
            trigger = self.triggers[pod.id]
            pods.append(
                GpuPod(
                    pod.id,
                    GpuPodArgs(pod=pod, step=args.step, trigger=trigger, depends_on=after),
                    opts=pulumi.ResourceOptions(parent=self),
                )
            )
        return pods

    def _create_uplinks(self, args: PhaseDeploymentArgs) -> list[WanUplink]:
        plan = args.plan
        cables = {c.id: c for c in plan.wan.cables}
        uplinks = []
        for cable, sessions in added_sessions(plan).items():
            trigger = self.triggers[f"uplink-{cable}"]
            uplinks.append(
                WanUplink(
                    f"uplink-{cable}",
                    WanUplinkArgs(
                        cable=cables[cable],
                        sessions=sessions,
                        step=args.step,
                        trigger=trigger,
                        passwords={
                            s.password_var: args.secrets.bgp_passwords[s.password_var]
                            for s in sessions
                            if s.password_var in args.secrets.bgp_passwords
                        },
                    ),
                    opts=pulumi.ResourceOptions(parent=self),
                )
            )
        return uplinks

    def _create_monitoring(self, args: PhaseDeploymentArgs, core: bool, storage_out: Any) -> Monitoring:
        plan = args.plan
        after: list[pulumi.Resource] = [u.step for u in self.uplinks]
        if self.storage is not None and "telemetry" in self.storage.buckets:
            after.append(self.storage.buckets["telemetry"])
        telemetry = None
        if storage_out is not None:
            telemetry = pulumi.Output.from_input(storage_out).apply(
                lambda s: str(((s or {}).get("buckets") or {}).get("telemetry", ""))
            )
        trigger = self.triggers["monitoring"]
        return Monitoring(
            "monitoring",
            MonitoringArgs(
                thresholds=plan.monitoring,
                step=args.step,
                trigger=trigger,
                core=core,
                telemetry_bucket=telemetry,
                depends_on=after,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
