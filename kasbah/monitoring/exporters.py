"""The exporters the campus scrapes, their ports, and the metrics each is documented to produce.

Every metric here carries where its name comes from (the domain reference's section 5, an upstream source file, or
Kasbah's own site-telemetry contract below). Rules and dashboards may only name these metrics and the recording rules
Kasbah renders; `tests/test_render_monitoring.py` parses every expression and holds them to that.

Ports:

- node_exporter 9100 and dcgm-exporter 9400 are the upstream defaults (domain reference 5c, 5a).
- UFM Telemetry's example configuration binds its Prometheus endpoint to :9100, the port node_exporter already
  holds on the same host (domain reference 5c). The campus moves UFM Telemetry to 9110
  (`plugin_env_PROMETHEUS_ENDPOINT http://0.0.0.0:9110` in `launch_ibdiagnet_config.ini`), so the two never clash.
- prometheus-frr-exporter 9342 is the upstream default; it runs on each edge router and listens on the router's
  loopback (the address the rendered scrape targets name), reading bgpd's and bfdd's state.
- The site's power, cooling and supply-meter telemetry is not a standard exporter. Kasbah defines the metrics it
  expects (`SITE_TELEMETRY`, prefixed `kasbah_`) and a port, 9840; whatever gateway the site runs (an EPMS/BMS
  bridge, a Modbus or SNMP exporter with relabelling) must serve exactly these names there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from kasbah.spec.campus import RENEWABLE_KINDS

MetricType = Literal["counter", "gauge", "info"]

NODE_EXPORTER_PORT = 9100
DCGM_EXPORTER_PORT = 9400
UFM_TELEMETRY_PORT = 9110
"""Not UFM's example 9100: that is node_exporter's port on the same host (domain reference 5c)."""
SITE_TELEMETRY_PORT = 9840
BLACKBOX_PORT = 9115
PROMETHEUS_PORT = 9090
ALERTMANAGER_PORT = 9093
FRR_EXPORTER_PORT = 9342
"""prometheus-frr-exporter's default (`--web.listen-address=:9342`)."""

DOMAIN_5A = "shared/reference/domain.md 5a (NVIDIA/dcgm-exporter etc/default-counters.csv) [P]"
DOMAIN_5A_OFF = "shared/reference/domain.md 5a: commented out in default-counters.csv; kasbah.render.gpu enables it [P]"
DOMAIN_5C = "shared/reference/domain.md 5c (prometheus/node_exporter collector/infiniband_linux.go) [P]"
UFM_DOC = "shared/reference/domain.md 5c (NVIDIA UFM Telemetry, Prometheus Endpoint Support) [P]"
BLACKBOX_SRC = "prometheus/blackbox_exporter prober/prober.go, prober/icmp.go [P]"
PROMETHEUS_SRC = "Prometheus docs: jobs and instances (automatically generated series); alerting rules (ALERTS) [P]"
FRR_EXPORTER_SRC = (
    "tynany/frr_exporter 1.1.4 (Debian 12 prometheus-frr-exporter), collector/bgp.go and collector/bfd.go; names and "
    "labels checked against FRR 8.4 in the lab [P]"
)
POWER_FOLLOW = "the gpu role's kasbah-power-follow, through node_exporter's textfile collector (kasbah energy)"
KASBAH_CONTRACT = "Kasbah site-telemetry contract (kasbah/monitoring/exporters.py): the site's gateway must serve it"


@dataclass(frozen=True)
class Metric:
    name: str
    type: MetricType
    unit: str
    help: str
    source: str


@dataclass(frozen=True)
class Exporter:
    """One kind of scrape target: its default port and the metrics it is documented to expose."""

    id: str
    port: int | None
    metrics: tuple[Metric, ...]
    source: str


def _m(name: str, type_: MetricType, unit: str, help_: str, source: str) -> Metric:
    return Metric(name, type_, unit, help_, source)


