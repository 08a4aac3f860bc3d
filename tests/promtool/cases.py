"""One or more cases per alert, on the plan of the example phase 1: it fires with the labels that name the broken
thing, and stays silent before its `for` has run, on the healthy neighbour, or when the condition is not met.

Thresholds are read from the plan, never written here, so a spec change moves the test data with the rules.
"""

from __future__ import annotations

from kasbah.plan.derive import Plan
from tests.promtool.harness import Case, Expect

CAMPUS = "casablanca-ai"


def _tray(job: str, port: int, pod: str, rack: int, tray: int, address: str) -> dict[str, str]:
    node = f"{pod}-r{rack:02d}-n{tray:02d}"
    return {
        "job": job,
        "instance": f"{address}:{port}",
        "campus": CAMPUS,
        "phase": "phase1",
        "hall": pod.split("-")[0],
        "pod": pod,
        "rack": f"{pod}-r{rack:02d}",
        "node": node,
    }


NODE_A = _tray("node", 9100, "h1-su001", 1, 1, "10.48.0.1")
NODE_B = _tray("node", 9100, "h1-su001", 1, 2, "10.48.0.2")
NODE_C = _tray("node", 9100, "h1-su001", 2, 1, "10.48.0.19")
NODE_D = _tray("node", 9100, "h1-su001", 2, 2, "10.48.0.20")


def _gpu(tray: dict[str, str], gpu: int) -> dict[str, str]:
    return {
        **tray,
        "job": "dcgm",
        "instance": tray["instance"].replace(":9100", ":9400"),
        "gpu": str(gpu),
        "UUID": f"GPU-{tray['node']}-{gpu}",
        "device": f"nvidia{gpu}",
        "modelName": "NVIDIA GB200",
        "Hostname": tray["node"],
    }


GPU_A = _gpu(NODE_A, 0)
GPU_B = _gpu(NODE_A, 1)


def _ib(tray: dict[str, str], device: str) -> dict[str, str]:
    return {**tray, "device": device, "port": "1"}


def _alert(labels: dict[str, str], value: float, drop: tuple[str, ...] = ()) -> Expect:
    return Expect({k: v for k, v in labels.items() if k not in drop}, value)


def _session(cable: str, station: str, router: str, address: str) -> dict[str, str]:
    return {
        "job": "wan_path",
        "instance": address,
        "campus": CAMPUS,
        "cable": cable,
        "landing_station": station,
        "edge_router": router,
        "phase": "phase1",
    }


def node_cases(plan: Plan) -> list[Case]:
    rack = ("campus", "phase", "hall", "pod", "rack")
    return [
        Case(
            "NodeDown",
            [("up", NODE_A, "1 0x10"), ("up", NODE_B, "1x10")],
            [("2m", []), ("5m", [_alert(NODE_A, 0)])],
            note="down for 4 minutes; its neighbour is up",
        ),
        Case(
            "RackDown",
            [("up", NODE_A, "1 0x10"), ("up", NODE_B, "1 0x10"), ("up", NODE_C, "1 0x10"), ("up", NODE_D, "1x10")],
            [("2m", []), ("5m", [Expect({k: NODE_A[k] for k in rack}, 2)])],
            note="both trays of rack 1 down; rack 2 keeps one tray up",
        ),
        Case(
            "GpuExporterDown",
            [("up", {**NODE_A, "job": "dcgm"}, "0x10"), ("up", {**NODE_B, "job": "dcgm"}, "1x10")],
            [("3m", []), ("6m", [_alert({**NODE_A, "job": "dcgm"}, 0)])],
        ),
    ]


