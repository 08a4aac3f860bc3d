"""Pulumi ComponentResources built from a Kasbah plan, for this project's phase stacks and other programs.

    from components import GpuPod, GpuPodArgs, ApplyStep
    GpuPod("h1-su001", GpuPodArgs(pod=plan.pods[0], step=ApplyStep(spec="stacks/phase1.yaml"), trigger=digest))

Components read `kasbah.plan.derive.Plan` values and never re-derive anything. Every on-premises step is a
`pulumi_command.local.Command` running `kasbah apply SPEC --tags T --limit GROUP` with `triggers=[digest]` over
exactly its scope (`components.scopes`). No dynamic providers.
"""

from components._step import ApplyStep, pod_group
from components.compute_fabric import ComputeFabric, ComputeFabricArgs
from components.gpu_pod import GpuPod, GpuPodArgs
from components.monitoring import Monitoring, MonitoringArgs
from components.object_storage import ObjectStorage, ObjectStorageArgs
from components.phase_deployment import PhaseDeployment, PhaseDeploymentArgs, PhaseSecrets
from components.scopes import scope_digest, scope_files, scope_prefixes
from components.wan_uplink import WanUplink, WanUplinkArgs

__all__ = [
    "ApplyStep",
    "ComputeFabric",
    "ComputeFabricArgs",
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
    "pod_group",
    "scope_digest",
    "scope_files",
    "scope_prefixes",
]
