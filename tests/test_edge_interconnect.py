"""The edge interconnect in the plan: a full mesh that survives any one link cut, addressed and named in build order."""

from __future__ import annotations

from functools import cache
from ipaddress import IPv4Network

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kasbah.plan.derive import Plan
from kasbah.plan.edge import InterconnectSlot, interconnect_slots, plan_interconnects
from tests.conftest import REPO, edit, plan_of

PHASES = ("phase1", "phase2", "phase3")


@cache
def plan(phase: str) -> Plan:
    p, _ = plan_of(REPO / "stacks" / f"{phase}.yaml")
    assert p is not None
    return p


# Edge routers in build order, each with the index of the phase that built it (non-decreasing).
builds = st.lists(st.integers(min_value=0, max_value=3), min_size=1, max_size=7).map(
    lambda phases: {f"edge{i + 1}": f"p{ph}" for i, ph in enumerate(sorted(phases))}
)


def connected(nodes: set[str], links: list[InterconnectSlot]) -> bool:
    if not nodes:
        return True
    seen, todo = set(), [next(iter(sorted(nodes)))]
    while todo:
        n = todo.pop()
        if n in seen:
            continue
        seen.add(n)
        todo += [s.b if s.a == n else s.a for s in links if n in (s.a, s.b)]
    return seen == nodes


@given(builds)
def test_every_pair_is_linked_and_no_single_cut_partitions_the_edge(router_phase: dict[str, str]) -> None:
    slots = interconnect_slots(router_phase)
    routers = list(router_phase)
    pairs = {frozenset((s.a, s.b)) for s in slots}
    assert pairs == {frozenset((a, b)) for i, a in enumerate(routers) for b in routers[i + 1 :]}
    for i in range(len(slots)):
        assert connected(set(routers), slots[:i] + slots[i + 1 :]), f"cutting {slots[i]} partitions {routers}"


@given(builds)
def test_a_later_phase_only_adds_links(router_phase: dict[str, str]) -> None:
    """The links (and so their /31s and port names) of phases 1..N do not depend on later phases."""
    full = plan_interconnects(
        router_phase, {s.scope: f"100.64.{i}.0/31" for i, s in enumerate(interconnect_slots(router_phase))}
    )
    for last in sorted(set(router_phase.values())):
        earlier = {r: p for r, p in router_phase.items() if p <= last}
        blocks = {s.scope: f"100.64.{i}.0/31" for i, s in enumerate(interconnect_slots(router_phase))}
        part = plan_interconnects(earlier, blocks)
        assert part == full[: len(part)]
        assert all(i.phase <= last for i in part)


@given(builds)
def test_port_names_are_unique_per_router_and_counted_in_build_order(router_phase: dict[str, str]) -> None:
    slots = interconnect_slots(router_phase)
    links = plan_interconnects(router_phase, {s.scope: "100.64.0.0/31" for s in slots})
    for router in router_phase:
        names = [i.a_if if i.a == router else i.b_if for i in links if router in (i.a, i.b)]
        assert names == [f"ic{k}" for k in range(len(names))]
        assert all(len(n) <= 15 for n in names)


@pytest.mark.parametrize("phase", PHASES)
def test_interconnect_addresses_come_from_the_wan_links_block_in_build_order(phase: str) -> None:
    p = plan(phase)
    wan_links = IPv4Network(next(s.cidr for s in p.addresses.supernets if s.network == "wan_links"))
    used = [IPv4Network(s.link_cidr) for r in p.edge.routers for s in r.sessions]
    for i in p.edge.interconnects:
        net = IPv4Network(i.link_cidr)
        assert net.prefixlen == 31 and net.subnet_of(wan_links)
        assert (i.a_address, i.b_address) == (f"{net[0]}/31", f"{net[1]}/31")
        assert not any(net.overlaps(u) for u in used)
        used.append(net)
        # allocated in the phase of the later router of the pair, as `interconnect a/b/n`
        alloc = next(a for a in p.addresses.allocations if a.scope == f"interconnect {i.id}")
        assert alloc.cidr == i.link_cidr and alloc.phase == i.phase
        assert i.phase == max(r.phase for r in p.edge.routers if r.id in (i.a, i.b))


def test_earlier_phases_keep_their_interconnect_as_built() -> None:
    p1, p2, p3 = (plan(x).edge.interconnects for x in PHASES)
    assert p3[: len(p2)] == p2 and p2[: len(p1)] == p1
    # two edge routers alone get two parallel links; the third router makes a full mesh of single links
    assert [i.id for i in p1] == ["edge1/edge2/1", "edge1/edge2/2"]
    assert [i.id for i in p3[len(p2) :]] == ["edge1/edge4/1", "edge2/edge4/1", "edge3/edge4/1"]


def test_a_routers_uplinks_keep_their_addresses_when_a_later_phase_adds_an_edge_router() -> None:
    first = {(s.edge_router, s.cable): s.link_cidr for r in plan("phase1").edge.routers for s in r.sessions}
    later = {(s.edge_router, s.cable): s.link_cidr for r in plan("phase3").edge.routers for s in r.sessions}
    assert first == {k: later[k] for k in first}


def test_a_wan_links_block_too_small_for_the_interconnect_is_a_located_error(stacks) -> None:
    # four uplink /31s fit in a /29, the interconnect's two do not
    edit(stacks / "campus.yaml", "wan_links: 100.64.0.0/22", "wan_links: 100.64.0.0/29")
    p, findings = plan_of(stacks / "phase1.yaml")
    finding = next(f for f in findings if f.code == "addresses.exhausted")
    assert "interconnect edge1/edge2/1" in finding.message and finding.line and "wan_links" in str(finding.path)
    assert p is None or "interconnect edge1/edge2/1" not in {a.scope for a in p.addresses.allocations}
