"""Fabric sizing held against NVIDIA's published DGX SuperPOD component counts, plus the fat-tree boundaries."""

from __future__ import annotations

import itertools
import time
from typing import Any

import pydantic
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kasbah.catalog.models import Switch
from kasbah.findings import Level
from kasbah.plan.fabric import (
    ComputeFabricPlan,
    FabricDomain,
    FabricTier,
    NetworkPlan,
    plan_compute_fabric,
    plan_oob_network,
    plan_storage_network,
    radix_at,
)

SRC: dict[str, Any] = {"source": ["[P] test fixture, figures from domain.md section 3a"], "confidence": "high"}

QM9700 = Switch(name="QM9700", protocol="infiniband", generation="ndr", ports={400: 64, 200: 128}, **SRC)
Q3400 = Switch(name="Q3400-RA", protocol="infiniband", generation="xdr", ports={800: 144}, **SRC)
SN5600 = Switch(name="SN5600", protocol="ethernet", generation="spectrum-4", ports={800: 64, 400: 128, 200: 256}, **SRC)
SN2201 = Switch(name="SN2201", protocol="ethernet", generation="spectrum", ports={1: 48, 100: 4}, **SRC)
TINY = Switch(name="Tiny", protocol="ethernet", generation="test", ports={100: 8}, **SRC)

B200_ARCH = (
    "https://docs.nvidia.com/dgx-superpod/reference-architecture-scalable-infrastructure-b200/latest/"
    "dgx-superpod-architecture.html"
)
B200_FABRICS = "https://docs.nvidia.com/dgx-superpod/reference-architecture-scalable-infrastructure-b200/latest/network-fabrics.html"
H100_FABRICS = "https://docs.nvidia.com/dgx-superpod/reference-architecture-scalable-infrastructure-h100/latest/network-fabrics.html"
B300_XDR_ARCH = (
    "https://docs.nvidia.com/dgx-superpod/reference-architecture/scalable-infrastructure-b300-xdr/latest/"
    "dgx-superpod-architecture.html"
)
B300_SPX_ARCH = (
    "https://docs.nvidia.com/dgx-superpod/reference-architecture/scalable-infrastructure-b300/latest/"
    "dgx-superpod-architecture.html"
)


def _compute(nodes: int, switch: Switch = QM9700, **kw: Any) -> ComputeFabricPlan:
    args: dict[str, Any] = {
        "nodes": nodes,
        "nics_per_node": 8,
        "nic_gbps": 400,
        "switch_id": switch.name.lower(),
        "switch": switch,
        "kind": "infiniband-ndr",
        "rail_optimised": True,
        "oversubscription": 1.0,
        "nodes_per_scalable_unit": None,
    }
    args.update(kw)
    return plan_compute_fabric(**args)


def _tier(plan: ComputeFabricPlan | NetworkPlan, name: str, domain: int = 0) -> FabricTier | None:
    tiers = plan.tiers if isinstance(plan, NetworkPlan) else plan.domains[domain].tiers
    return next((t for t in tiers if t.name == name), None)


# --- radix -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("switch", "gbps", "expected"),
    [
        (SN5600, 400, 128),
        (SN5600, 800, 64),
        (SN5600, 200, 256),
        (SN5600, 100, 256),  # no 100G entry: a 100G NIC takes one 200G port
        (QM9700, 400, 64),
        (QM9700, 200, 128),
        (QM9700, 800, None),  # NDR has no 800G port
        (Q3400, 800, 144),
        (Q3400, 400, 144),  # a 400G NIC on an 800G XDR port
        (SN2201, 1, 48),
        (SN2201, 25, 4),
        (SN2201, 400, None),
    ],
)
def test_radix_at(switch: Switch, gbps: int, expected: int | None) -> None:
    assert radix_at(switch, gbps) == expected