def gpu_cases(plan: Plan) -> list[Case]:
    m = plan.monitoring
    warn, crit = m.gpu_temp_warning_c, m.gpu_temp_critical_c
    hot, warm, cool = crit + 5, warn + (crit - warn) * 0.4, warn - 10
    xid_gpus = [(_gpu(NODE_B, i), xid) for i, xid in enumerate(m.xid_critical)]
    harmless = [(_gpu(NODE_C, 0), 13), (_gpu(NODE_C, 1), 63), (_gpu(NODE_C, 2), 0)]
    flit, data, replay, recovery = (
        f"DCGM_FI_DEV_NVLINK_{c}_ERROR_COUNT_TOTAL" for c in ("CRC_FLIT", "CRC_DATA", "REPLAY", "RECOVERY")
    )
    return [
        Case(
            "GpuTemperatureWarning",
            [("DCGM_FI_DEV_GPU_TEMP", GPU_A, f"{warm}x10"), ("DCGM_FI_DEV_GPU_TEMP", GPU_B, f"{cool}x10")],
            [("1m", []), ("4m", [_alert(GPU_A, warm)])],
        ),
        Case(
            "GpuTemperatureCritical",
            [("DCGM_FI_DEV_GPU_TEMP", GPU_A, f"{hot}x10"), ("DCGM_FI_DEV_GPU_TEMP", GPU_B, f"{warm}x10")],
            [("0m", []), ("3m", [_alert(GPU_A, hot)])],
        ),
        Case(
            "GpuXidCritical",
            [("DCGM_FI_DEV_XID_ERRORS", g, f"0 {x}x5") for g, x in xid_gpus + harmless],
            [("0m", []), ("2m", [_alert(g, x) for g, x in xid_gpus])],
            note="every Xid of the critical set fires; 13 (application) and 63 (remap recorded) do not",
        ),
        Case(
            "GpuRowRemapFailure",
            [("DCGM_FI_DEV_ROW_REMAP_FAILURE", GPU_A, "0 1x5"), ("DCGM_FI_DEV_ROW_REMAP_FAILURE", GPU_B, "0x5")],
            [("0m", []), ("2m", [_alert(GPU_A, 1)])],
        ),
        Case(
            "GpuUncorrectableRemappedRowsIncreased",
            [
                ("DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS", GPU_A, "0x5 1x10"),
                ("DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS", GPU_B, "2x15"),
            ],
            [("4m", []), ("10m", [_alert(GPU_A, 1)])],
            note="GPU B has remapped rows from long ago, none new",
        ),
        Case(
            "GpuNvlinkErrors",
            [
                (flit, GPU_A, "0+1x20"),
                (data, GPU_A, "0x20"),
                (replay, GPU_A, "0x20"),
                (flit, GPU_B, "0x20"),
                (data, GPU_B, "0x20"),
                (replay, GPU_B, "0x20"),
            ],
            [("0m", []), ("10m", [_alert(GPU_A, 10)])],
        ),
        Case(
            "GpuNvlinkDown",
            [(recovery, GPU_A, "0x5 1x10"), (recovery, GPU_B, "3x15")],
            [("4m", []), ("10m", [_alert(GPU_A, 1)])],
        ),
    ]


def fabric_cases(plan: Plan) -> list[Case]:
    ib_a, ib_b = _ib(NODE_A, "mlx5_0"), _ib(NODE_A, "mlx5_1")
    ufm = {
        "job": "ufm",
        "instance": "ufm-phase1.casablanca-ai.internal:9110",
        "campus": CAMPUS,
        "phase": "phase1",
        "fabric": "infiniband-ndr",
    }
    counters = ("port_errors_received_total", "link_error_recovery_total", "link_downed_total")
    series = [(f"node_infiniband_{c}", ib_a, "0+1x20" if c == counters[0] else "0x20") for c in counters]
    series += [(f"node_infiniband_{c}", ib_b, "0x20") for c in counters]
    return [
        Case("InfinibandLinkErrors", series, [("0m", []), ("10m", [_alert(ib_a, 10)])]),
        Case(
            "InfinibandLinkDown",
            [("node_infiniband_state_id", ib_a, "4 1x10"), ("node_infiniband_state_id", ib_b, "4x10")],
            [("2m", []), ("5m", [_alert(ib_a, 1)])],
        ),
        Case(
            "SwitchTelemetryDown",
            [("up", ufm, "0x10"), ("up", {**ufm, "phase": "phase0", "instance": "ufm-phase0:9110"}, "1x10")],
            [("3m", []), ("6m", [_alert(ufm, 0)])],
        ),
    ]


