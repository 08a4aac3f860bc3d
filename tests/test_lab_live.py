"""The lab for phase 1, for real: `kasbah lab up`, status, verify, the cable-cut drill, cut/restore and down.

One lab per module (it takes about 40 s to start): 16 namespaces, FRR in 15, the edges configured by the wan_edge role
through `kasbah apply`, Prometheus/Alertmanager/blackbox in the campus namespace, an FRR exporter per edge router,
a webhook sink for the WAN owner's receiver, moto S3 on loopback. The example campus names no alert receiver, so the
lab runs a copy of the example specs whose campus gives the WAN owner a page and a ticket webhook with a vault token
(as a campus would). The drill cuts the cable Europe prefers and checks the issue's targets: traffic on the plan's
next (diverse) path within 1 s, the page at the WAN owner's receiver with the vault's token within 10 s, WanPathDown
for that cable firing and silenced by the page, the preferred path back after the restore. The last test takes the
lab down and checks that no namespace, process or file is left.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kasbah import netns
from kasbah.lab import checks, interconnect, routing, webhook
from kasbah.lab.state import LabState
from kasbah.plan.derive import Plan
from tests.conftest import REPO, STOCK_MONITORING, plan_of
from tests.test_lab_crash import running_from

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root (network namespaces, FRR)")


def lab_stacks(base: Path) -> Path:
    """A copy of the example specs as they stand: their campus pages the WAN owner, as the main job's does."""
    stacks = base / "stacks"
    shutil.copytree(REPO / "stacks", stacks)
    assert "vault_alert_token_wan" in STOCK_MONITORING
    return stacks


