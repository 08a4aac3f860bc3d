"""The lab's topology in the plan, the stand-in routers' configs and the lab's refusals, without starting anything."""

from __future__ import annotations

import os
from ipaddress import IPv4Interface, IPv4Network
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from kasbah import netns
from kasbah.cli import app
from kasbah.lab import checks, lifecycle
from kasbah.lab.routers import router_config
from kasbah.lab.routing import cut_ruleset
from kasbah.lab.state import LabState
from kasbah.plan.derive import Plan
from kasbah.plan.lab import CAMPUS_NODE, hub_node, ls_node
from tests.conftest import REPO, codes, edit, plan_of

PHASES = ["phase1", "phase2", "phase3"]


@pytest.fixture(scope="module", params=PHASES)
def plan(request: pytest.FixtureRequest) -> Plan:
    the_plan, _ = plan_of(REPO / "stacks" / f"{request.param}.yaml")
    assert the_plan is not None
    return the_plan


def test_every_session_is_a_circuit_with_the_plans_addresses(plan: Plan) -> None:
    circuits = {(lk.a, lk.cable): lk for lk in plan.lab.links if lk.kind == "circuit"}
    sessions = [s for r in plan.edge.routers for s in r.sessions]
    assert sorted(circuits) == sorted((s.edge_router, s.cable) for s in sessions)
    for s in sessions:
        lk = circuits[(s.edge_router, s.cable)]
        assert (lk.a, lk.b) == (s.edge_router, ls_node(s.cable))
        assert IPv4Interface(lk.a_address) == IPv4Interface(f"{s.local_address}/31")
        assert IPv4Interface(lk.b_address) == IPv4Interface(f"{s.peer_address}/31")
        assert plan.lab.node(ls_node(s.cable)).asn == s.peer_asn


def test_each_lit_cable_reaches_its_far_end_and_every_terrestrial_leg_is_linked(plan: Plan) -> None:
    far_end = {c.id: c.far_end for c in plan.wan.cables}
    lit = {s.cable for r in plan.edge.routers for s in r.sessions}
    cables = {lk.cable: lk for lk in plan.lab.links if lk.kind == "cable"}
    assert set(cables) == lit
    assert len(cables) == len([lk for lk in plan.lab.links if lk.kind == "cable"])
    for cable, lk in cables.items():
        assert (lk.a, lk.b) == (ls_node(cable), hub_node(far_end[cable]))
    terrestrial = [(lk.a, lk.b) for lk in plan.lab.links if lk.kind == "terrestrial"]
    legs = yaml.safe_load((REPO / "stacks" / "campus.yaml").read_text())["wan"]["terrestrial"]
    assert terrestrial == [(hub_node(t["a"]), hub_node(t["b"])) for t in legs]
    hubs = {n.id for n in plan.lab.nodes if n.kind == "hub"}
    assert {end for pair in terrestrial for end in pair} <= hubs


def test_addresses_are_unique_and_emulated_links_come_from_the_lab_block(plan: Plan) -> None:
    ends = [a for lk in plan.lab.links for a in (lk.a_address, lk.b_address)]
    assert len(ends) == len(set(ends))
    block = IPv4Network("198.51.100.0/24")
    for lk in plan.lab.links:
        if lk.kind not in ("circuit", "interconnect"):  # those two are the campus's own, from the address plan
            assert IPv4Interface(lk.a_address).ip in block and IPv4Interface(lk.b_address).ip in block
            assert IPv4Interface(lk.a_address).network == IPv4Interface(lk.b_address).network


def test_interface_names_fit_linux_and_are_unique_per_router(plan: Plan) -> None:
    seen: dict[str, set[str]] = {}
    for lk in plan.lab.links:
        for node, ifname in ((lk.a, lk.a_if), (lk.b, lk.b_if)):
            assert len(ifname) <= 15
            assert ifname not in seen.setdefault(node, set()), f"{node} has two {ifname}"
            seen[node].add(ifname)