DCGM = Exporter(
    id="dcgm-exporter",
    port=DCGM_EXPORTER_PORT,
    source="NVIDIA/dcgm-exporter, run by the gpu role with the counters file kasbah.render.gpu writes",
    metrics=(
        _m("DCGM_FI_DEV_SM_CLOCK", "gauge", "MHz", "SM clock frequency (in MHz).", DOMAIN_5A),
        _m("DCGM_FI_DEV_MEM_CLOCK", "gauge", "MHz", "Memory clock frequency (in MHz).", DOMAIN_5A),
        _m("DCGM_FI_DEV_MEMORY_TEMP", "gauge", "C", "Memory temperature (in C).", DOMAIN_5A),
        _m("DCGM_FI_DEV_GPU_TEMP", "gauge", "C", "GPU temperature (in C).", DOMAIN_5A),
        _m("DCGM_FI_DEV_POWER_USAGE", "gauge", "W", "Power draw (in W).", DOMAIN_5A),
        _m(
            "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION",
            "counter",
            "mJ",
            "Total energy consumption since boot (in mJ).",
            DOMAIN_5A,
        ),
        _m(
            "DCGM_FI_DEV_PCIE_TX_THROUGHPUT",
            "counter",
            "KB",
            "Total number of bytes transmitted through PCIe TX (in KB) via NVML.",
            DOMAIN_5A,
        ),
        _m(
            "DCGM_FI_DEV_PCIE_RX_THROUGHPUT",
            "counter",
            "KB",
            "Total number of bytes received through PCIe RX (in KB) via NVML.",
            DOMAIN_5A,
        ),
        _m("DCGM_FI_DEV_PCIE_REPLAY_COUNTER", "counter", "", "Total number of PCIe retries.", DOMAIN_5A),
        _m("DCGM_FI_DEV_GPU_UTIL", "gauge", "%", "GPU utilization (in %).", DOMAIN_5A),
        _m("DCGM_FI_DEV_MEM_COPY_UTIL", "gauge", "%", "Memory utilization (in %).", DOMAIN_5A),
        _m("DCGM_FI_DEV_ENC_UTIL", "gauge", "%", "Encoder utilization (in %).", DOMAIN_5A),
        _m("DCGM_FI_DEV_DEC_UTIL", "gauge", "%", "Decoder utilization (in %).", DOMAIN_5A),
        _m("DCGM_FI_DEV_XID_ERRORS", "gauge", "", "Value of the last XID error encountered.", DOMAIN_5A),
        _m("DCGM_FI_DEV_FB_FREE", "gauge", "MiB", "Framebuffer memory free (in MiB).", DOMAIN_5A),
        _m("DCGM_FI_DEV_FB_USED", "gauge", "MiB", "Framebuffer memory used (in MiB).", DOMAIN_5A),
        _m(
            "DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL",
            "counter",
            "",
            "Total number of NVLink bandwidth counters for all lanes.",
            DOMAIN_5A,
        ),
        _m("DCGM_FI_DEV_VGPU_LICENSE_STATUS", "gauge", "", "vGPU License status", DOMAIN_5A),
        _m(
            "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS",
            "counter",
            "",
            "Number of remapped rows for uncorrectable errors",
            DOMAIN_5A,
        ),
        _m(
            "DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS",
            "counter",
            "",
            "Number of remapped rows for correctable errors",
            DOMAIN_5A,
        ),
        _m("DCGM_FI_DEV_ROW_REMAP_FAILURE", "gauge", "", "Whether remapping of rows has failed", DOMAIN_5A),
        _m(
            "DCGM_FI_DEV_NVLINK_CRC_FLIT_ERROR_COUNT_TOTAL",
            "counter",
            "",
            "Total number of NVLink flow-control CRC errors.",
            DOMAIN_5A_OFF,
        ),
        _m(
            "DCGM_FI_DEV_NVLINK_CRC_DATA_ERROR_COUNT_TOTAL",
            "counter",
            "",
            "Total number of NVLink data CRC errors.",
            DOMAIN_5A_OFF,
        ),
        _m(
            "DCGM_FI_DEV_NVLINK_REPLAY_ERROR_COUNT_TOTAL",
            "counter",
            "",
            "Total number of NVLink retries.",
            DOMAIN_5A_OFF,
        ),
        _m(
            "DCGM_FI_DEV_NVLINK_RECOVERY_ERROR_COUNT_TOTAL",
            "counter",
            "",
            "Total number of NVLink recovery errors.",
            DOMAIN_5A_OFF,
        ),
    ),
)

_IB_COUNTERS = (
    ("link_downed_total", "Number of times the link failed to recover from an error state and went down."),
    ("link_error_recovery_total", "Number of times the link successfully recovered from an error state."),
    ("port_errors_received_total", "Number of packets containing an error that were received on this port."),
    ("port_discards_received_total", "Number of inbound packets discarded by the port."),
    ("port_discards_transmitted_total", "Number of outbound packets discarded by the port."),
    ("port_constraint_errors_received_total", "Number of packets received but discarded due to constraints."),
    ("port_constraint_errors_transmitted_total", "Number of packets not transmitted due to constraints."),
    ("port_transmit_wait_total", "Number of ticks during which the port had data to transmit but none was sent."),
    ("port_data_received_bytes_total", "Number of data octets received on all links."),
    ("port_data_transmitted_bytes_total", "Number of data octets transmitted on all links."),
    ("port_packets_received_total", "Number of packets received on all VLs by this port."),
    ("port_packets_transmitted_total", "Number of packets transmitted on all VLs from this port."),
)