# --- NVIDIA's published SuperPOD tables ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sus", "nodes", "leaf", "spine", "core", "node_leaf", "leaf_spine", "spine_core"),
    [
        (2, 64, 16, 8, None, 512, 512, None),  # B200_ARCH, "Larger SuperPOD component counts"
        (4, 128, 32, 16, None, 1024, 1024, None),  # B200_ARCH
        (8, 256, 64, 32, None, 2048, 2048, None),  # B200_ARCH
        (16, 512, 128, 128, 64, 4096, 4096, 4096),  # B200_ARCH
        (32, 1024, 256, 256, 128, 8192, 8192, 8192),  # B200_ARCH
        (64, 2048, 512, 512, 256, 16384, 16384, 16384),  # B200_ARCH
    ],
)
def test_dgx_b200_superpod_published_counts(
    sus: int,
    nodes: int,
    leaf: int,
    spine: int,
    core: int | None,
    node_leaf: int,
    leaf_spine: int,
    spine_core: int | None,
) -> None:
    """DGX B200, 32-node SU, QM9700 NDR, 8 rails, 1:1. Source: B200_ARCH."""
    plan = _compute(nodes, nodes_per_scalable_unit=32)
    assert len(plan.domains) == 1 and plan.split_note is None
    assert plan.tiers_count == (2 if core is None else 3)
    expected_totals = {"leaf": leaf, "spine": spine} | ({"core": core} if core else {})
    expected_cables = {"leaf": node_leaf, "spine": leaf_spine} | ({"core": spine_core} if spine_core else {})
    assert plan.totals == expected_totals
    assert plan.cables == expected_cables


@pytest.mark.parametrize(
    ("sus", "nodes", "leaf", "spine", "compute_and_ufm", "spine_leaf"),
    [
        # B200_FABRICS and H100_FABRICS, "Table 4. Compute fabric component count" (same rows in both): "a 32 node
        # per SU design, however a DGX system must be removed to accommodate for UFM connectivity". Its "Compute and
        # UFM" cables are 8 x nodes + 4 UFM links in every row.
        (1, 31, 8, 4, 252, 256),
        (2, 63, 16, 8, 508, 512),
        (3, 95, 24, 16, 764, 768),  # 12 spines would do; 16 spread each leaf's 32 uplinks evenly
        (4, 127, 32, 16, 1020, 1024),
    ],
)
def test_dgx_h100_b200_ufm_table(
    sus: int, nodes: int, leaf: int, spine: int, compute_and_ufm: int, spine_leaf: int
) -> None:
    """Leaves and leaf-spine cables are built for the full SU even with one node short (NVIDIA's rule)."""
    plan = _compute(nodes, nodes_per_scalable_unit=32)
    assert plan.totals == {"leaf": leaf, "spine": spine}
    assert plan.cables == {"leaf": compute_and_ufm - 4, "spine": spine_leaf}


@pytest.mark.parametrize(
    ("sus", "nodes", "leaf", "spine", "node_leaf", "leaf_spine"),
    [
        (1, 72, 8, 4, 576, 576),  # B300_XDR_ARCH, "Table 3 Example Compute Fabric Components"
        (2, 144, 16, 8, 1152, 1152),  # B300_XDR_ARCH
        (4, 288, 32, 18, 2304, 2304),  # B300_XDR_ARCH: 16 spines would do; 18 divides the 72 uplinks evenly
        (8, 576, 64, 36, 4608, 4608),  # B300_XDR_ARCH
        # B300_XDR_ARCH prints 9216 GPUs for 1296 nodes (a typo: 1296 x 8 = 10368, which its cable columns use).
        (18, 1296, 144, 72, 10368, 10368),
    ],
)
def test_dgx_b300_xdr_superpod_published_counts(
    sus: int, nodes: int, leaf: int, spine: int, node_leaf: int, leaf_spine: int
) -> None:
    """DGX B300, 72-node SU, Q3400 XDR (144 x 800G), 8 rails, 1:1. Source: B300_XDR_ARCH."""
    plan = _compute(nodes, Q3400, nic_gbps=800, kind="infiniband-xdr", nodes_per_scalable_unit=72)
    assert plan.tiers_count == 2
    assert plan.totals == {"leaf": leaf, "spine": spine}
    assert plan.cables == {"leaf": node_leaf, "spine": leaf_spine}
    assert plan.capacity_per_domain == 144**2 // 2


@pytest.mark.parametrize(
    ("sus", "nodes", "leaf", "spine"),
    [
        (1, 64, 16, 8),  # B300_SPX_ARCH, "Table 3 Larger DGX SuperPOD component counts"
        (2, 128, 32, 16),  # B300_SPX_ARCH
        (4, 256, 64, 32),  # B300_SPX_ARCH
        (8, 512, 128, 64),  # B300_SPX_ARCH
        (16, 1024, 256, 128),  # B300_SPX_ARCH
    ],
)
def test_dgx_b300_spectrum_x_twin_plane_switch_counts(sus: int, nodes: int, leaf: int, spine: int) -> None:
    """Spectrum-X twin-plane: each GPU has 2 x 400GbE on two planes, i.e. two SN5600 fabrics at 400G (128 ports).

    Only switch counts are compared: the RA counts 512 node-leaf cables per SU where two planes carry 1,024 400G
    links, so its cables are not one per 400G link (our model's unit). The two-plane reading is ours.
    """
    plane = _compute(nodes, SN5600, kind="spectrum-x", nodes_per_scalable_unit=64)
    assert {name: 2 * n for name, n in plane.totals.items()} == {"leaf": leaf, "spine": spine}


