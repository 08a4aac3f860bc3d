"""The scheduler's plan: blocks per NVLink domain named after racks, node names equal to the plan's hosts, cumulative
names across phases, controllers from the service hosts, and located findings for layouts that cannot work."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kasbah.findings import Level
from kasbah.plan.hosts import oob_blocks, pod_hosts
from kasbah.plan.slurm import range_hostlists, segment_max
from tests.conftest import REPO, codes, plan_of


def small_phase(folder: Path, racks: int = 3, scheduler: str = "", sku: str = "gb200-nvl72", pods: int = 1) -> Path:
    """A campus copy with a one-hall phase of `pods` pods of `racks` units each."""
    (folder / "campus.yaml").write_text((REPO / "stacks" / "campus.yaml").read_text(encoding="utf-8"))
    pod_lines = "".join(f"      - {{id: h1-su{i + 1:03d}, sku: {sku}, count: {racks}}}\n" for i in range(pods))
    text = (
        "campus: campus.yaml\nid: phase1\nready_by: 2025-12-31\n"
        "power: {budget_mw: 40, basis: it_load, design_pue: 1.2}\n"
        "halls:\n  - id: h1\n    power_limit_mw: 18\n    cooling: direct_liquid\n    max_rack_kw: 140\n    pods:\n"
        f"{pod_lines}"
        "networks:\n  compute: {kind: infiniband-ndr, switch: qm9700}\n  storage: {switch: sn5600}\n"
        "  oob: {switch: sn2201, aggregation: sn4600c}\n"
        "wan_uplinks:\n  - {cable: mtwa-north, gbps: 800, edge_router: edge1}\n"
        "  - {cable: atlas-offshore, gbps: 400, edge_router: edge2}\n"
        "  - {cable: mtwa-south, gbps: 400, edge_router: edge1}\n"
        "  - {cable: seamewe-3, gbps: 200, edge_router: edge2}\n"
        f"{scheduler}"
    )
    path = folder / "phase1.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def expand(expr: str) -> list[str]:
    """One Slurm hostlist range (`p-r01-n[01-18]` or a single name) expanded, zero padding kept."""
    m = re.fullmatch(r"(.*)\[(\d+)-(\d+)\]", expr)
    if not m:
        return [expr]
    width = len(m[2])
    return [f"{m[1]}{i:0{width}d}" for i in range(int(m[2]), int(m[3]) + 1)]


@pytest.fixture(scope="module")
def phase1():  # type: ignore[no-untyped-def]
    plan, findings = plan_of(REPO / "stacks" / "phase1.yaml")
    assert plan is not None and plan.slurm is not None, findings
    return plan


def test_phase1_has_one_block_of_18_trays_per_nvl72_rack_named_after_it(phase1) -> None:  # type: ignore[no-untyped-def]
    s = phase1.slurm
    assert len(s.blocks) == phase1.cumulative.racks == 224
    assert {b.size for b in s.blocks} == {18} and s.block_size == 18 and s.segment_max == 16
    blocks = oob_blocks(phase1.addresses.allocations)
    hosts = [h for pod in phase1.pods for h in pod_hosts(pod, blocks[pod.id])]
    assert [n.name for n in s.nodes] == [h.name for h in hosts]
    for h, n in zip(hosts, s.nodes, strict=True):
        assert n.block == f"{h.pod}-r{h.rack:02d}"
        assert n.gpus == 4 and n.cpus == 144
    assert [n for b in s.blocks for n in b.nodes] == [h.name for h in hosts]


def test_controllers_are_a_pair_of_service_hosts(phase1) -> None:  # type: ignore[no-untyped-def]
    ctl = [h for h in phase1.service_hosts if h.role == "scheduler"]
    assert [h.name for h in ctl] == phase1.slurm.controllers == ["slurm1", "slurm2"]
    assert len({h.address for h in phase1.service_hosts}) == len(phase1.service_hosts)


def test_later_phases_keep_earlier_blocks_and_only_append() -> None:
    plans = [plan_of(REPO / "stacks" / f"phase{i}.yaml")[0] for i in (1, 2, 3)]
    for before, after in itertools.pairwise(plans):
        assert before is not None and after is not None
        old = [(b.name, b.nodes) for b in before.slurm.blocks]
        new = [(b.name, b.nodes) for b in after.slurm.blocks]
        assert new[: len(old)] == old
        assert len(new) > len(old)
        assert after.slurm.controllers == before.slurm.controllers
        assert [p.name for p in after.slurm.partitions][: len(before.slurm.partitions)] == [
            p.name for p in before.slurm.partitions
        ]


@pytest.mark.parametrize("racks", [1, 2, 3, 5])
@pytest.mark.parametrize("pods", [1, 2])
def test_small_phases_plan(tmp_path: Path, racks: int, pods: int) -> None:
    plan, findings = plan_of(small_phase(tmp_path, racks=racks, pods=pods))
    assert plan is not None and plan.slurm is not None, [f.message for f in findings]
    assert not [f for f in findings if f.level >= Level.ERROR], [f.message for f in findings]
    assert len(plan.slurm.blocks) == racks * pods
    assert len(plan.slurm.nodes) == racks * pods * 18
    sizes = plan.slurm.block_sizes
    assert sizes[0] == 18 and all(b == 2 * a for a, b in itertools.pairwise(sizes))
    assert sizes[-1] <= 18 * racks * pods


def test_hgx_systems_get_one_block_per_scalable_unit_and_the_tree(tmp_path: Path) -> None:
    plan, findings = plan_of(small_phase(tmp_path, racks=8, sku="dgx-b200", pods=2))
    assert plan is not None and plan.slurm is not None, [f.message for f in findings]
    s = plan.slurm
    assert [b.name for b in s.blocks] == ["h1-su001", "h1-su002"]
    assert s.topology == "tree" and s.imex == "none"
    assert [sw.name for sw in s.switches] == ["h1-su001-leaf", "h1-su002-leaf", "fabric-phase1"]
    assert s.switches[-1].switches == ["h1-su001-leaf", "h1-su002-leaf"]
    assert "scheduler.node-figures" in codes(findings)


@pytest.mark.parametrize(
    ("block_size", "expected"), [(18, 16), (17, 16), (16, 8), (32, 16), (8, 4), (3, 2), (2, 1), (1, 1)]
)
def test_segment_max_survives_one_drained_node(block_size: int, expected: int) -> None:
    assert segment_max(block_size) == expected


@given(st.integers(1, 1000))
def test_segment_max_is_a_power_of_two_below_the_block(block_size: int) -> None:
    top = segment_max(block_size)
    assert top & (top - 1) == 0
    assert top == 1 or (top < block_size and 2 * top >= block_size)


@settings(max_examples=200)
@given(per_rack=st.integers(1, 40), first=st.integers(0, 200), size=st.integers(1, 200))
def test_hostlists_expand_to_exactly_the_nodes(per_rack: int, first: int, size: int) -> None:
    from kasbah.plan.hosts import host_name

    want = [host_name("p", i // per_rack + 1, i % per_rack + 1) for i in range(first, first + size)]
    got = [n for e in range_hostlists("p", per_rack, first, size) for n in expand(e)]
    assert got == want


BAD = [
    ("scheduler:\n  segment: 19\n", Level.ERROR, "scheduler.segment", "scheduler.segment"),
    ("scheduler:\n  segment: 18\n", Level.WARNING, "scheduler.segment", "scheduler.segment"),
    ("scheduler:\n  segment: 17\n", Level.INFO, "scheduler.segment", "scheduler.segment"),
    ("scheduler:\n  block_sizes: [20]\n", Level.ERROR, "scheduler.block-size", "scheduler.block_sizes[0]"),
    ("scheduler:\n  block_sizes: [16]\n", Level.WARNING, "scheduler.block-size", "scheduler.block_sizes[0]"),
    ("scheduler:\n  block_sizes: [18, 40]\n", Level.ERROR, "scheduler.block-size", "scheduler.block_sizes[1]"),
    ("scheduler:\n  block_sizes: [18, 54]\n", Level.ERROR, "scheduler.block-size", "scheduler.block_sizes[1]"),
    ("scheduler:\n  block_sizes: [18, 18]\n", Level.ERROR, "scheduler.block-size", "scheduler.block_sizes[1]"),
    (
        "scheduler:\n  partitions: {by: listed, listed: [{name: train, halls: [h9]}]}\n",
        Level.ERROR,
        "scheduler.partition-member",
        "scheduler.partitions.listed[0].halls[0]",
    ),
    (
        "scheduler:\n  partitions: {by: listed}\n",
        Level.ERROR,
        "scheduler.partitions",
        "scheduler.partitions.by",
    ),
    (
        "scheduler:\n  partitions: {by: listed, listed: [{name: a, default: true}, {name: b, default: true}]}\n",
        Level.ERROR,
        "scheduler.partitions",
        "scheduler.partitions.listed[1].default",
    ),
    (
        "scheduler:\n  partitions: {by: listed, listed: [{name: a, pods: [h1-su001]}]}\n",
        Level.WARNING,
        "scheduler.unpartitioned",
        "scheduler.partitions.listed",
    ),
    (
        "scheduler:\n  accounting: true\n  accounts: [{name: a, qos: [gold]}]\n",
        Level.ERROR,
        "scheduler.unknown-qos",
        "scheduler.accounts[0].qos[0]",
    ),
    (
        "scheduler:\n  accounting: true\n  accounts: [{name: a, parent: b}]\n",
        Level.ERROR,
        "scheduler.unknown-account",
        "scheduler.accounts[0].parent",
    ),
    ("scheduler:\n  qos: [{name: gold}]\n", Level.WARNING, "scheduler.accounting-off", "scheduler.accounting"),
    (
        "scheduler:\n  accounting: true\n"
        "  accounts: [{name: a, parent: b}, {name: b, parent: c}, {name: c, parent: a}]\n",
        Level.ERROR,
        "scheduler.account-loop",
        "scheduler.accounts[0].parent",
    ),
    (
        "scheduler:\n  accounting: true\n  accounts: [{name: x}, {name: a, parent: a}]\n",
        Level.ERROR,
        "scheduler.account-loop",
        "scheduler.accounts[1].parent",
    ),
    (
        "scheduler:\n  accounting: true\n  accounts: [{name: root}]\n",
        Level.ERROR,
        "scheduler.reserved-name",
        "scheduler.accounts[0].name",
    ),
    (
        "scheduler:\n  accounting: true\n  qos: [{name: gold}, {name: normal, priority: 10}]\n",
        Level.ERROR,
        "scheduler.reserved-name",
        "scheduler.qos[1].name",
    ),
]


@given(st.permutations(["a", "b", "c", "d", "e"]), st.data())
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_accounts_come_parents_first_in_any_spec_order(tmp_path: Path, names: list[str], data: st.DataObject) -> None:
    """sacctmgr adds an account only under an existing parent: the plan orders any forest of accounts parents first."""
    parents = {n: data.draw(st.sampled_from([None, *names[:i]])) for i, n in enumerate(names)}  # a forest
    order = data.draw(st.permutations(names))
    items = ", ".join(f"{{name: {n}" + (f", parent: {parents[n]}}}" if parents[n] else "}") for n in order)
    folder = tmp_path / "-".join(order)
    folder.mkdir(exist_ok=True)
    plan, findings = plan_of(small_phase(folder, scheduler=f"scheduler:\n  accounting: true\n  accounts: [{items}]\n"))
    assert plan is not None and plan.slurm is not None, [f.message for f in findings]
    got = [a.name for a in plan.slurm.accounts]
    assert sorted(got) == sorted(names)
    assert all(a.parent is None or got.index(a.parent) < got.index(a.name) for a in plan.slurm.accounts)


@pytest.mark.parametrize(("section", "level", "code", "path"), BAD)
def test_layouts_that_cannot_work_are_located_findings(
    tmp_path: Path, section: str, level: Level, code: str, path: str
) -> None:
    spec = small_phase(tmp_path, racks=2, pods=2, scheduler=section)
    _, findings = plan_of(spec)
    hits = [f for f in findings if f.code == code]
    assert hits, [f.message for f in findings]
    f = hits[0]
    assert f.level == level and f.path == path and f.file and f.file.endswith("phase1.yaml") and f.line
    worst = max((f.level for f in findings if f.code.startswith("scheduler")), default=Level.INFO)
    assert worst == level


@pytest.mark.parametrize("section", ["", "scheduler:\n  segment: 16\n", "scheduler:\n  block_sizes: [18, 36]\n"])
def test_good_layouts_have_no_scheduler_findings(tmp_path: Path, section: str) -> None:
    _, findings = plan_of(small_phase(tmp_path, racks=2, pods=2, scheduler=section))
    assert not [f for f in findings if f.code.startswith("scheduler")]


@pytest.mark.parametrize(
    "section",
    [
        "scheduler:\n  segment: 0\n",
        "scheduler:\n  imex: shared\n",
        "scheduler:\n  cluster_name: Big-Cluster\n",
        "scheduler:\n  partitions: {by: rack}\n",
        "scheduler:\n  segmnt: 16\n",
    ],
)
def test_bad_values_are_spec_errors(tmp_path: Path, section: str) -> None:
    from kasbah.findings import SpecError
    from kasbah.spec.load import load_spec

    with pytest.raises(SpecError) as exc:
        load_spec(small_phase(tmp_path, scheduler=section))
    assert any(f.path.startswith("scheduler") for f in exc.value.findings)


def test_disabled_scheduler_plans_and_renders_nothing(tmp_path: Path) -> None:
    from kasbah.render import render

    plan, _ = plan_of(small_phase(tmp_path, scheduler="scheduler:\n  enabled: false\n"))
    assert plan is not None and plan.slurm is None
    assert not [h for h in plan.service_hosts if h.role == "scheduler"]
    assert not [p for p in render(plan) if p.startswith("slurm/")]


def test_partitions_by_hall_and_listed(tmp_path: Path) -> None:
    plan, _ = plan_of(small_phase(tmp_path, racks=1, pods=2, scheduler="scheduler:\n  partitions: {by: hall}\n"))
    assert plan is not None
    assert [(p.name, p.pods, p.default) for p in plan.slurm.partitions] == [("h1", ["h1-su001", "h1-su002"], True)]
    listed = (
        "scheduler:\n  partitions: {by: listed, listed: [{name: a, pods: [h1-su002], default: true}, {name: all}]}\n"
    )
    (tmp_path / "b").mkdir()
    plan, _ = plan_of(small_phase(tmp_path / "b", racks=1, pods=2, scheduler=listed))
    assert plan is not None
    assert [(p.name, p.pods, p.features) for p in plan.slurm.partitions] == [
        ("a", ["h1-su002"], ["h1-su002"]),
        ("all", ["h1-su001", "h1-su002"], []),
    ]


def test_a_router_named_like_a_controller_is_a_located_clash(tmp_path: Path) -> None:
    spec = small_phase(tmp_path, racks=1)
    text = spec.read_text().replace("edge_router: edge2", "edge_router: slurm2")
    spec.write_text(text)
    _, findings = plan_of(spec)
    clashes = [f for f in findings if f.code.startswith("names.") and "slurm2" in f.message]
    assert clashes and clashes[0].level == Level.ERROR, [f.message for f in findings]
    assert "Slurm controller" in clashes[0].message


def test_a_domain_that_does_not_divide_the_trays_is_warned_and_never_crashes(tmp_path: Path) -> None:
    import json

    from kasbah.catalog import builtin_catalog

    entry = builtin_catalog().systems["gb200-nvl72"].model_dump(mode="json", exclude_none=True)
    entry |= {"name": "odd", "nvlink_domain_gpus": 64}
    spec = small_phase(tmp_path, racks=1, sku="odd-nvl")
    campus = tmp_path / "campus.yaml"
    campus.write_text(campus.read_text() + f"catalog: {{systems: {{odd-nvl: {json.dumps(entry)}}}}}\n")
    plan, findings = plan_of(spec)
    assert plan is not None and plan.slurm is not None, [f.message for f in findings]
    assert "internal.crash" not in codes(findings)
    assert [b.size for b in plan.slurm.blocks] == [16]
    assert "scheduler.unblocked-nodes" in codes(findings)