def test_the_lab_builds_the_planned_interconnect_and_the_campus_core_reaches_every_edge(plan: Plan) -> None:
    edges = [r.id for r in plan.edge.routers]
    pairs = {frozenset((lk.a, lk.b)) for lk in plan.lab.links if lk.kind == "interconnect"}
    assert pairs == {frozenset((a, b)) for i, a in enumerate(edges) for b in edges[i + 1 :]}
    # exactly the plan's links: same ends, port names and addresses (the rendered OSPF config names those ports)
    built = [(lk.id, lk.a, lk.a_if, lk.a_address, lk.b, lk.b_if, lk.b_address) for lk in plan.lab.links]
    planned = [(i.id, i.a, i.a_if, i.a_address, i.b, i.b_if, i.b_address) for i in plan.edge.interconnects]
    assert [b for b in built if b[0] in {i.id for i in plan.edge.interconnects}] == planned
    core = {lk.b for lk in plan.lab.links if lk.kind == "core" and lk.a == CAMPUS_NODE}
    assert core == set(edges)
    monitoring = next(h for h in plan.service_hosts if h.role == "monitoring")
    assert plan.lab.probe_source == monitoring.address
    assert plan.lab.node(CAMPUS_NODE).addresses == [f"{monitoring.address}/32"]


def test_hubs_announce_their_regions_and_have_distinct_ases(plan: Plan) -> None:
    hubs = [n for n in plan.lab.nodes if n.kind == "hub"]
    assert len({h.asn for h in hubs}) == len(hubs)
    for region in plan.edge.regions:
        spec_hubs = next(r for r in plan.wan.regions if r.id == region.region)
        assert spec_hubs
        for prefix in region.prefixes:
            announcers = {h.name for h in hubs if prefix in h.announce}
            assert announcers, f"no hub announces {prefix}"


def test_router_ids_are_unique(plan: Plan) -> None:
    ids = [n.router_id for n in plan.lab.nodes if n.kind != "campus"]
    assert len(ids) == len(set(ids)) and None not in ids


def test_stand_in_configs_are_valid_frr(plan: Plan) -> None:
    passwords = {s.password_var: f"pw-{s.cable}" for r in plan.edge.routers for s in r.sessions}
    for node in plan.lab.nodes:
        if node.kind not in ("landing_station", "hub"):
            continue
        text = router_config(plan, node, passwords)
        ok, message = netns.check_config(text)
        assert ok, f"{node.id}: {message}"
        assert "bfd profile kasbah-lab" in text
        if node.kind == "landing_station":
            for session in (s for r in plan.edge.routers for s in r.sessions if s.cable == node.cable):
                assert f"neighbor {session.local_address} password pw-{node.cable}\n" in text
                assert f"neighbor {session.local_address} remote-as {plan.edge.asn}\n" in text
            assert "route-map TO-HUB out" in text  # the station is no transit for the campus
        else:
            for prefix in node.announce:
                assert f"  network {prefix}\n" in text


def test_a_lab_block_too_small_is_a_located_error(stacks: Path) -> None:
    edit(stacks / "campus.yaml", "object_storage:", "lab:\n  links: 198.51.100.0/28\nobject_storage:")
    _, findings = plan_of(stacks / "phase1.yaml")
    assert "lab.links_exhausted" in codes(findings)
    finding = next(f for f in findings if f.code == "lab.links_exhausted")
    assert finding.path and "lab" in str(finding.path) and finding.line


def test_cut_ruleset_drops_both_directions_on_the_cables_interfaces() -> None:
    text = cut_ruleset(["c0", "w0"])
    assert 'iifname { "c0", "w0" } drop' in text and 'oifname { "c0", "w0" } drop' in text
    assert text.count("hook ") == 3