# --- fat-tree boundaries ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("switch", "gbps"), [(QM9700, 400), (Q3400, 800)], ids=["k64", "k144"])
@pytest.mark.parametrize(
    ("endpoints", "tiers", "domains"),
    [
        (lambda k: k, 1, 1),  # fits one switch
        (lambda k: k + 1, 2, 1),
        (lambda k: k**2 // 2, 2, 1),
        (lambda k: k**2 // 2 + 1, 3, 1),
        (lambda k: k**3 // 4, 3, 1),
        (lambda k: k**3 // 4 + 1, 3, 2),
    ],
    ids=["k", "k+1", "k2/2", "k2/2+1", "k3/4", "k3/4+1"],
)
def test_tier_boundaries(switch: Switch, gbps: int, endpoints: Any, tiers: int, domains: int) -> None:
    """Two tiers serve k^2/2 endpoints, three k^3/4 (1:1); one more needs another tier or another domain."""
    k = switch.ports[gbps]
    e = endpoints(k)
    plan = _compute(e, switch, nics_per_node=1, nic_gbps=gbps, rail_optimised=False)
    assert plan.radix == k
    assert plan.tiers_count == tiers
    assert len(plan.domains) == domains
    assert sum(d.endpoints for d in plan.domains) == e
    if domains > 1:
        assert plan.split_note == (
            f"{e:,} endpoints exceed the {k**3 // 4:,} a 3-tier fabric of {k}-port switches serves; "
            f"split into 2 fabric domains of {e - e // 2:,} nodes or fewer"
        )
        assert plan.capacity_per_domain == k**3 // 4
    else:
        assert plan.split_note is None


@pytest.mark.parametrize(
    ("nodes", "tiers", "domains"),
    [(32, 2, 1), (256, 2, 1), (257, 3, 1), (8192, 3, 1), (8193, 3, 2)],
)
def test_rail_optimised_boundaries(nodes: int, tiers: int, domains: int) -> None:
    """8 rails of 64-port leaves: 256 nodes (2,048 = k^2/2 NICs) in two tiers, 8,192 (65,536 = k^3/4) in three."""
    plan = _compute(nodes)
    assert (plan.tiers_count, len(plan.domains), plan.rails) == (tiers, domains, 8)


def test_single_switch_fabric() -> None:
    """E <= k is one switch, all ports down, one tier; NVIDIA's 8-rail designs never get this small."""
    plan = _compute(8)  # 64 NICs on a 64-port switch
    assert plan.tiers_count == 1
    assert plan.domains[0].tiers == [
        FabricTier(name="leaf", switches=1, ports_down=64, ports_up=0, cables_down=64, transceivers_down=128)
    ]


# --- oversubscription -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("switch", "gbps", "ratio", "text", "down", "up"),
    [
        (QM9700, 400, 1.0, "1:1", 32, 32),
        (QM9700, 400, 2.0, "2:1", 42, 22),  # 2k/3 = 42.67, rounded down
        (QM9700, 400, 3.0, "3:1", 48, 16),
        (QM9700, 400, 1.5, "1.5:1", 38, 26),  # 38.4 rounded down
        (Q3400, 800, 2.0, "2:1", 96, 48),
        (SN5600, 400, 1.0, "1:1", 64, 64),
    ],
)
def test_leaf_port_split(switch: Switch, gbps: int, ratio: float, text: str, down: int, up: int) -> None:
    plan = _compute(4096, switch, nics_per_node=1, nic_gbps=gbps, rail_optimised=False, oversubscription=ratio)
    leaf = _tier(plan, "leaf")
    assert leaf is not None
    assert (leaf.ports_down, leaf.ports_up, plan.oversubscription) == (down, up, text)


def test_oversubscription_reduces_spines_and_uplinks() -> None:
    one = _compute(256)
    two = _compute(256, oversubscription=2.0)
    assert two.totals["spine"] < one.totals["spine"]
    assert two.cables["spine"] < one.cables["spine"]
    assert two.totals["leaf"] < one.totals["leaf"]
    assert two.cables["leaf"] == one.cables["leaf"] == 2048


@pytest.mark.parametrize(("tiers", "nodes"), [(2, 2688), (3, 2689), (3, 86016)])
def test_oversubscribed_capacity(tiers: int, nodes: int) -> None:
    """Only the leaf tapers: two tiers hold k*d endpoints, three k*(k/2)*d (k=64, 2:1 -> d=42)."""
    plan = _compute(nodes, nics_per_node=1, rail_optimised=False, oversubscription=2.0)
    assert plan.tiers_count == tiers
    assert plan.capacity_per_domain == (64 * 42 if tiers == 2 else 64 * 32 * 42)
    assert len(plan.domains) == 1


# --- domains ----------------------------------------------------------------------------------------------------


def test_split_on_scalable_unit_boundaries() -> None:
    nodes = 600 * 32  # 600 B200 SUs: 153,600 NICs, past the 65,536 of one 3-tier NDR fabric
    plan = _compute(nodes, nodes_per_scalable_unit=32)
    sizes = [d.nodes for d in plan.domains]
    assert len(sizes) == 3  # 256 SUs fit a domain, so ceil(600 / 256)
    assert sum(sizes) == nodes
    assert all(s % 32 == 0 for s in sizes)
    assert max(sizes) - min(sizes) <= 32
    assert plan.split_note is not None and "scalable-unit boundaries" in plan.split_note
    assert plan.totals == {
        name: sum(t.switches for d in plan.domains for t in d.tiers if t.name == name) for name in plan.totals
    }
    assert [d.index for d in plan.domains] == [0, 1, 2]


def test_partial_scalable_unit_goes_last() -> None:
    plan = _compute(9000, nodes_per_scalable_unit=32)  # 281.25 SUs
    sizes = [d.nodes for d in plan.domains]
    assert sum(sizes) == 9000
    assert all(s % 32 == 0 for s in sizes[:-1])


def test_gb200_500mw_phase_is_fast_and_splits_sensibly() -> None:
    """~3,700 NVL72 racks = 66,600 compute trays x 4 ConnectX-7 = 266,400 NDR endpoints; SU = 8 racks = 144 trays."""
    start = time.perf_counter()
    plan = _compute(66_600, nics_per_node=4, nodes_per_scalable_unit=144)
    elapsed = time.perf_counter() - start
    assert elapsed < 0.5  # milliseconds in practice; generous for slow CI
    # 5 SU-aligned rail leaves per rail per SU (144 trays / 32 ports, rounded up): 102 SUs = 58,752 NICs per domain.
    assert plan.capacity_per_domain == 102 * 144 * 4
    assert len(plan.domains) == 5
    assert plan.tiers_count == 3
    assert sum(d.endpoints for d in plan.domains) == 266_400
    assert all(d.endpoints <= plan.capacity_per_domain for d in plan.domains)
    assert max(d.nodes for d in plan.domains) - min(d.nodes for d in plan.domains) <= 2 * 144
    assert plan.split_note is not None
    assert plan.split_note.startswith("266,400 endpoints exceed the 58,752 a 3-tier fabric of 64-port switches")
    assert "split into 5 fabric domains" in plan.split_note


def test_xdr_holds_the_same_phase_in_one_domain() -> None:
    """The same phase on 800G XDR (GB300, 144 ports): 266,400 < 144^3/4 = 746,496, so no split."""
    plan = _compute(66_600, Q3400, nics_per_node=4, nic_gbps=800, nodes_per_scalable_unit=144)
    assert (len(plan.domains), plan.tiers_count, plan.split_note) == (1, 3, None)


# --- invariants -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("switch", "gbps", "nodes", "su"),
    [
        (QM9700, 400, 64, 32),
        (QM9700, 400, 256, 32),
        (QM9700, 400, 512, 32),
        (QM9700, 400, 2048, 32),
        (Q3400, 800, 1296, 72),
        (Q3400, 800, 72 * 72, 72),
    ],
)
def test_cables_up_equal_cables_down_at_1_to_1(switch: Switch, gbps: int, nodes: int, su: int) -> None:
    """Full SUs, non-blocking: every tier cables as many links up as it receives from below."""
    plan = _compute(nodes, switch, nic_gbps=gbps, nodes_per_scalable_unit=su)
    tiers = plan.domains[0].tiers
    for below, above in itertools.pairwise(tiers):
        assert above.cables_down == below.switches * below.ports_up == below.cables_down
    assert plan.transceivers == 2 * sum(plan.cables.values())  # one transceiver per cable end


def test_determinism() -> None:
    kw: dict[str, Any] = {"nics_per_node": 4, "nodes_per_scalable_unit": 144}
    a, b = _compute(66_600, **kw), _compute(66_600, **kw)
    assert a == b
    assert a.model_dump_json() == b.model_dump_json()
    shuffled = Switch(name="QM9700", protocol="infiniband", generation="ndr", ports={200: 128, 400: 64}, **SRC)
    assert _compute(66_600, shuffled, **kw) == a


def test_field_order_is_stable() -> None:
    assert list(ComputeFabricPlan.model_fields) == [
        "kind",
        "switch",
        "port_gbps",
        "radix",
        "rails",
        "oversubscription",
        "tiers_count",
        "capacity_per_domain",
        "domains",
        "totals",
        "cables",
        "transceivers",
        "split_note",
        "growth",
    ]
    assert list(FabricTier.model_fields) == [
        "name",
        "switches",
        "ports_down",
        "ports_up",
        "cables_down",
        "transceivers_down",
    ]
    assert list(FabricDomain.model_fields) == ["index", "nodes", "endpoints", "tiers"]
    assert list(NetworkPlan.model_fields)[:6] == ["switch", "port_gbps", "tiers", "switches", "cables", "transceivers"]


def test_results_are_frozen() -> None:
    plan = _compute(64)
    with pytest.raises(pydantic.ValidationError):
        plan.radix = 128  # type: ignore[misc]


# --- invalid and empty inputs -----------------------------------------------------------------------------------


def test_no_port_at_speed_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"switch 'qm9700' \(QM9700\) has no port at 800 Gb/s or faster; it has"):
        _compute(64, nic_gbps=800)


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"nodes": -1}, "nodes must be >= 0"),
        ({"nics_per_node": -1}, "NICs per node must be >= 0"),
        ({"oversubscription": 0.5}, "oversubscription must be a finite ratio >= 1"),
        ({"oversubscription": float("inf")}, "oversubscription must be a finite ratio >= 1"),
        ({"nodes_per_scalable_unit": 0}, "nodes per scalable unit must be >= 1"),
        ({"nic_gbps": 0}, "port speed must be >= 1"),
    ],
)
def test_invalid_inputs(kw: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _compute(**{"nodes": 64, **kw})


@pytest.mark.parametrize("kw", [{"nodes": 0}, {"nodes": 64, "nics_per_node": 0}])
def test_empty_plan(kw: dict[str, Any]) -> None:
    plan = _compute(**kw)
    assert plan.domains == []
    assert (plan.tiers_count, plan.capacity_per_domain, plan.totals, plan.cables, plan.transceivers) == (
        0,
        0,
        {},
        {},
        0,
    )
    assert plan.split_note is None
    assert plan.radix == 64


# --- storage ----------------------------------------------------------------------------------------------------


def _storage(endpoints: int, switch: Switch = SN5600, gbps: int = 400, ratio: float = 1.0) -> NetworkPlan:
    return plan_storage_network(
        endpoints=endpoints, port_gbps=gbps, switch_id=switch.name.lower(), switch=switch, oversubscription=ratio
    )


@pytest.mark.parametrize(
    ("endpoints", "gbps", "ratio", "leaf", "spine"),
    [
        (128, 400, 1.0, 1, None),  # one switch
        (4096, 400, 1.0, 64, 32),  # 4096 / 64 leaves; 64 x 64 uplinks / 128 ports
        (8192, 400, 1.0, 128, 64),  # k^2/2 for k=128
        (4096, 400, 2.0, 49, 17),  # d=85, u=43: 49 x 43 / 128 -> 17; 43 is prime, so no even spread below 34
        (4096, 200, 1.0, 32, 16),  # 256 ports at 200G
    ],
)
def test_storage_network(endpoints: int, gbps: int, ratio: float, leaf: int, spine: int | None) -> None:
    net = _storage(endpoints, gbps=gbps, ratio=ratio)
    assert net.port_gbps == gbps
    assert [(t.name, t.switches) for t in net.tiers] == [("leaf", leaf)] + ([("spine", spine)] if spine else [])
    assert net.switches == leaf + (spine or 0)
    assert net.cables == sum(t.cables_down for t in net.tiers)
    assert net.transceivers == 2 * net.cables
    assert net.note is None


def test_storage_beyond_three_tiers_is_summed_and_explained() -> None:
    net = _storage(300, TINY, gbps=100)  # 8-port switches: 8 x 4 x 4 = 128 endpoints in three tiers
    assert [t.name for t in net.tiers] == ["leaf", "spine", "core"]
    assert net.tiers[0].cables_down == 300
    assert net.note is not None and "split into 3 fabric domains" in net.note


def test_storage_empty_and_invalid() -> None:
    assert _storage(0).tiers == [] and _storage(0).switches == 0
    with pytest.raises(ValueError, match="no port at 1600 Gb/s"):
        _storage(64, gbps=1600)


# --- out-of-band ------------------------------------------------------------------------------------------------


def _oob(racks: int, endpoints: int, per_rack: int, switch: Switch = SN2201) -> NetworkPlan:
    return plan_oob_network(
        racks=racks, endpoints=endpoints, switch_id=switch.name.lower(), switch=switch, switches_per_rack=per_rack
    )


@pytest.mark.parametrize(
    ("racks", "endpoints", "per_rack", "access", "agg"),
    [
        (8, 8 * 27, 2, 16, 16),  # NVL72 SU: 2 SN2201 per rack set the count; 4 x 100G up each
        (32, 128, 0, 3, 3),  # 128 DGX BMCs: ceil(128 / 48) access switches
        (1, 20, 1, 1, None),  # one access switch: no aggregation tier
        (10, 1000, 1, 21, 21),  # ports, not racks, set the count
    ],
)
def test_oob_network(racks: int, endpoints: int, per_rack: int, access: int, agg: int | None) -> None:
    net = _oob(racks, endpoints, per_rack)
    assert net.port_gbps == 1
    leaf, spine = _tier(net, "leaf"), _tier(net, "spine")
    assert leaf is not None and leaf.switches == access and leaf.ports_down == 48
    assert leaf.cables_down == endpoints and leaf.transceivers_down == 0  # 1G BASE-T copper
    if agg is None:
        assert spine is None
    else:
        assert spine is not None and spine.switches == agg
        assert spine.cables_down == access * 4 and spine.transceivers_down == 2 * access * 4
    assert net.switches == access + (agg or 0)


def test_oob_single_speed_switch_keeps_two_uplinks() -> None:
    flat = Switch(name="Flat", protocol="ethernet", generation="test", ports={10: 48}, **SRC)
    net = _oob(4, 200, 0, flat)
    assert (net.tiers[0].switches, net.tiers[0].ports_down, net.tiers[0].ports_up) == (5, 46, 2)
    assert net.tiers[1].switches == 1  # 10 uplinks on 48 ports


def test_oob_empty_and_invalid() -> None:
    assert _oob(0, 0, 2).tiers == []
    with pytest.raises(ValueError, match="must be >= 0"):
        _oob(-1, 0, 2)


# -- the fabric is a function of the set of pods (issue 13, item 7) ---------------------------------------------------

_ORDER_SKUS = {"dgx-b200": (1, 12), "hgx-h200": (1, 12), "gb200-nvl72": (1, 3)}


def _phase_with_pods(halls: list[list[tuple[str, str, int]]]) -> Any:
    """Plan phase 1 of a copy of the example stacks with its halls replaced by `halls` (lists of (id, sku, count))."""
    import re
    import shutil
    import tempfile
    from pathlib import Path

    from tests.conftest import REPO, plan_of

    lines = ["halls:"]
    for hi, pods in enumerate(halls):
        lines += [f"  - id: h{hi + 1}", "    power_limit_mw: 16", "    cooling: direct_liquid", "    max_rack_kw: 140"]
        lines += ["    pods:"] + [f"      - {{id: {pid}, sku: {sku}, count: {n}}}" for pid, sku, n in pods]
        if not pods:
            lines[-1] = "    pods: []"
    with tempfile.TemporaryDirectory() as tmp:
        stacks = Path(tmp) / "stacks"
        shutil.copytree(REPO / "stacks", stacks)
        path = stacks / "phase1.yaml"
        text = path.read_text(encoding="utf-8")
        path.write_text(re.sub(r"(?ms)^halls:\n.*?^(?=networks:)", "\n".join(lines) + "\n", text), encoding="utf-8")
        plan, findings = plan_of(path)
    assert plan is not None, [f.message for f in findings]
    return plan


def _fabric_figures(plan: Any) -> dict[str, Any]:
    """Every fabric figure of the target phase: leaves, spines, cores, cables, transceivers, domains, networks."""
    fabric = plan.fabrics[-1]
    return {
        "compute": [c.model_dump() for c in fabric.compute],
        "storage": fabric.storage.model_dump() if fabric.storage else None,
        "oob": fabric.oob.model_dump() if fabric.oob else None,
    }


def test_issue_example_pod_order_no_longer_sizes_the_fabric() -> None:
    """80 DGX B200 nodes as pods of 16, 32, 32 gave 40 leaves / 32 spines, as 32, 32, 16 gave 24 / 16."""
    figures = []
    for order in ([16, 32, 32], [32, 32, 16], [32, 16, 32]):
        plan = _phase_with_pods([[(f"p{i}", "dgx-b200", n) for i, n in enumerate(order)]])
        (compute,) = plan.fabrics[-1].compute
        figures.append((compute.totals, compute.cables, compute.transceivers))
    assert figures[0] == figures[1] == figures[2]
    # SU = the largest pod (32 nodes): ceil(80 / 32) = 3 SUs x 1 leaf per rail x 8 rails; 24 x 32 uplinks on 64-port
    # spines need 12, rounded up to 16 (a divisor of 32 uplinks).
    assert figures[0][0] == {"leaf": 24, "spine": 16}


@given(
    pods=st.lists(
        st.sampled_from(sorted(_ORDER_SKUS)).flatmap(
            lambda sku: st.tuples(st.just(sku), st.integers(*_ORDER_SKUS[sku]))
        ),
        min_size=1,
        max_size=7,
    ),
    halls=st.integers(1, 3),
    data=st.data(),
)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_permuting_pods_never_changes_a_fabric(pods: list[tuple[str, int]], halls: int, data: st.DataObject) -> None:
    """Pods listed in any order, within and across halls, give the same fabrics, figure for figure."""
    named = [(f"p{i:02d}", sku, n) for i, (sku, n) in enumerate(pods)]

    def layout(order: list[tuple[str, str, int]], cuts: list[int]) -> list[list[tuple[str, str, int]]]:
        return [[p for j, p in enumerate(order) if cuts[j] == h] for h in range(halls)]

    cuts = data.draw(st.lists(st.integers(0, halls - 1), min_size=len(named), max_size=len(named)), label="halls")
    shuffled = data.draw(st.permutations(named), label="order")
    recut = data.draw(st.lists(st.integers(0, halls - 1), min_size=len(named), max_size=len(named)), label="rehall")
    first = _fabric_figures(_phase_with_pods(layout(named, cuts)))
    assert first["compute"], "the generated phase must build a compute fabric"
    assert _fabric_figures(_phase_with_pods(layout(shuffled, recut))) == first


# -- a fabric that grows across phases (issue 13, item 8) -------------------------------------------------------------


@given(
    sus=st.integers(2, 48),
    su=st.sampled_from([16, 31, 32]),
    cuts=st.lists(st.floats(0.0, 1.0), max_size=4),
    ratio=st.sampled_from([1.0, 2.0]),
)
@settings(max_examples=150, deadline=None)
def test_stages_of_a_planned_fabric_sum_to_the_one_shot_fabric(
    sus: int, su: int, cuts: list[float], ratio: float
) -> None:
    """However the planned nodes are staged, the stages add up to the fabric built at once: no switch or cable more,
    none moved, and after the last stage nothing stays reserved that the one-shot fabric would use."""
    from kasbah.plan.fabric import plan_compute_fabric_stage

    planned = sus * su
    kw: dict[str, Any] = {"nics_per_node": 8, "nic_gbps": 400, "switch_id": "qm9700", "switch": QM9700}
    kw |= {"kind": "ib", "rail_optimised": True, "oversubscription": ratio, "nodes_per_scalable_unit": su}
    once = plan_compute_fabric(nodes=planned, **kw)
    if len(once.domains) != 1:
        return  # a planned fabric is one domain; larger ones are separate fabrics by design
    bounds = sorted({0, planned, *(round(c * sus) * su for c in cuts)})
    stages = [
        plan_compute_fabric_stage(nodes_before=a, nodes=b - a, planned_nodes=planned, **kw)
        for a, b in itertools.pairwise(bounds)
    ]
    for name in ("leaf", "spine", "core"):
        assert sum(s.totals.get(name, 0) for s in stages) == once.totals.get(name, 0), name
        assert sum(s.cables.get(name, 0) for s in stages) == once.cables.get(name, 0), name
    assert sum(s.transceivers for s in stages) == once.transceivers
    assert all(s.totals.get(t, 0) == 0 for s in stages[1:] for t in ("core",)), "cores are built up front"
    last = stages[-1].growth
    assert last is not None and last.nodes_after == planned
    spine = next(t for t in once.domains[0].tiers if t.name == "spine")
    assert last.spine_ports_reserved == spine.switches * spine.ports_down - spine.cables_down


def _two_phases(phase1: str, phase2: str, sus: tuple[int, int] = (8, 8)) -> tuple[Any, list[Any]]:
    """Phases 1 and 2 of the example stacks rebuilt as DGX B200 SUs of 32 nodes on QM9700, with compute options."""
    import re
    import shutil
    import tempfile
    from pathlib import Path

    from tests.conftest import REPO, plan_of

    def halls(hall: str, n: int) -> str:
        pods = "".join(f"      - {{id: {hall}-su{i:03d}, sku: dgx-b200, count: 32}}\n" for i in range(1, n + 1))
        return f"halls:\n  - id: {hall}\n    power_limit_mw: 16\n    cooling: direct_liquid\n    max_rack_kw: 140\n" + (
            "    pods:\n" + pods
        )

    with tempfile.TemporaryDirectory() as tmp:
        stacks = Path(tmp) / "stacks"
        shutil.copytree(REPO / "stacks", stacks)
        for name, hall, n, extra in (("phase1", "h1", sus[0], phase1), ("phase2", "h3", sus[1], phase2)):
            path = stacks / f"{name}.yaml"
            text = re.sub(r"(?ms)^halls:\n.*?^(?=networks:)", halls(hall, n), path.read_text(encoding="utf-8"))
            text = re.sub(
                r"(?m)^  compute: \{.*\}$",
                f'  compute: {{kind: infiniband-ndr, switch: qm9700, oversubscription: "1:1"{extra}}}',
                text,
            )
            path.write_text(text, encoding="utf-8")
        return plan_of(stacks / "phase2.yaml")


def test_two_chained_phases_of_8_sus_grow_one_16_su_fabric() -> None:
    plan, findings = _two_phases(", planned_nodes: 512", ", extends: phase1")
    assert plan is not None, [f.message for f in findings]
    assert not [f for f in findings if f.code.startswith("fabric.") and f.level >= Level.WARNING]
    first, second = (pf.compute[0] for pf in plan.fabrics)
    assert first.totals == {"leaf": 64, "spine": 128, "core": 64}, "phase 1 builds the 16-SU spines and cores"
    assert second.totals == {"leaf": 64, "spine": 0, "core": 0}, "phase 2 adds its leaves and cables them in"
    summed = {t: first.totals[t] + second.totals[t] for t in first.totals}
    assert summed == {"leaf": 128, "spine": 128, "core": 64}, "NVIDIA's 16-SU B200 design"
    assert first.growth and first.growth.spine_ports_reserved == 2048 and first.growth.core_ports_reserved == 2048
    assert second.growth and second.growth.extends == "phase1" and second.growth.spine_ports_reserved == 0


def test_separate_fabrics_are_noted_unless_asked_for() -> None:
    plan, findings = _two_phases("", "")
    assert plan is not None
    assert [pf.compute[0].totals for pf in plan.fabrics] == [{"leaf": 64, "spine": 32}] * 2
    assert [f.code for f in findings if f.code == "fabric.separate"] == ["fabric.separate"]
    _, findings = _two_phases("", ", separate: true")
    assert "fabric.separate" not in {f.code for f in findings}


@pytest.mark.parametrize(
    ("phase1", "phase2", "code", "path"),
    [
        ("", ", extends: phase1", "fabric.extends-unplanned", "networks.compute.extends"),
        (", planned_nodes: 300", ", extends: phase1", "fabric.over-reservation", "networks.compute.extends"),
        (", planned_nodes: 100", "", "fabric.over-reservation", "networks.compute.planned_nodes"),
        (
            ", planned_nodes: 512",
            ", extends: phase1, rail_optimised: false",
            "fabric.extends-mismatch",
            "networks.compute.extends",
        ),
    ],
)
def test_growth_errors_are_located(phase1: str, phase2: str, code: str, path: str) -> None:
    _, findings = _two_phases(phase1, phase2)
    found = [f for f in findings if f.code == code]
    assert found and found[0].level == Level.ERROR and found[0].path == path, [(f.code, f.path) for f in findings]