def wan_cases(plan: Plan) -> list[Case]:
    sessions = [
        _session(s.cable, s.landing_station, r.id, s.peer_address) for r in plan.edge.routers for s in r.sessions
    ]
    first = sessions[0]
    twin = {**first, "edge_router": "edge9", "instance": "100.64.3.1"}  # a second session over the same cable
    keep = first["landing_station"]
    up_at_keep = [s for s in sessions if s["landing_station"] == keep]
    per_station: dict[str, dict[str, set[str]]] = {}
    for region in plan.wan.regions:
        for path in region.paths:
            for cable, station in zip(path.cables, path.landing_stations, strict=True):
                per_station.setdefault(region.id, {}).setdefault(station, set()).add(cable)
    lost = [
        Expect({"campus": CAMPUS, "region": r}, 1 if keep in stations else 0)
        for r, stations in sorted(per_station.items())
    ]
    probe = {
        "job": "wan_region",
        "instance": "198.18.0.1",
        "campus": CAMPUS,
        "region": "europe",
        "prefix": "198.18.0.0/17",
        "cable": "mtwa-north",
        "landing_station": "casablanca",
        "edge_router": "edge1",
    }
    blackbox = {"job": "blackbox", "instance": "127.0.0.1:9115", "campus": CAMPUS}
    return [
        Case(
            "WanPathDown",
            [("probe_success", s, "1 0x5" if s is first else "1x6") for s in sessions],
            [("0m", []), ("3m", [_alert(first, 0)])],
        ),
        Case(
            "WanCableDown",
            [("probe_success", s, "1 0x5" if s is first else "1x6") for s in sessions],
            [("0m", []), ("3m", [Expect({k: first[k] for k in ("campus", "cable", "landing_station")}, 0)])],
            note="the only session over the cable is down",
        ),
        Case(
            "WanCableDown",
            [("probe_success", s, "1 0x5" if s is first else "1x6") for s in sessions]
            + [("probe_success", twin, "1x6")],
            [("3m", [])],
            note="another edge router still reaches the peer over the cable",
        ),
        Case(
            "WanRegionDiversityLost",
            [("probe_success", s, "1x6" if s in up_at_keep else "1 0x5") for s in sessions],
            [("0m", []), ("3m", lost)],
            note=f"only cables from {keep} stay up: every region keeps at most one diverse path",
        ),
        Case(
            "WanRegionDiversityLost",
            [("probe_success", s, "1x6") for s in sessions],
            [("3m", [])],
            note="all paths up",
        ),
        Case(
            "WanRegionUnreachable",
            [("probe_success", probe, "1 0x5"), ("probe_success", {**probe, "region": "x", "instance": "a"}, "1x6")],
            [("1m", []), ("4m", [Expect({"campus": CAMPUS, "region": "europe"}, 0)])],
        ),
        Case("BlackboxExporterDown", [("up", blackbox, "1 0x5")], [("1m", []), ("4m", [_alert(blackbox, 0)])]),
    ]


def _frr(router: str, loopback: str) -> dict[str, str]:
    """Target labels of an edge router's FRR exporter (file_sd/site/edge-routers.json)."""
    return {"job": "frr", "instance": f"{loopback}:9342", "campus": CAMPUS, "edge_router": router, "phase": "phase1"}


