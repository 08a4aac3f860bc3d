"""The planner over real example stacks: each finding fires on a minimal bad edit, located where the edit is."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from kasbah.findings import Level
from tests.conftest import REPO, STOCK_MONITORING, codes, edit, plan_of

# (file, old text, new text, expected code, expected level, line the finding must point at or None)
CASES = [
    ("phase1.yaml", "budget_mw: 40", "budget_mw: 30", "power.over-budget", Level.ERROR),
    ("phase1.yaml", "budget_mw: 40", "budget_mw: 37", "power.near-budget", Level.WARNING),
    ("phase1.yaml", "design_pue: 1.2 ", "design_pue: 0.9 ", "power.pue-below-one", Level.ERROR),
    ("phase1.yaml", "design_pue: 1.2 ", "design_pue: 3.5 ", "power.pue-implausible", Level.WARNING),
    ("phase1.yaml", "design_pue: 1.2 ", "design_pue: 1.6 ", "power.pue-far-from-design", Level.WARNING),
    ("phase1.yaml", "power_limit_mw: 18", "power_limit_mw: 12", "power.hall-over-limit", Level.ERROR),
    ("phase1.yaml", "max_rack_kw: 140", "max_rack_kw: 100", "power.rack-over-limit", Level.ERROR),
    ("phase1.yaml", "cooling: direct_liquid", "cooling: air", "power.cooling-kind", Level.ERROR),
    ("phase1.yaml", "sku: gb200-nvl72, count: 8}", "sku: gb200-nvl27, count: 8}", "catalog.unknown-sku", Level.ERROR),
    ("phase1.yaml", "switch: qm9700", "switch: qm9900", "catalog.unknown-switch", Level.ERROR),
    ("phase1.yaml", "switch: qm9700", "switch: sn5600", "fabric.switch-protocol", Level.ERROR),
    ("phase1.yaml", "storage: {switch: sn5600}", "storage: {switch: sn2201}", "fabric.port-speed", Level.ERROR),
    ("phase1.yaml", "id: h1-su002,", "id: h1-su001,", "names.duplicate", Level.ERROR),
    (
        "phase1.yaml",
        "  - id: h2\n    power_limit_mw: 18   # illustrative: 14 SUs x 1.2 MW SU budget = 16.8 MW\n",
        "  - id: h2\n",
        "hall.incomplete",
        Level.ERROR,
    ),
    ("phase2.yaml", "ready_by: 2027-06-30", "ready_by: 2025-06-30", "phases.date-order", Level.ERROR),
    (
        "phase2.yaml",
        "halls:\n",
        "decommission:\n  - {kind: pod, id: h1-su999}\nhalls:\n",
        "lifecycle.unknown-decommission",
        Level.ERROR,
    ),
    ("phase2.yaml", "halls:\n", "halls:\n  - {id: h1, cooling: air}\n", "lifecycle.removes-built", Level.ERROR),
    ("phase2.yaml", "halls:\n", "halls:\n  - {id: h1, power_limit_mw: 10}\n", "lifecycle.removes-built", Level.ERROR),
    ("phase2.yaml", "halls:\n", "halls:\n  - {id: h1, power_limit_mw: 20}\n", "hall.upgraded", Level.INFO),
    (
        "phase2.yaml",
        "halls:\n",
        "decommission:\n  - {kind: hall, id: h2}\nhalls:\n  - {id: h2, pods: []}\n",
        "lifecycle.hall-decommissioned",
        Level.ERROR,
    ),
    (
        "phase1.yaml",
        "networks:\n  compute: {kind: infiniband-ndr, switch: qm9700, rail_optimised: true, "
        'oversubscription: "1:1"}\n  storage: {switch: sn5600}\n  oob: {switch: sn2201, aggregation: sn4600c}\n',
        "",
        "fabric.missing",
        Level.ERROR,
    ),
    (
        "phase2.yaml",
        "{cable: estepona-tetouan, gbps: 400, edge_router: edge2}",
        "{cable: mtwa-north, gbps: 400, edge_router: edge1}",
        "names.duplicate",
        Level.ERROR,
    ),
    ("campus.yaml", "fabric_base: 4200010000", "fabric_base: 4200000100", "names.duplicate-asn", Level.ERROR),
    ("campus.yaml", "storage: 10.32.0.0/12", "storage: 10.0.0.0/12", "addresses.overlap", Level.ERROR),
    ("campus.yaml", "compute_fabric: 10.0.0.0/11", "compute_fabric: 10.0.0.0/20", "addresses.exhausted", Level.ERROR),
    (
        "campus.yaml",
        "declared_renewable_share: 0.9",
        "declared_renewable_share: 0.95",
        "energy.renewable-share",
        Level.ERROR,
    ),
    ("campus.yaml", "{kind: grid, share: 0.10}", "{kind: grid, share: 0.2}", "energy.shares", Level.ERROR),
    ("campus.yaml", "contracted_mw: 500", "contracted_mw: 30", "energy.over-contract", Level.ERROR),
    ("campus.yaml", "contracted_mw: 500", "contracted_mw: null", "energy.contract-unknown", Level.INFO),
    (
        "campus.yaml",
        "  firming:                # illustrative\n    - {kind: battery, power_mw: 100, energy_mwh: 400}\n"
        "    - {kind: grid, power_mw: 500}\n",
        "",
        "energy.no-firming",
        Level.WARNING,
    ),
    ("campus.yaml", "committed_egress_gbps: 400", "committed_egress_gbps: 1000", "wan.cut-capacity", Level.ERROR),
    ("campus.yaml", "rtt_slo_ms: 30", "rtt_slo_ms: 5", "wan.slo-below-floor", Level.ERROR),
]


@pytest.mark.parametrize(
    ("file", "old", "new", "code", "level"), CASES, ids=[f"{c[3]}-{i}" for i, c in enumerate(CASES)]
)
def test_finding_fires_on_bad_edit(stacks: Path, file: str, old: str, new: str, code: str, level: Level) -> None:
    target = stacks / ("phase2.yaml" if file == "phase2.yaml" else "phase1.yaml")
    _, before = plan_of(target)
    assert code not in codes(before), f"{code} already fires on the unedited example"
    edit(stacks / file, old, new)
    _, findings = plan_of(target)
    hits = [f for f in findings if f.code == code]
    assert hits, f"expected {code}; got {sorted(codes(findings))}"
    assert all(f.level == level for f in hits)
    for f in hits:
        assert f.file and f.file.endswith(file), f"{code} located in {f.file}, expected {file}"
        assert f.line and f.column, f"{code} has no line/column"
        assert f.message


def test_examples_have_no_errors_or_warnings() -> None:
    for name in ("phase1.yaml", "phase2.yaml", "phase3.yaml"):
        plan, findings = plan_of(REPO / "stacks" / name)
        assert plan is not None
        bad = [f for f in findings if f.level >= Level.WARNING]
        assert not bad, f"{name}: {[(f.code, f.message) for f in bad]}"


def test_phase3_reaches_500_mw() -> None:
    plan, _ = plan_of(REPO / "stacks" / "phase3.yaml")
    assert plan is not None
    assert plan.power.cumulative_budget_mw == 500
    assert [p.id for p in plan.phases] == ["phase1", "phase2", "phase3"]
    assert plan.power.cumulative_facility_mw <= 500


def test_phase1_compute_counts() -> None:
    plan, _ = plan_of(REPO / "stacks" / "phase1.yaml")
    assert plan is not None
    c = plan.cumulative
    # 28 scalable units of 8 GB200 NVL72 racks: 224 racks x 72 GPUs, 18 compute trays each, one NVLink domain per rack.
    assert (c.pods, c.racks, c.gpus, c.nodes, c.nvlink_domains) == (28, 224, 16_128, 4_032, 224)
    assert c.switch_trays == 224 * 9, "9 NVLink switch trays per NVL72 rack"
    assert plan.increment == plan.cumulative


def test_power_is_it_times_pue() -> None:
    plan, _ = plan_of(REPO / "stacks" / "phase1.yaml")
    assert plan is not None
    p = plan.power
    assert p.it_load_mw == pytest.approx(p.gpu_it_mw + p.other_it_mw)
    assert p.facility_mw == pytest.approx(p.it_load_mw * p.design_pue, abs=1e-3)
    assert p.counted_mw == p.it_load_mw  # the example's 40 MW counts IT load (">40 MW of AI accelerators")
    assert p.headroom_mw == pytest.approx(40 - p.it_load_mw, abs=1e-3)


def test_it_load_basis_counts_it_only(stacks: Path) -> None:
    plan, _ = plan_of(stacks / "phase1.yaml")
    assert plan is not None and plan.power.basis == "it_load"
    assert plan.power.counted_mw == plan.power.it_load_mw
    edit(stacks / "phase1.yaml", "basis: it_load", "basis: facility")
    plan, findings = plan_of(stacks / "phase1.yaml")
    assert plan is not None
    assert plan.power.counted_mw == plan.power.facility_mw > plan.power.it_load_mw
    assert "power.over-budget" in codes(findings), "42.12 MW of facility power is over a 40 MW facility budget"


def test_adding_phases_never_renumbers_earlier_ones() -> None:
    p1, _ = plan_of(REPO / "stacks" / "phase1.yaml")
    p3, _ = plan_of(REPO / "stacks" / "phase3.yaml")
    assert p1 is not None and p3 is not None
    first = [a for a in p3.addresses.allocations if a.phase == "phase1"]
    assert first == p1.addresses.allocations


def test_allocations_never_overlap() -> None:
    from ipaddress import ip_network

    plan, _ = plan_of(REPO / "stacks" / "phase3.yaml")
    assert plan is not None
    by_net: dict[str, list] = {}
    for a in plan.addresses.allocations:
        by_net.setdefault(a.network, []).append(ip_network(a.cidr))
    for net, blocks in by_net.items():
        blocks.sort()
        for x, y in itertools.pairwise(blocks):
            assert not x.overlaps(y), f"{net}: {x} overlaps {y}"
        supernet = next(s for s in plan.addresses.supernets if s.network == net)
        assert all(b.subnet_of(ip_network(supernet.cidr)) for b in blocks)


def test_pod_blocks_fit_their_endpoints() -> None:
    from ipaddress import ip_network

    plan, _ = plan_of(REPO / "stacks" / "phase1.yaml")
    assert plan is not None
    for a in plan.addresses.allocations:
        size = ip_network(a.cidr).num_addresses
        assert size >= a.needed, a
        if a.network != "wan_links":
            assert size < 4 * (a.needed + 2), f"{a.cidr} is far larger than {a.needed} needs"


def test_decommission_keeps_addresses_reserved(stacks: Path) -> None:
    edit(stacks / "phase2.yaml", "halls:\n", "decommission:\n  - {kind: pod, id: h1-su001, reason: test}\nhalls:\n")
    before, _ = plan_of(REPO / "stacks" / "phase2.yaml")
    after, findings = plan_of(stacks / "phase2.yaml")
    assert before is not None and after is not None
    assert not [f for f in findings if f.level == Level.ERROR]
    assert "h1-su001" not in [p.id for p in after.pods]
    assert after.cumulative.racks == before.cumulative.racks - 8
    assert after.addresses.allocations == before.addresses.allocations
    assert after.phases[-1].decommissioned == ["pod:h1-su001"]
    gone_mw = 8 * 150 / 1000  # eight GB200 NVL72 racks at the 150 kW a rack NVIDIA budgets (1.2 MW per SU)
    assert after.power.cumulative_it_load_mw == pytest.approx(before.power.cumulative_it_load_mw - gone_mw)
    assert after.power.cumulative_facility_mw == pytest.approx(before.power.cumulative_facility_mw - gone_mw * 1.2)


def test_decommissioned_hall_takes_its_pods(stacks: Path) -> None:
    edit(stacks / "phase2.yaml", "halls:\n", "decommission:\n  - {kind: hall, id: h2}\nhalls:\n")
    plan, _ = plan_of(stacks / "phase2.yaml")
    assert plan is not None
    assert "h2" not in [h.id for h in plan.halls]
    assert not [p for p in plan.pods if p.hall == "h2"]


def test_extending_a_hall_adds_pods_to_it(stacks: Path) -> None:
    edit(
        stacks / "phase2.yaml",
        "halls:\n",
        "halls:\n  - id: h1\n    pods:\n      - {id: h1-su101, sku: gb300-nvl72, count: 2}\n",
    )
    plan, _ = plan_of(stacks / "phase2.yaml")
    assert plan is not None
    h1 = next(h for h in plan.halls if h.id == "h1")
    assert "h1-su101" in h1.pods and h1.built_in == "phase1"


def test_planning_is_deterministic() -> None:
    a = plan_of(REPO / "stacks" / "phase3.yaml")
    b = plan_of(REPO / "stacks" / "phase3.yaml")
    assert a[0] is not None
    assert a[0].model_dump_json() == b[0].model_dump_json()
    assert a[1] == b[1]


def test_campus_catalog_override_adds_a_sku(stacks: Path) -> None:
    edit(
        stacks / "campus.yaml",
        STOCK_MONITORING,
        STOCK_MONITORING + "\ncatalog:\n  systems:\n    gb200-nvl36x2:\n      name: test system\n      vendor: nvidia\n"
        "      unit: rack\n      gpus_per_unit: 72\n      compute_trays_per_unit: 18\n      nvlink_domain_gpus: 36\n"
        "      unit_power_kw: 130\n      cooling: liquid\n      units_per_rack: 1\n      compute_nics_per_unit: 72\n"
        "      compute_nic_gbps: 400\n      compute_nic: ConnectX-7\n      storage_ports_per_unit: 36\n"
        "      storage_port_gbps: 400\n      oob_ports_per_unit: 27\n      source: ['test fixture [U]']\n"
        "      confidence: low\n      notes: test\n",
    )
    edit(
        stacks / "phase1.yaml",
        "{id: h1-su001, sku: gb200-nvl72, count: 8}",
        "{id: h1-su001, sku: gb200-nvl36x2, count: 8}",
    )
    plan, findings = plan_of(stacks / "phase1.yaml")
    assert plan is not None
    pod = next(p for p in plan.pods if p.id == "h1-su001")
    assert pod.sku == "gb200-nvl36x2" and pod.nvlink_domains == 16 and pod.it_kw == 8 * 130
    assert "catalog.unknown-sku" not in codes(findings)


def test_only_unpublished_cable_lengths_make_notes() -> None:
    """Omitted backhaul and terrestrial km are the spec's stated default; a cable without a route length is news."""
    _, findings = plan_of(REPO / "stacks" / "phase1.yaml")
    notes = [f for f in findings if f.code == "wan.great-circle"]
    assert [f.path for f in notes] == ["wan.cables[4]"]
    assert "seamewe-3" in notes[0].message