@dataclass
class Lab:
    plan: Plan
    env: dict[str, str]
    directory: Path
    prefix: str
    up: subprocess.CompletedProcess[str]
    pids: list[int]

    def kasbah(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "kasbah.cli", *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=timeout,
            check=False,
            cwd=REPO,
        )

    def state(self) -> LabState:
        state = LabState.load(self.directory)
        assert state is not None
        return state

    def namespaces(self) -> set[str]:
        return {ns for ns in netns.namespaces() if ns.startswith(f"{self.prefix}-")}


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    base = Path(tempfile.mkdtemp(prefix="kasbah-lab-test-"))  # not pytest's tmp: user frr must reach it
    base.chmod(0o755)
    global SPEC
    SPEC = lab_stacks(base) / "phase1.yaml"
    plan, _ = plan_of(SPEC)
    assert plan is not None
    directory = base / "lab"
    prefix = f"kt{os.getpid() % 100000}"
    env = {**os.environ, "KASBAH_LAB_DIR": str(directory), "KASBAH_LAB_PREFIX": prefix, "COLUMNS": "200"}
    up = subprocess.run(
        [sys.executable, "-m", "kasbah.cli", "lab", "up", str(SPEC)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
        cwd=REPO,
    )
    state = LabState.load(directory)
    the_lab = Lab(plan, env, directory, prefix, up, [p.pid for p in state.processes] if state else [])
    try:
        yield the_lab
    finally:
        the_lab.kasbah("lab", "down")
        shutil.rmtree(base, ignore_errors=True)


def test_lab_up_succeeds_and_records_everything(lab: Lab) -> None:
    assert lab.up.returncode == 0, lab.up.stdout + lab.up.stderr
    print(lab.up.stdout)
    state = lab.state()
    assert state.status == "up" and state.phase == "phase1"
    assert set(state.namespaces) == lab.namespaces() == {f"{lab.prefix}-{n.id}" for n in lab.plan.lab.nodes}
    assert {p.name.split("@")[0] for p in state.processes} == {
        "zebra",
        "bgpd",
        "bfdd",
        "ospfd",  # the edges' interconnect IGP, from their rendered config
        "prometheus",
        "alertmanager",
        "blackbox",
        "moto",
        "step",
        "frr_exporter",
        "webhook",
    }
    assert sorted(p.name for p in state.processes if p.name.startswith(("frr_exporter@", "webhook@"))) == [
        *(f"frr_exporter@{r.id}" for r in lab.plan.edge.routers),
        "webhook@wan",
    ]
    steps = [p for p in state.processes if p.name.startswith("step@")]
    assert steps and not any(netns.pid_alive(p.pid) for p in steps)
    assert all(netns.pid_alive(p.pid) for p in state.processes if not p.name.startswith("step@"))


def test_the_edges_were_configured_by_the_stack_steps(lab: Lab) -> None:
    """Each edge router and the monitoring host by its own step of phase 1's stack, through `kasbah apply --build`."""
    run = json.loads((lab.directory / "stacks" / "phase1.run.json").read_text())
    reports = [json.loads(p.read_text()) for p in sorted((lab.directory / "stacks" / "build" / "runs").rglob("*.json"))]
    assert reports and all(r["status"] == "successful" for r in reports)
    assert {t for r in reports for t in r["tags"]} == {"wan_edge", "monitoring"}
    hosts = {h for r in reports for h in r["hosts"]}
    assert {r.id for r in lab.plan.edge.routers} | {"mon1"} == hosts
    ran = {s["name"] for s in run["steps"] if s["outcome"] == "ran"}
    assert len(ran) == len(reports)
    rendered = (lab.directory / "stacks" / "build" / "phase1" / "frr" / "edge1.conf.j2").read_text()
    assert rendered == (lab.directory / "build" / "phase1" / "frr" / "edge1.conf.j2").read_text()
    deployed = (lab.directory / "frr" / "edge1" / "etc" / "frr.conf").read_text()
    # The deployed file is the render with only the vault variables filled in.
    pattern = re.escape(rendered).replace(r"\{\{\ ", "{{ ").replace(r"\ \}\}", " }}")
    pattern = re.sub(r"\{\{ vault_bgp_password_[a-z0-9_]+ \}\}", "[0-9a-f]{24}", pattern)
    assert re.fullmatch(pattern, deployed), "edge1's frr.conf is not its render"


def test_sessions_bfd_and_region_paths_are_as_planned(lab: Lab) -> None:
    result = lab.kasbah("lab", "status", "--json")
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    sessions = {(s["edge_router"], s["cable"]): s for s in status["sessions"]}
    assert len(sessions) == sum(len(r.sessions) for r in lab.plan.edge.routers)
    for s in sessions.values():
        assert (s["state"], s["bfd"]) == ("Established", "up"), s
        assert s["prefixes"] == sum(len(r.prefixes) for r in lab.plan.edge.regions)
    for region in status["regions"]:
        plan_choice = next(r for r in lab.plan.edge.regions if r.region == region["region"]).preference[0].cable
        assert region["cable"] == region["expected"] == plan_choice
    assert status["buckets"] == []
    assert status["cuts"] == []
    # The interconnect: OSPF Full at both ends of every planned link, every iBGP session up with its BFD.
    links = {i["link"]: i for i in status["interconnects"]}
    assert set(links) == {i.id for i in lab.plan.edge.interconnects} and links
    assert all(i["a_full"] and i["b_full"] and not i["cut"] for i in links.values()), links
    routers = [r.id for r in lab.plan.edge.routers]
    assert {(s["router"], s["peer"]) for s in status["ibgp"]} == {(a, b) for a in routers for b in routers if a != b}
    assert all((s["state"], s["bfd"]) == ("Established", "up") for s in status["ibgp"]), status["ibgp"]


def test_verify_lab_conforms(lab: Lab) -> None:
    result = lab.kasbah("verify", str(SPEC), "--lab")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "conforms" in result.stdout


def test_ibgp_comes_up_over_the_planned_interconnect(lab: Lab) -> None:
    """OSPF Full on every planned interconnect port, each loopback learnt by OSPF over those links (no route the lab
    made), every iBGP session Established with its multihop BFD up; prints how long after the config it came up."""
    plan, state = lab.plan, lab.state()
    instances = checks.network.frr_instances(state)
    loopbacks = {r.id: r.loopback.split("/")[0] for r in plan.edge.routers}
    for router in plan.edge.routers:
        inst = instances[router.id]
        ports = {i.a_if if i.a == router.id else i.b_if for i in plan.edge.interconnects_of(router.id)}
        assert routing.ospf_full(inst) == ports, router.id
        # the addresses on each port are the plan's
        for link in plan.edge.interconnects_of(router.id):
            ifname, address = (link.a_if, link.a_address) if link.a == router.id else (link.b_if, link.b_address)
            shown = json.loads(netns.run(["ip", "-j", "addr", "show", "dev", ifname], netns=inst.netns))
            assert address in {f"{a['local']}/{a['prefixlen']}" for a in shown[0]["addr_info"]}
        peers = inst.bgp_peers()
        bfd = {p["peer"]: p for p in inst.query("show bfd peers json")}
        written = max((lab.directory / "frr" / r / "etc" / "frr.conf").stat().st_mtime for r in loopbacks)
        for other, address in loopbacks.items():
            if other == router.id:
                continue
            routes = json.loads(netns.run(["ip", "-j", "route", "show", f"{address}/32"], netns=inst.netns))
            assert routes and all(r.get("protocol") == "ospf" for r in routes), routes
            hops = {h.get("dev") for r in routes for h in (r.get("nexthops") or [r])}
            assert hops <= ports, hops
            assert peers[address]["state"] == "Established"
            assert bfd[address]["status"] == "up" and bfd[address]["multihop"] is True
            assert bfd[address]["detect-multiplier"] == plan.edge.ibgp_bfd.multiplier
            assert "connectionsDropped" in inst.query("show bgp neighbors json")[address]  # what the cut check reads
            up_at = peers[address].get("peerUptimeEstablishedEpoch")
            if up_at:
                print(f"iBGP {router.id} -> {other}: Established {up_at - written:.1f} s after the last frr.conf")


def test_each_region_stays_reachable_when_an_interconnect_link_is_cut(lab: Lab) -> None:
    """Every interconnect link cut in turn: iBGP never drops, every region keeps answering the campus."""
    results = interconnect.check(lab.plan, lab.state(), say=print)
    assert [r.link for r in results] == [i.id for i in lab.plan.edge.interconnects]
    for r in results:
        gaps = ", ".join(
            f"{region} {g if g is None else round(g, 3)} s ({n} lost)" for region, (g, n) in r.gaps.items()
        )
        print(
            f"interconnect {r.link} cut: OSPF adjacency down after {r.ospf_down_s} s, iBGP lost {r.ibgp_lost}, "
            f"longest ping gap per region: {gaps}; back {r.restore_s} s after the restore"
        )
        assert r.errors == [], r.errors
        assert r.ibgp_lost == []
        assert r.ospf_down_s is not None and r.ospf_down_s < 1.0
        assert set(r.gaps) == {reg.region for reg in lab.plan.edge.regions}
        assert r.worst_gap_s is not None and r.worst_gap_s < 1.0
        assert r.restore_s is not None
    assert lab.state().cuts == {}


def test_an_interconnect_link_is_cut_and_restored_from_the_cli(lab: Lab) -> None:
    link = lab.plan.edge.interconnects[0]
    result = lab.kasbah("lab", "cut", link.id)
    assert result.returncode == 0, result.stderr
    state = lab.state()
    assert link.id in state.cuts
    instances = checks.network.frr_instances(state)
    assert checks._poll(lambda: link.a_if not in routing.ospf_full(instances[link.a]), 5) is not None
    # `lab status` shows the link cut and its adjacency down; `verify --lab` names both and fails.
    shown = {i["link"]: i for i in json.loads(lab.kasbah("lab", "status", "--json").stdout)["interconnects"]}
    assert shown[link.id]["cut"] and not shown[link.id]["a_full"], shown[link.id]
    text = lab.kasbah("lab", "status").stdout
    assert "Edge interconnect" in text and "not Full" in text
    verify = lab.kasbah("verify", str(SPEC), "--lab")
    assert verify.returncode != 0
    assert f"{link.a}: OSPF on interconnect {link.id} ({link.a_if}) is not Full" in verify.stdout, verify.stdout
    restore = lab.kasbah("lab", "restore", link.id)
    assert restore.returncode == 0, restore.stderr
    assert link.id not in lab.state().cuts
    assert link.a_if in routing.ospf_full(instances[link.a])


def test_a_second_lab_up_is_refused_and_changes_nothing(lab: Lab) -> None:
    before = lab.state()
    result = lab.kasbah("lab", "up", str(SPEC))
    assert result.returncode == 2
    assert "already up" in result.stderr and "kasbah lab down" in result.stderr
    assert lab.state() == before
    assert lab.namespaces() == set(before.namespaces)


def test_an_unknown_cable_is_refused_with_a_suggestion(lab: Lab) -> None:
    result = lab.kasbah("lab", "cut", "mtwa-nroth")
    assert result.returncode == 2
    assert "did you mean mtwa-north" in result.stderr
    assert lab.state().cuts == {}


def test_no_session_password_leaves_the_routers(lab: Lab) -> None:
    passwords = set()
    for conf in (lab.directory / "frr").glob("ls-*/etc/frr.conf"):
        assert conf.stat().st_mode & 0o077 == 0o040  # owner frr, group read only
        passwords |= set(re.findall(r" password (\S+)", conf.read_text()))
    assert len(passwords) == sum(len(r.sessions) for r in lab.plan.edge.routers)
    texts = [lab.up.stdout, lab.up.stderr, (lab.directory / "state.json").read_text()]
    for sub in ("logs", "stacks", "overlays", "build"):  # step logs, run reports, renders
        texts += [p.read_text(errors="replace") for p in (lab.directory / sub).rglob("*") if p.is_file()]
    assert any("--tags wan_edge" in t for t in texts)  # the step logs were read
    for password in passwords:
        assert not any(password in t for t in texts)


def test_drill_cut_the_cable_europe_prefers(lab: Lab) -> None:
    state = lab.state()
    europe = next(r for r in lab.plan.edge.regions if r.region == "europe")
    cable, fallback = europe.preference[0].cable, europe.preference[1].cable
    result = checks.drill(lab.plan, state, cable, wait_alert=True, say=print)
    print(
        f"drill {cable}: BFD detection {result.detect_s:.3f} s, failover {result.failover_s:.3f} s, "
        f"page {result.page_s} s ({result.page_alert}), "
        f"traffic gap {result.traffic_gap_s} s ({result.lost} pings lost), alert after {result.alert_s:.0f} s, "
        f"back {result.restore_s} s after the restore"
    )
    assert result.errors == []
    assert result.regions["europe"] == (cable, fallback)
    assert result.failover_s is not None and result.failover_s < 1.0
    assert result.traffic_gap_s is not None and result.traffic_gap_s < 1.0
    assert result.page_s is not None and 0 < result.page_s < checks.PAGE_TARGET_S
    assert result.page_alert == "WanBfdDown"
    # the example campus's own WAN page webhook (the lab only changes its host)
    wan = next(r for r in lab.plan.monitoring.receivers if r.owner == "wan")
    assert wan.page_url and result.page_receiver == urllib.parse.urlsplit(wan.page_url).path == "/hooks/wan/page"
    assert result.alert_s is not None
    assert result.probe_alert_inhibited is True
    # The sink saw the vault's token (as a digest) and never the token itself.
    token = json.loads((lab.directory / "vault.json").read_text())["vault_alert_token_wan"]
    records = (lab.directory / "webhooks" / "wan.jsonl").read_text()
    assert token not in records
    pages = [json.loads(line) for line in records.splitlines()]
    assert {p["authorization"] for p in pages} == {webhook.credential_digest(f"Bearer {token}")}
    # One page for the cut: no probe alert for the cable reached the receiver while the page held.
    cut_pages = [
        a["labels"]["alertname"]
        for p in pages
        for a in p["body"]["alerts"]
        if a["labels"].get("cable") == cable and a["status"] == "firing"
    ]
    assert "WanPathDown" not in cut_pages and "WanCableDown" not in cut_pages
    assert result.restore_s is not None
    assert lab.state().cuts == {}
    after = json.loads(lab.kasbah("lab", "status", "--json").stdout)
    assert all(r["cable"] == r["expected"] for r in after["regions"])


def test_cut_shows_in_status_and_verify_until_restored(lab: Lab) -> None:
    unused = next(
        s.cable
        for r in lab.plan.edge.routers
        for s in r.sessions
        if all(reg.preference[0].cable != s.cable for reg in lab.plan.edge.regions)
    )
    assert lab.kasbah("lab", "cut", unused).returncode == 0
    result = lab.kasbah("verify", str(SPEC), "--lab")
    assert result.returncode == 1
    assert f"cable {unused} is cut" in result.stdout
    assert f"over {unused}" in result.stdout  # its session is down
    restore = lab.kasbah("lab", "restore", unused)
    assert restore.returncode == 0, restore.stderr
    state = lab.state()
    instances = checks.network.frr_instances(state)
    session = next(s for r in lab.plan.edge.routers for s in r.sessions if s.cable == unused)
    instances[session.edge_router].wait_for_sessions([session.peer_address], timeout=30, bfd=True)
    assert lab.kasbah("verify", str(SPEC), "--lab").returncode == 0


def test_down_leaves_nothing_behind(lab: Lab) -> None:
    pids = [p.pid for p in lab.state().processes]
    result = lab.kasbah("lab", "down")
    assert result.returncode == 0, result.stderr
    assert lab.namespaces() == set()
    assert not [pid for pid in pids if netns.pid_alive(pid)]
    assert running_from(lab.directory) == []
    assert not lab.directory.exists()
    again = lab.kasbah("lab", "down")
    assert again.returncode == 0 and "no lab" in again.stdout