NODE = Exporter(
    id="node_exporter",
    port=NODE_EXPORTER_PORT,
    source="prometheus/node_exporter (infiniband collector, on by default)",
    metrics=(
        *(_m(f"node_infiniband_{n}", "counter", "", h, DOMAIN_5C) for n, h in _IB_COUNTERS),
        _m("node_infiniband_state_id", "gauge", "", "State of the InfiniBand port (4 = ACTIVE).", DOMAIN_5C),
        _m(
            "node_infiniband_physical_state_id",
            "gauge",
            "",
            "Physical state of the InfiniBand port (5 = LinkUp).",
            DOMAIN_5C,
        ),
        _m("node_infiniband_rate_bytes_per_second", "gauge", "B/s", "Maximum signal transfer rate.", DOMAIN_5C),
        *(
            _m(name, "gauge", unit, help_, POWER_FOLLOW)
            for name, unit, help_ in (
                (
                    "kasbah_energy_gpu_power_cap_ratio",
                    "",
                    "GPU power cap in force, a fraction of the maximum (1: none).",
                ),
                ("kasbah_energy_gpu_power_target_watts", "W", "Per-GPU power limit the schedule asks for now."),
                ("kasbah_energy_modelled_supply_watts", "W", "Renewable supply the year's model gives for this hour."),
                ("kasbah_energy_modelled_load_watts", "W", "Facility load the year's model gives for this hour."),
            )
        ),
    ),
)

UFM = Exporter(
    id="ufm-telemetry",
    port=UFM_TELEMETRY_PORT,
    source="NVIDIA UFM Telemetry Prometheus endpoint, moved from its example :9100 to :9110",
    metrics=(
        _m("PortXmitDataExtended", "counter", "4 B words", "Data transmitted on the port.", UFM_DOC),
        _m("PortXmitPktsExtended", "counter", "", "Packets transmitted on the port.", UFM_DOC),
    ),
)

BLACKBOX = Exporter(
    id="blackbox_exporter",
    port=BLACKBOX_PORT,
    source="prometheus/blackbox_exporter, ICMP prober, beside Prometheus on every monitoring host",
    metrics=(
        _m("probe_success", "gauge", "", "Displays whether or not the probe was a success.", BLACKBOX_SRC),
        _m("probe_duration_seconds", "gauge", "s", "Returns how long the probe took to complete.", BLACKBOX_SRC),
        _m(
            "probe_icmp_duration_seconds",
            "gauge",
            "s",
            "Duration of ICMP request by phase (resolve, setup, rtt).",
            BLACKBOX_SRC,
        ),
        _m("probe_icmp_reply_hop_limit", "gauge", "", "Replied packet hop limit (TTL for IPv4).", BLACKBOX_SRC),
        _m("probe_ip_protocol", "gauge", "", "Specifies whether probe ip protocol is IP4 or IP6.", BLACKBOX_SRC),
    ),
)

FRR = Exporter(
    id="frr_exporter",
    port=FRR_EXPORTER_PORT,
    source="prometheus-frr-exporter on each edge router (Debian 12: 1.1.4), bgp and bfd collectors, ospf off",
    metrics=(
        _m(
            "frr_bgp_peer_state",
            "gauge",
            "",
            "State of the BGP session with a peer (1 Established, 0 any other state); labels peer, peer_as, local_as, "
            "vrf, afi, safi.",
            FRR_EXPORTER_SRC,
        ),
        _m("frr_bgp_peer_uptime_seconds", "gauge", "s", "How long the BGP session has been up.", FRR_EXPORTER_SRC),
        _m(
            "frr_bfd_peer_state",
            "gauge",
            "",
            "State of the BFD session with a peer (1 up, 0 any other state); labels local, peer.",
            FRR_EXPORTER_SRC,
        ),
        _m("frr_bfd_peer_count", "gauge", "", "Number of BFD peers.", FRR_EXPORTER_SRC),
        _m(
            "frr_collector_up",
            "gauge",
            "",
            "Whether a collector's last query of FRR succeeded (label collector).",
            FRR_EXPORTER_SRC,
        ),
    ),
)