def test_an_interconnect_cut_drops_one_port_in_its_own_table_at_the_first_end(plan: Plan) -> None:
    from kasbah.lab import routing

    tables = set()
    for link in plan.edge.interconnects:
        assert routing.interconnect(plan, link.id) == link
        table = routing.interconnect_table(link)
        assert table.startswith(routing.CUT_TABLE + "_") and table.replace("_", "").isalnum()
        tables.add((link.a, table))
        text = routing.cut_ruleset([link.a_if], table)
        assert text.startswith(f"table inet {table} {{") and f'iifname {{ "{link.a_if}" }} drop' in text
    assert len(tables) == len(plan.edge.interconnects)  # two cut links of one router lift separately
    assert routing.interconnect(plan, "edge1/edge9/1") is None


def test_ping_gap_is_the_longest_silence_after_the_cut() -> None:
    lines = [f"[{100 + i * 0.01:.6f}] 64 bytes from 198.18.0.1: icmp_seq={i + 1} ttl=62 time=0.1 ms" for i in range(10)]
    lines += [
        f"[{100.5 + i * 0.01:.6f}] 64 bytes from 198.18.0.1: icmp_seq={i + 51} ttl=62 time=0.1 ms" for i in range(5)
    ]
    gap, lost = checks._gap("\n".join(lines), since=100.05)
    assert gap == pytest.approx(0.41, abs=1e-6)
    assert lost == 40


def test_preflight_refuses_without_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(lifecycle.LabError, match="needs root"):
        lifecycle.preflight()


def test_preflight_names_the_missing_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(lifecycle, "REQUIRED", {"/nonexistent/kasbah-test-binary": "kasbah-test-package"})
    monkeypatch.setattr(lifecycle.shutil, "which", lambda _name: None)
    with pytest.raises(lifecycle.LabError, match="apt-get install kasbah-test-package"):
        lifecycle.preflight()


def _state(directory: Path, status: str, pid: int) -> LabState:
    state = LabState(dir=str(directory), spec="stacks/phase1.yaml", phase="phase1", prefix="kx", pid=pid)
    state.status = status
    directory.mkdir(parents=True, exist_ok=True)
    state.save()
    return state


def test_a_lab_already_up_is_refused(tmp_path: Path) -> None:
    _state(tmp_path / "lab", "up", os.getpid())
    with pytest.raises(lifecycle.LabError, match=r"already up .* `kasbah lab down` first"):
        lifecycle._check_free(tmp_path / "lab", "kx")


def test_a_half_started_lab_is_named_as_such(tmp_path: Path) -> None:
    _state(tmp_path / "lab", "starting", 2**22 + 12345)  # a PID that does not run
    with pytest.raises(lifecycle.LabError, match=r"half-started .* `kasbah lab down`"):
        lifecycle._check_free(tmp_path / "lab", "kx")


def test_a_directory_that_is_not_a_lab_is_left_alone(tmp_path: Path) -> None:
    (tmp_path / "lab").mkdir()
    (tmp_path / "lab" / "precious.txt").write_text("keep me")
    with pytest.raises(lifecycle.LabError, match="holds no lab"):
        lifecycle._check_free(tmp_path / "lab", "kx")
    assert (tmp_path / "lab" / "precious.txt").exists()


def test_state_survives_a_round_trip(tmp_path: Path) -> None:
    state = _state(tmp_path / "lab", "starting", 42)
    state.namespaces.append("kx-edge1")
    state.add_process("zebra@edge1", 4242, "kx-edge1", tmp_path / "z.log", expect="zebra")
    again = LabState.load(tmp_path / "lab")
    assert again == state


def test_commands_without_a_lab_say_so(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KASBAH_LAB_DIR", str(tmp_path / "none"))
    runner = CliRunner()
    for args in (["lab", "status"], ["lab", "cut", "mtwa-north"], ["lab", "drill"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, args
        assert "no lab is up" in result.output
    result = runner.invoke(app, ["lab", "down"])
    assert result.exit_code == 0 and "no lab to take down" in result.output
    result = runner.invoke(app, ["verify", str(REPO / "stacks" / "phase1.yaml")])
    assert result.exit_code == 2 and "--lab" in result.output