def session_cases(plan: Plan) -> list[Case]:
    """BFD and BGP state as prometheus-frr-exporter 1.1.4 labels it, one scrape a second, as rendered."""
    routers = {r.id: r for r in plan.edge.routers}
    sessions = [(r.id, s) for r in plan.edge.routers for s in r.sessions]
    (router, first), rest = sessions[0], sessions[1:]
    target = _frr(router, routers[router].loopback.split("/")[0])

    def bfd(edge: str, s) -> dict[str, str]:
        return {**_frr(edge, routers[edge].loopback.split("/")[0]), "local": "100.64.0.254", "peer": s.peer_address}

    def bgp(edge: str, s) -> dict[str, str]:
        return {
            **_frr(edge, routers[edge].loopback.split("/")[0]),
            "afi": "ipv4",
            "safi": "unicast",
            "vrf": "default",
            "local_as": str(plan.edge.asn),
            "peer": s.peer_address,
            "peer_as": "64999",
        }

    named = {"cable": first.cable, "landing_station": first.landing_station}
    unplanned = {**bfd(router, first), "peer": "192.0.2.1"}  # a BFD peer the plan does not know (iBGP, say)
    return [
        Case(
            "WanBfdDown",
            [("frr_bfd_peer_state", bfd(router, first), "1x2 0x6")]
            + [("frr_bfd_peer_state", bfd(e, s), "1x9") for e, s in rest],
            [("2s", []), ("3s", [_alert({**bfd(router, first), **named}, 0)])],
            interval="1s",
            evaluation_interval="1s",
            note="fires at the first evaluation that sees BFD down, named by its cable; the other sessions are up",
        ),
        Case(
            "WanBfdDown",
            [("frr_bfd_peer_state", unplanned, "0x9"), ("frr_bfd_peer_state", bfd(router, first), "1x9")],
            [("5s", [])],
            interval="1s",
            evaluation_interval="1s",
            note="a BFD peer that is no planned edge session does not page as a cable",
        ),
        Case(
            "WanBgpSessionDown",
            [("frr_bgp_peer_state", bgp(router, first), "1x2 0x9")]
            + [("frr_bgp_peer_state", bgp(e, s), "1x11") for e, s in rest],
            [("7s", []), ("8s", [_alert({**bgp(router, first), **named}, 0)])],
            interval="1s",
            evaluation_interval="1s",
            note="down from 3 s, fires once it has held for 5 s",
        ),
        Case(
            "WanBgpSessionDown",
            [("frr_bgp_peer_state", bgp(router, first), "1 0x3 1x6")],
            [("4s", []), ("8s", [])],
            interval="1s",
            evaluation_interval="1s",
            note="a session reset that comes back within 5 s does not page",
        ),
        Case(
            "EdgeRouterExporterDown",
            [("up", target, "1 0x5"), ("up", _frr("edge9", "10.0.0.9"), "1x6")],
            [("1m", []), ("4m", [_alert(target, 0)])],
        ),
    ]


def _facility(hall: str) -> dict[str, str]:
    return {
        "job": "facility",
        "instance": f"facility-{hall}.casablanca-ai.internal:9840",
        "campus": CAMPUS,
        "phase": "phase1",
        "hall": hall,
    }


