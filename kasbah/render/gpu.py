"""GPU node files: each pod's values for the GPU role, IMEX peer lists per NVLink domain, the DCGM counter set.

IMEX (NVLink memory export across the trays of an NVL72 rack) needs, on every tray, the addresses of all trays of its
NVLink domain; the domain is the rack, so one file per rack, from the same host tables as the inventory.
"""

from __future__ import annotations

from kasbah.plan.derive import Plan
from kasbah.plan.hosts import oob_blocks, pod_hosts
from kasbah.plan.names import imex_path
from kasbah.render import Files
from kasbah.render.escape import yaml_dump

DCGM_COUNTERS: tuple[tuple[str, str, str], ...] = (
    # (field, type, help): dcgm-exporter's default-counters.csv plus the NVLink error counters it ships disabled
    # (domain reference 5a). The monitoring rules use these names; nothing here is invented.
    ("DCGM_FI_DEV_SM_CLOCK", "gauge", "SM clock frequency (in MHz)."),
    ("DCGM_FI_DEV_MEM_CLOCK", "gauge", "Memory clock frequency (in MHz)."),
    ("DCGM_FI_DEV_MEMORY_TEMP", "gauge", "Memory temperature (in C)."),
    ("DCGM_FI_DEV_GPU_TEMP", "gauge", "GPU temperature (in C)."),
    ("DCGM_FI_DEV_POWER_USAGE", "gauge", "Power draw (in W)."),
    ("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "counter", "Total energy consumption since boot (in mJ)."),
    ("DCGM_FI_DEV_PCIE_REPLAY_COUNTER", "counter", "Total number of PCIe retries."),
    ("DCGM_FI_DEV_GPU_UTIL", "gauge", "GPU utilization (in %)."),
    ("DCGM_FI_DEV_MEM_COPY_UTIL", "gauge", "Memory utilization (in %)."),
    ("DCGM_FI_DEV_XID_ERRORS", "gauge", "Value of the last XID error encountered."),
    ("DCGM_FI_DEV_FB_FREE", "gauge", "Framebuffer memory free (in MiB)."),
    ("DCGM_FI_DEV_FB_USED", "gauge", "Framebuffer memory used (in MiB)."),
    ("DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL", "counter", "Total number of NVLink bandwidth counters for all lanes."),
    ("DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS", "counter", "Number of remapped rows for uncorrectable errors"),
    ("DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS", "counter", "Number of remapped rows for correctable errors"),
    ("DCGM_FI_DEV_ROW_REMAP_FAILURE", "gauge", "Whether remapping of rows has failed"),
    ("DCGM_FI_DEV_NVLINK_CRC_FLIT_ERROR_COUNT_TOTAL", "counter", "Total number of NVLink flow-control CRC errors."),
    ("DCGM_FI_DEV_NVLINK_CRC_DATA_ERROR_COUNT_TOTAL", "counter", "Total number of NVLink data CRC errors."),
    ("DCGM_FI_DEV_NVLINK_REPLAY_ERROR_COUNT_TOTAL", "counter", "Total number of NVLink retries."),
    ("DCGM_FI_DEV_NVLINK_RECOVERY_ERROR_COUNT_TOTAL", "counter", "Total number of NVLink recovery errors."),
)


def render(plan: Plan) -> Files:
    files: Files = {}
    blocks = oob_blocks(plan.addresses.allocations)
    limits = {(g.phase, g.sku): g.limit_w for g in plan.gpu_power_limits}
    # A rack-wide IMEX domain only where the scheduler does not hand out IMEX per job (kasbah.plan.slurm).
    imex_static = plan.slurm is None or plan.slurm.imex != "per-job"
    for pod in plan.pods:
        # Through the YAML emitter: a hall `010` or a SKU `yes` must reach Ansible as a string, not 8 or True.
        files[f"gpu/pods/{pod.id}.yml"] = yaml_dump(
            {
                "kasbah_hall": pod.hall,
                "kasbah_pod_phase": pod.phase,
                "kasbah_sku": pod.sku,
                "kasbah_gpus_per_node": pod.gpus_per_node,
                "kasbah_gpu_power_limit_w": limits.get((pod.phase, pod.sku)) or None,
                "kasbah_imex_static": imex_static,
            }
        )
        racks: dict[int, list[str]] = {}
        for host in pod_hosts(pod, blocks[pod.id]):
            racks.setdefault(host.rack, []).append(host.address)
        for rack, addresses in racks.items():
            files[imex_path(pod.id, rack)] = "\n".join(addresses) + "\n"
    lines = ["# Rendered by Kasbah: dcgm-exporter counters (field, Prometheus type, help)."]
    lines += [f"{name}, {kind}, {help_}" for name, kind, help_ in DCGM_COUNTERS]
    files["gpu/dcgm-counters.csv"] = "\n".join(lines) + "\n"
    return files
