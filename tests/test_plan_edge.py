"""The WAN edge, monitoring thresholds, storage and hosts the plan hands to renders, Pulumi and the lab."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

from kasbah.plan.hosts import oob_blocks, pod_hosts
from tests.conftest import REPO, STOCK_MONITORING, edit, plan_of


def _plan(name: str):
    plan, _ = plan_of(REPO / "stacks" / f"{name}.yaml")
    assert plan is not None
    return plan


def test_every_live_uplink_is_one_session_on_its_own_31() -> None:
    plan = _plan("phase3")
    sessions = [s for r in plan.edge.routers for s in r.sessions]
    assert sorted((s.edge_router, s.cable, s.phase) for s in sessions) == [
        ("edge1", "mtwa-north", "phase1"),
        ("edge1", "mtwa-south", "phase1"),
        ("edge2", "atlas-offshore", "phase1"),
        ("edge2", "estepona-tetouan", "phase2"),
        ("edge2", "seamewe-3", "phase1"),
        ("edge3", "medusa", "phase2"),
        ("edge3", "mtwa-north", "phase3"),
        ("edge4", "medusa", "phase3"),
    ]
    for s in sessions:
        net = IPv4Network(s.link_cidr)
        assert net.prefixlen == 31
        assert {IPv4Address(s.local_address), IPv4Address(s.peer_address)} == set(net)
        assert s.password_var.startswith("vault_bgp_password_") and "-" not in s.password_var
    assert len({s.link_cidr for s in sessions}) == len(sessions)
    peers = {s.landing_station: s.peer_asn for s in sessions}
    assert peers == {"casablanca": 64601, "asilah": 64602, "tetouan": 64603, "nador": 64604}


def test_edge_routers_keep_their_loopback_and_phase_across_phases() -> None:
    p1, p3 = _plan("phase1"), _plan("phase3")
    first = {r.id: (r.loopback, r.phase) for r in p1.edge.routers}
    later = {r.id: (r.loopback, r.phase) for r in p3.edge.routers}
    assert first == {k: later[k] for k in first}
    assert {r.phase for r in p3.edge.routers} == {"phase1", "phase2", "phase3"}
    assert len({lb for lb, _ in later.values()}) == len(later)


def test_each_region_prefers_the_cable_with_the_lowest_latency_floor() -> None:
    plan = _plan("phase1")
    for routing, region in zip(plan.edge.regions, plan.wan.regions, strict=True):
        assert routing.region == region.id
        assert region.preferred is not None
        assert routing.preference[0].cable == region.preferred.cables[0]
        prefs = [p.local_pref for p in routing.preference]
        rtts = [p.rtt_floor_ms for p in routing.preference]
        assert prefs == sorted(prefs, reverse=True) and len(set(prefs)) == len(prefs)
        assert rtts == sorted(rtts)
    europe = plan.edge.regions[0]
    assert europe.prefixes == ["198.18.0.0/17"]
    assert europe.preference[0].cable == "mtwa-north" and europe.preference[0].local_pref == 200


def test_announce_defaults_to_the_services_supernet_and_follows_the_spec(stacks: Path) -> None:
    assert _plan("phase1").edge.announce == ["10.68.0.0/16"]
    edit(stacks / "campus.yaml", "  regions:\n", "  announce: [192.0.2.0/24]\n  regions:\n")
    plan, _ = plan_of(stacks / "phase1.yaml")
    assert plan is not None and plan.edge.announce == ["192.0.2.0/24"]


def test_monitoring_thresholds_come_from_the_spec_and_the_cumulative_budget(stacks: Path) -> None:
    m = _plan("phase2").monitoring
    assert (m.power_budget_mw, m.power_warning_mw, m.power_basis) == (200.0, 180.0, "facility")
    assert m.pue_alert_above == round(m.design_pue + 0.1, 3)
    edit(
        stacks / "campus.yaml", STOCK_MONITORING, "monitoring: {power_budget_warning: 0.8, xid_critical: [79, 48, 79]}"
    )
    plan, _ = plan_of(stacks / "phase2.yaml")
    assert plan is not None
    assert plan.monitoring.power_warning_mw == 160.0
    assert plan.monitoring.xid_critical == [48, 79]  # sorted for stable rules


def test_storage_buckets_are_campus_wide_and_locked_where_they_must_be() -> None:
    s = _plan("phase3").storage
    assert {b.phase for b in s.buckets} == {"phase1"}
    assert [b.name for b in s.buckets if b.object_lock_days] == ["casablanca-ai-checkpoints"]
    assert all(b.versioning for b in s.buckets)
    assert s.state_bucket == "casablanca-ai-pulumi-state" and s.path_style


def test_hosts_are_named_by_rack_and_tray_and_fit_the_pods_oob_block() -> None:
    plan = _plan("phase1")
    pod = plan.pods[0]
    block = oob_blocks(plan.addresses.allocations)[pod.id]
    hosts = list(pod_hosts(pod, block))
    assert len(hosts) == pod.nodes == 144
    assert hosts[0].name == "h1-su001-r01-n01" and hosts[-1].name == "h1-su001-r08-n18"
    assert len({h.address for h in hosts}) == len(hosts)
    assert all(IPv4Address(h.address) in IPv4Network(block) for h in hosts)
    assert hosts[0].address != str(IPv4Network(block).network_address)


def test_gpu_power_limits_scale_with_the_phase_envelope(stacks: Path) -> None:
    full = _plan("phase1").gpu_power_limits
    assert [(g.sku, g.gpu_max_w, g.limit_w) for g in full] == [("gb200-nvl72", 1200, 1200)]
    # 28 MW of IT load less 1.5 MW of other IT leaves 26.5 MW for 33.6 MW of GPU systems (28 SUs at NVIDIA's
    # 1.2 MW SU budget): each GPU gets 78.9 % of its maximum.
    edit(stacks / "phase1.yaml", "budget_mw: 40", "budget_mw: 28")
    plan, _ = plan_of(stacks / "phase1.yaml")
    assert plan is not None
    (limit,) = plan.gpu_power_limits
    assert limit.envelope_share == round((28 - 1.5) / 33.6, 4)
    assert limit.limit_w == int(1200 * (28 - 1.5) / 33.6) == 946


def test_telemetry_endpoints_come_from_the_spec_or_the_campus_zone(stacks: Path) -> None:
    m = _plan("phase2").monitoring
    assert m.hall_telemetry["h3"] == "facility-h3.casablanca-ai.internal:9840"
    assert m.fabric_telemetry == {
        "phase1": "ufm-phase1.casablanca-ai.internal:9110",
        "phase2": "ufm-phase2.casablanca-ai.internal:9110",
    }
    assert m.energy_telemetry == "energy.casablanca-ai.internal:9840"
    edit(stacks / "phase1.yaml", 'oversubscription: "1:1"}', 'oversubscription: "1:1", telemetry: ufm1.dc:9110}')
    edit(stacks / "campus.yaml", STOCK_MONITORING, "monitoring: {energy_telemetry: meters.dc:9840}")
    edit(stacks / "phase2.yaml", "  - id: h3\n", "  - id: h3\n    telemetry: gw-h3.dc:9840\n")
    plan, findings = plan_of(stacks / "phase2.yaml")
    assert plan is not None, findings
    assert plan.monitoring.fabric_telemetry["phase1"] == "ufm1.dc:9110"
    assert plan.monitoring.energy_telemetry == "meters.dc:9840"
    assert plan.monitoring.hall_telemetry["h3"] == "gw-h3.dc:9840"
    assert plan.monitoring.hall_telemetry["h4"] == "facility-h4.casablanca-ai.internal:9840"


def test_a_malformed_telemetry_endpoint_is_a_located_error(stacks: Path) -> None:
    edit(stacks / "campus.yaml", STOCK_MONITORING, "monitoring: {energy_telemetry: 'meters dc'}")
    from kasbah.findings import SpecError

    try:
        _, findings = plan_of(stacks / "phase1.yaml")
    except SpecError as exc:
        findings = exc.findings
    bad = [f for f in findings if f.path and "energy_telemetry" in str(f.path)]
    assert bad and bad[0].line is not None