def power_cases(plan: Plan) -> list[Case]:
    m = plan.monitoring
    basis = m.power_basis
    metric = "kasbah_facility_power_watts" if basis == "facility" else "kasbah_it_power_watts"
    warn_w, budget_w = m.power_warning_mw * 1e6, m.power_budget_mw * 1e6
    near = (warn_w + budget_w) / 2
    over = budget_w * 1.05
    h1, h2 = _facility("h1"), _facility("h2")
    campus = {"campus": CAMPUS, "basis": basis}
    it = m.power_budget_mw * 1e6 / 4
    pue_bad, pue_ok = m.pue_alert_above + 0.1, m.design_pue
    energy = {"job": "energy", "instance": "energy.casablanca-ai.internal:9840", "campus": CAMPUS, "meter": "intake"}
    low = max(m.renewable_commitment - 0.1, 0.0)

    def supply(share: float) -> list[tuple[str, dict[str, str], str]]:
        green, grey = round(1000 * share), 1000 - round(1000 * share)
        return [
            ("kasbah_supply_energy_joules_total", {**energy, "source": "pv-1", "kind": "solar_pv"}, f"0+{green}x12"),
            ("kasbah_supply_energy_joules_total", {**energy, "source": "grid-1", "kind": "grid"}, f"0+{grey}x12"),
        ]

    return [
        Case(
            "PowerNearBudget",
            [(metric, h1, f"{near / 2:.0f}x30"), (metric, h2, f"{near / 2:.0f}x30")],
            [("10m", []), ("20m", [Expect(campus, near)])],
        ),
        Case(
            "PowerNearBudget",
            [(metric, h1, f"{warn_w / 2 - 1e5:.0f}x30"), (metric, h2, f"{warn_w / 2 - 1e5:.0f}x30")],
            [("20m", [])],
            note="just under the warning level",
        ),
        Case(
            "PowerOverBudget",
            [(metric, h1, f"{over / 2:.0f}x30"), (metric, h2, f"{over / 2:.0f}x30")],
            [("3m", []), ("10m", [Expect(campus, over)])],
        ),
        Case(
            "PueAboveDesign",
            [
                ("kasbah_facility_power_watts", h1, f"{it * pue_bad:.0f}x150"),
                ("kasbah_it_power_watts", h1, f"{it:.0f}x150"),
            ],
            [("20m", []), ("2h", [Expect({"campus": CAMPUS}, round(pue_bad, 10))])],
        ),
        Case(
            "PueAboveDesign",
            [
                ("kasbah_facility_power_watts", h1, f"{it * pue_ok:.0f}x150"),
                ("kasbah_it_power_watts", h1, f"{it:.0f}x150"),
            ],
            [("2h", [])],
            note="at the design PUE",
        ),
        Case(
            "RenewableShareBelowCommitment",
            supply(low),
            [("3h", []), ("10h", [Expect({"campus": CAMPUS}, round(1000 * low) / 1000)])],
            interval="1h",
            evaluation_interval="10m",
        ),
        Case(
            "RenewableShareBelowCommitment",
            supply(min(m.renewable_commitment + 0.05, 1.0)),
            [("10h", [])],
            interval="1h",
            evaluation_interval="10m",
            note="above the commitment",
        ),
        Case(
            "FacilityTelemetryDown",
            [("up", h1, "1 0x10"), ("up", h2, "1x10"), ("up", energy, "1x10")],
            [("2m", []), ("7m", [_alert(h1, 0)])],
        ),
    ]


def energy_cases(plan: Plan) -> list[Case]:
    """Caps from the GPU role's applier (node_exporter textfile) and the model's supply against the intake meters."""
    energy = {"job": "energy", "instance": "energy.casablanca-ai.internal:9840", "campus": CAMPUS, "meter": "intake"}
    modelled_mw = 40.0

    # joules per 1-minute step for a steady draw of `mw`
    def drawn(mw: float) -> list[tuple[str, dict[str, str], str]]:
        return [
            (
                "kasbah_supply_energy_joules_total",
                {**energy, "source": "wind-1", "kind": "wind"},
                f"0+{mw * 1e6 * 60:.0f}x200",
            ),
            ("kasbah_energy_modelled_supply_watts", NODE_A, f"{modelled_mw * 1e6:.0f}x200"),
            ("kasbah_energy_modelled_load_watts", NODE_A, f"{modelled_mw * 2e6:.0f}x200"),
        ]

    return [
        Case(
            "GpuPowerCapsInForce",
            [
                ("kasbah_energy_gpu_power_cap_ratio", NODE_A, "0.7x240"),
                ("kasbah_energy_gpu_power_cap_ratio", NODE_C, "1x240"),
            ],
            [("2h", []), ("3h30m", [Expect({"campus": CAMPUS}, 1)])],
            note="one pod capped (both trays of h1-su001 report; the uncapped one does not lift the pod's minimum)",
        ),
        Case(
            "GpuPowerCapsInForce",
            [("kasbah_energy_gpu_power_cap_ratio", NODE_A, "0.7x60 1x180")],
            [("3h30m", [])],
            note="caps lifted after an hour",
        ),
        Case(
            "RenewableSupplyBelowModel",
            drawn(modelled_mw * 0.3),
            [("1h", []), ("3h", [Expect({"campus": CAMPUS}, modelled_mw * 0.3 * 1e6)])],
        ),
        Case(
            "RenewableSupplyBelowModel",
            drawn(modelled_mw * 0.9),
            [("3h", [])],
            note="supply near the model's",
        ),
    ]