PROMETHEUS = Exporter(
    id="prometheus",
    port=None,
    source="series every scrape and every alerting rule adds",
    metrics=(
        _m("up", "gauge", "", "1 if the instance is healthy (reachable), 0 if the scrape failed.", PROMETHEUS_SRC),
        _m("scrape_duration_seconds", "gauge", "s", "Duration of the scrape.", PROMETHEUS_SRC),
        _m("scrape_samples_scraped", "gauge", "", "Number of samples the target exposed.", PROMETHEUS_SRC),
        _m("ALERTS", "gauge", "", "One series per pending or firing alert.", PROMETHEUS_SRC),
        _m("ALERTS_FOR_STATE", "gauge", "", "Start time of each active alert.", PROMETHEUS_SRC),
    ),
)

SITE_TELEMETRY = Exporter(
    id="site-telemetry",
    port=SITE_TELEMETRY_PORT,
    source="the site's power, cooling and energy gateway; Kasbah defines the names (no standard exporter exists)",
    metrics=(
        _m(
            "kasbah_facility_power_watts",
            "gauge",
            "W",
            "Power the hall draws at its utility feed: IT load plus cooling and distribution losses. "
            "One endpoint per hall; Prometheus adds the hall label.",
            KASBAH_CONTRACT,
        ),
        _m(
            "kasbah_it_power_watts",
            "gauge",
            "W",
            "Power delivered to the hall's IT equipment (UPS or busway output): the PUE denominator.",
            KASBAH_CONTRACT,
        ),
        _m(
            "kasbah_cooling_supply_temperature_celsius",
            "gauge",
            "C",
            "Coolant (or supply air) temperature into the hall, per cooling loop (label loop).",
            KASBAH_CONTRACT,
        ),
        _m(
            "kasbah_cooling_return_temperature_celsius",
            "gauge",
            "C",
            "Coolant (or return air) temperature out of the hall, per cooling loop (label loop).",
            KASBAH_CONTRACT,
        ),
        _m(
            "kasbah_supply_energy_joules_total",
            "counter",
            "J",
            "Energy the campus drew from one supply, at the campus intake (labels source: the meter, kind: one of "
            f"the spec's energy kinds; renewable kinds: {', '.join(sorted(RENEWABLE_KINDS))}).",
            KASBAH_CONTRACT,
        ),
    ),
)

SLURM_SRC = "Kasbah's Slurm health exporter (playbooks/roles/slurm/files/kasbah-slurm-exporter): sinfo, scontrol ping"
SLURM = Exporter(
    id="kasbah-slurm-exporter",
    port=None,
    source="node_exporter's textfile collector on the Slurm controllers (port 9100); Debian ships no Slurm exporter",
    metrics=(
        _m("kasbah_slurm_controller_up", "gauge", "", "1 when scontrol ping reports the controller UP.", SLURM_SRC),
        _m(
            "kasbah_slurm_block_nodes",
            "gauge",
            "",
            "Nodes of an NVLink block by scheduler state (label state: up, drained, down).",
            SLURM_SRC,
        ),
        _m("kasbah_slurm_block_size", "gauge", "", "Nodes the plan puts in the block.", SLURM_SRC),
        _m("kasbah_slurm_exporter_last_run_timestamp_seconds", "gauge", "s", "When the exporter last ran.", SLURM_SRC),
    ),
)

EXPORTERS: tuple[Exporter, ...] = (NODE, DCGM, UFM, BLACKBOX, FRR, SITE_TELEMETRY, PROMETHEUS, SLURM)


def known_metrics() -> dict[str, Metric]:
    """Every metric name an exporter (or Prometheus itself) is documented to produce."""
    return {m.name: m for e in EXPORTERS for m in e.metrics}


# -- default names of the telemetry endpoints ----------------------------------------------------------------------
# A hall's telemetry gateway (halls[].telemetry), a fabric's UFM Telemetry (networks.compute.telemetry) and the supply
# meters (monitoring.energy_telemetry) are given in the spec where known; the planner falls back to these names in the
# campus's internal DNS zone, one name per thing, on the exporters' ports:


def internal_zone(campus: str) -> str:
    return f"{campus}.internal"


def facility_target(campus: str, hall: str) -> str:
    """A hall's power and cooling telemetry gateway."""
    return f"facility-{hall}.{internal_zone(campus)}:{SITE_TELEMETRY_PORT}"


def energy_target(campus: str) -> str:
    """The campus intake's supply meters (one per energy source)."""
    return f"energy.{internal_zone(campus)}:{SITE_TELEMETRY_PORT}"


def ufm_target(campus: str, phase: str) -> str:
    """The UFM Telemetry endpoint of one phase's InfiniBand compute fabric."""
    return f"ufm-{phase}.{internal_zone(campus)}:{UFM_TELEMETRY_PORT}"