def test_fabric_past_three_tiers_splits_into_domains(stacks: Path) -> None:
    text = (stacks / "phase1.yaml").read_text(encoding="utf-8").replace("count: 8}", "count: 40}")
    (stacks / "phase1.yaml").write_text(text, encoding="utf-8")
    plan, findings = plan_of(stacks / "phase1.yaml")
    assert plan is not None
    (split,) = [f for f in findings if f.code == "fabric.split"]
    fabric = plan.fabrics[0].compute[0]
    assert len(fabric.domains) >= 2 and fabric.split_note == split.message
    assert sum(d.endpoints for d in fabric.domains) == plan.cumulative.compute_nics
    assert all(d.endpoints <= fabric.capacity_per_domain for d in fabric.domains)


def test_a_crash_inside_the_planner_becomes_a_finding(monkeypatch: pytest.MonkeyPatch) -> None:
    from kasbah.plan import derive as derive_mod

    def boom(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(derive_mod, "plan_energy", boom)
    plan, findings = plan_of(REPO / "stacks" / "phase1.yaml")
    assert plan is None
    (crash,) = [f for f in findings if f.code == "internal.crash"]
    assert crash.level == Level.ERROR and "ZeroDivisionError" in crash.message


def test_spectrum_x_fabric_asn_range(stacks: Path) -> None:
    """An Ethernet fabric numbers each switch from fabric_base: the range must fit below the last private AS."""
    edit(stacks / "phase1.yaml", "kind: infiniband-ndr, switch: qm9700", "kind: spectrum-x, switch: sn5600")
    plan, findings = plan_of(stacks / "phase1.yaml")
    assert plan is not None and not [f for f in findings if f.level == Level.ERROR]
    assert plan.fabrics[0].compute[0].kind == "spectrum-x"
    edit(stacks / "campus.yaml", "fabric_base: 4200010000", "fabric_base: 4294967000")
    _, findings = plan_of(stacks / "phase1.yaml")
    (f,) = [f for f in findings if f.code == "names.asn-range"]
    assert f.path == "asns.fabric_base" and f.file and f.file.endswith("campus.yaml")