def _slurm(host: str, **extra: str) -> dict[str, str]:
    return {"job": "slurm", "instance": f"{host}:9100", "campus": CAMPUS, **extra}


def slurm_cases(plan: Plan) -> list[Case]:
    """Two blocks of the plan seen by both controllers; thresholds (block size, segment_max) from the plan."""
    s = plan.slurm
    if s is None:
        return []
    size, seg = s.block_size, s.segment_max
    a, b = s.blocks[0].name, s.blocks[1].name

    def blocks(up_a: str, up_b: str) -> list[tuple[str, dict[str, str], str]]:
        out = []
        for ctl in ("slurm1", "slurm2"):
            for blk, up in ((a, up_a), (b, up_b)):
                out.append(("kasbah_slurm_block_nodes", _slurm(ctl, block=blk, state="up"), up))
                out.append(("kasbah_slurm_block_size", _slurm(ctl, block=blk), f"{size}x20"))
        return out

    where = {"campus": CAMPUS}
    return [
        Case(
            "SlurmBlockDegraded",
            blocks(f"{size} {size - 1}x20", f"{size}x20"),
            [("5m", []), ("12m", [Expect({**where, "block": a}, size - 1)])],
            note="one tray of block A drained for 11 minutes; block B whole",
        ),
        Case(
            "SlurmBlockBelowSegment",
            blocks(f"{size} {seg - 1}x20", f"{seg}x20"),
            [("3m", []), ("7m", [Expect({**where, "block": a}, seg - 1)])],
            note="block A below a segment; block B holds exactly one segment",
        ),
        Case(
            "SlurmNoWholeBlock",
            blocks(f"{size} {size - 1}x20", f"{size} {size} {size - 1}x20"),
            [("5m", []), ("9m", [Expect(where, 1)])],
            note="block B still whole until minute 2, both degraded after",
        ),
        Case(
            "SlurmControllerDown",
            [
                ("kasbah_slurm_controller_up", _slurm(ctl, controller=c), v)
                for ctl in ("slurm1", "slurm2")
                for c, v in (("slurm1", "1x10"), ("slurm2", "1 0x10"))
            ],
            [("1m", []), ("4m", [Expect({**where, "controller": "slurm2"}, 0)])],
            note="both controllers report slurm2 down",
        ),
        Case(
            "SlurmctldDown",
            [("kasbah_slurm_controller_up", _slurm("slurm1", controller=c), "1 0x10") for c in ("slurm1", "slurm2")],
            [("1m", []), ("4m", [Expect(where, 0)])],
        ),
        Case(
            "SlurmHealthStale",
            [("kasbah_slurm_exporter_last_run_timestamp_seconds", _slurm("slurm1"), "0+60x5 300x20")],
            [("4m", []), ("16m", [Expect(where, 660)])],
            note="the exporter stops at minute 5 (its last run at 300 s)",
        ),
    ]


def all_cases(plan: Plan) -> list[Case]:
    return (
        node_cases(plan)
        + gpu_cases(plan)
        + fabric_cases(plan)
        + wan_cases(plan)
        + session_cases(plan)
        + power_cases(plan)
        + energy_cases(plan)
        + slurm_cases(plan)
    )
