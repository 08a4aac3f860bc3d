"""Pulumi ComponentResources for this project's phase stacks and for other programs.

    from components import ApplyStep, GpuPod, GpuPodArgs
    step = ApplyStep(phase="lab1", build_dir="build", program=".venv/bin/kasbah")
    GpuPod("lab-rack1", GpuPodArgs(pod_id="rack1", step=step, trigger=digest, sku="gb200-nvl72", racks=1))

Each component's Args are plain values (`pulumi.Input` where another resource may supply them) with a
`from_plan(...)` constructor for a `kasbah.plan.derive.Plan`; components never re-derive anything. Every
on-premises step is a `pulumi_command.local.Command` named `<component>-apply` running
`<kasbah> apply --build <build_dir>/<phase> --tags T --limit L` with `triggers=[digest]` over exactly its scope
(`components.scopes`) and its secrets as `VAULT_*` environment variables. Children are named `<component name>-...`,
parented to the component (so they inherit its `protect` and providers) and wait for its `opts.depends_on`.
No dynamic providers.
"""

from components._step import ApplyStep, default_program, pod_group
from components.compute_fabric import ComputeFabric, ComputeFabricArgs
from components.edge_router import EdgeRouter, EdgeRouterArgs
from components.gpu_pod import GpuPod, GpuPodArgs
from components.monitoring import Monitoring, MonitoringArgs
from components.object_storage import BucketArgs, ObjectStorage, ObjectStorageArgs
from components.phase_deployment import PhaseDeployment, PhaseDeploymentArgs, PhaseSecrets, vault_secrets
from components.scopes import scope_digest, scope_files, scope_prefixes
from components.wan_uplink import WanUplink, WanUplinkArgs

__all__ = [
    "ApplyStep",
    "BucketArgs",
    "ComputeFabric",
    "ComputeFabricArgs",
    "EdgeRouter",
    "EdgeRouterArgs",
    "GpuPod",
    "GpuPodArgs",
    "Monitoring",
    "MonitoringArgs",
    "ObjectStorage",
    "ObjectStorageArgs",
    "PhaseDeployment",
    "PhaseDeploymentArgs",
    "PhaseSecrets",
    "WanUplink",
    "WanUplinkArgs",
    "default_program",
    "pod_group",
    "scope_digest",
    "scope_files",
    "scope_prefixes",
    "vault_secrets",
]
