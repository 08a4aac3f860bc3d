"""The wan_edge role against real FRR: one phase-1 edge router and its landing-station peers in network namespaces.

The edge router's daemons start empty; the role (through ansible-runner, as `kasbah apply` runs it) templates the
rendered config with the session passwords, validates it, reloads FRR and waits for the sessions. The test then reads
FRR's own state: sessions Established, BFD up at the plan's timers, each region's prefix best via the cable the plan
prefers with the planned local-pref, nothing but the campus prefixes sent to the peers, bogons, our own space and
too-specific routes refused. A second run must change nothing; no password may appear in any event.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from ipaddress import ip_network
from pathlib import Path
from typing import Any

import ansible_runner
import pytest
import yaml

from kasbah import netns
from kasbah.netns import FrrInstance
from kasbah.plan.derive import Plan
from kasbah.plan.edge import EdgeRouter
from kasbah.render import frr
from tests.conftest import REPO, phase_guard_vars, plan_of

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces and FRR daemons need root")

PLAYBOOKS = REPO / "playbooks"
JUNK = {
    "192.168.77.0/24": "bogon (RFC 1918)",
    "198.18.1.0/25": "longer than /24 inside a region prefix",
    "10.68.5.0/24": "inside the campus's own announce prefix",
}
"""What each test peer announces besides the region prefixes; the edge must refuse all of it."""


def pick_router(plan: Plan) -> EdgeRouter:
    """A router whose cables win different regions, where the per-region policy shows most; else one with several
    sessions, whose per-region local-preferences still rank its cables."""
    for router in plan.edge.routers:
        cables = {s.cable for s in router.sessions}
        winners = {next(p.cable for p in r.preference if p.cable in cables) for r in plan.edge.regions}
        if len(winners) > 1:
            return router
    several = [r for r in plan.edge.routers if len(r.sessions) > 1]
    assert several, "no edge router of phase 1 has two sessions: the per-region policy cannot show"
    return several[0]


def expected_best(plan: Plan, router: EdgeRouter) -> dict[str, tuple[str, int, dict[str, int]]]:
    """region prefix -> (peer address of the cable the plan prefers among this router's, its local-pref, all prefs)."""
    by_cable = {s.cable: s for s in router.sessions}
    out = {}
    for region in plan.edge.regions:
        prefs = {by_cable[p.cable].peer_address: p.local_pref for p in region.preference if p.cable in by_cable}
        best = max(prefs, key=lambda a: prefs[a])
        for prefix in region.prefixes:
            out[prefix] = (best, prefs[best], prefs)
    return out


@dataclass
class Lab:
    plan: Plan
    router: EdgeRouter
    edge: FrrInstance
    peers: dict[str, FrrInstance]
    build_dir: Path
    work: Path
    passwords: dict[str, str]
    namespaces: list[str] = field(default_factory=list)
    runs: list[Any] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)
    """Router state observed between runs (run index -> (frr.conf exists, BGP configured))."""

    def observe(self) -> None:
        bgp = "router bgp" in self.edge.vtysh("show running-config")
        self.after[len(self.runs) - 1] = (self.edge.config_file.exists(), bgp)

    def extravars(self, **extra: Any) -> dict[str, Any]:
        vtysh = " ".join(self.edge.vtysh_args())
        return {
            "kasbah_build_dir": str(self.build_dir),
            **phase_guard_vars(self.plan, self.work / "phase-guard"),
            "wan_edge_config_dir": str(self.edge.config_dir),
            "wan_edge_reload_command": " ".join(self.edge.reload_command()),
            "wan_edge_restart_command": self.edge.restart_command(),
            "wan_edge_exporter_install": False,  # Debian's package is on this host already (.ci/setup)
            "wan_edge_exporter_defaults_file": str(self.work / "prometheus-frr-exporter"),
            "wan_edge_exporter_restart_command": "true",
            "wan_edge_vtysh_command": vtysh,
            "wan_edge_verify_retries": 30,
            "wan_edge_verify_delay": 1,
            **self.passwords,
            **extra,
        }

    def apply(self, check: bool = False, **extra: Any) -> Any:
        """One role run through ansible-runner, fresh private data dir, no env files (as `kasbah apply` does)."""
        private = self.work / f"runner-{len(self.runs)}"
        private.mkdir()
        inventory = {
            "all": {
                "children": {
                    "edge_routers": {
                        "hosts": {
                            self.router.id: {
                                "ansible_connection": "local",
                                "ansible_python_interpreter": sys.executable,
                            }
                        }
                    }
                }
            }
        }
        inv = self.work / "inventory.yml"
        inv.write_text(yaml.safe_dump(inventory), encoding="utf-8")
        result = ansible_runner.run(
            private_data_dir=str(private),
            project_dir=str(PLAYBOOKS),
            playbook="wan_edge.yml",
            inventory=str(inv),
            extravars=self.extravars(**extra),
            cmdline="--check --diff" if check else "--diff",
            suppress_env_files=True,
            quiet=True,
            envvars={"PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"},
        )
        self.runs.append(result)
        return result


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    plan, _ = plan_of(REPO / "stacks" / "phase1.yaml")
    assert plan is not None
    router = pick_router(plan)
    work = Path(tempfile.mkdtemp(prefix="kasbah-wan-edge-"))  # not pytest's tmp: user frr must reach it
    work.chmod(0o755)
    build_dir = work / "build" / plan.phase
    for rel, text in frr.render(plan).items():
        (build_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        (build_dir / rel).write_text(text, encoding="utf-8")
    passwords = {s.password_var: f"t{secrets.token_hex(10)}" for s in router.sessions}
    tag = f"kt{os.getpid() % 100000}"
    edge_ns = f"{tag}-{router.id}"
    stations = sorted({s.landing_station for s in router.sessions})
    lab = Lab(
        plan=plan,
        router=router,
        edge=FrrInstance(edge_ns, work / router.id, daemons=frr.DAEMONS),  # ospfd too: the interconnect's IGP
        peers={st: FrrInstance(f"{tag}-{st}", work / st) for st in stations},
        build_dir=build_dir,
        work=work,
        passwords=passwords,
    )
    try:
        for ns in [edge_ns, *(p.netns for p in lab.peers.values())]:
            netns.add_namespace(ns)
            lab.namespaces.append(ns)
        netns.add_address(edge_ns, "lo", router.loopback)
        for prefix in plan.edge.announce:  # the campus behind the edge (the lab puts it on lo)
            net = ip_network(prefix)
            netns.add_address(edge_ns, "lo", f"{next(net.hosts())}/{net.prefixlen}")
        region_prefixes = [p for r in plan.edge.regions for p in r.prefixes]
        for peer in lab.peers.values():
            for prefix in [*region_prefixes, *JUNK]:
                netns.add_address(peer.netns, "lo", prefix)
        peer_configs: dict[str, list[str]] = {st: [] for st in stations}
        for i, s in enumerate(router.sessions):
            prefixlen = s.link_cidr.split("/")[1]
            peer_ns = lab.peers[s.landing_station].netns
            netns.add_veth(
                edge_ns, f"c{i}", f"{s.local_address}/{prefixlen}", peer_ns, f"c{i}", f"{s.peer_address}/{prefixlen}"
            )
            peer_configs[s.landing_station] += [
                f" neighbor {s.local_address} remote-as {router.asn}",
                f" neighbor {s.local_address} password {passwords[s.password_var]}",
                f" neighbor {s.local_address} bfd",
                f" neighbor {s.local_address} timers connect 1",  # retry fast: the edge is configured later
            ]
        for st, peer in lab.peers.items():
            asn = next(s.peer_asn for s in router.sessions if s.landing_station == st)
            networks = "".join(f"  network {p}\n" for p in [*region_prefixes, *JUNK])
            neighbors = "\n".join(peer_configs[st])
            peer.start(
                f"frr defaults traditional\nhostname {st}\nrouter bgp {asn}\n no bgp ebgp-requires-policy\n"
                f"{neighbors}\n address-family ipv4 unicast\n{networks} exit-address-family\nexit\n"
            )
        lab.edge.start()  # empty: the role configures it
        yield lab
    finally:
        netns.stop_all([lab.edge, *lab.peers.values()])
        for ns in lab.namespaces:
            netns.delete_namespace(ns)
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="module")
def applied(lab: Lab) -> Lab:
    """Check mode, a run with a password missing, two real runs, check mode again: each asserted below."""
    lab.apply(check=True)
    lab.observe()
    lab.apply(**{next(iter(lab.passwords)): ""})
    lab.observe()
    t0 = time.monotonic()
    lab.apply()
    lab.timings["first run"] = time.monotonic() - t0
    t0 = time.monotonic()
    lab.apply()
    lab.timings["second run"] = time.monotonic() - t0
    lab.apply(check=True)
    return lab


def changed(result: Any, host: str) -> int:
    return result.stats.get("changed", {}).get(host, 0)


def test_check_mode_changes_nothing_on_the_router(applied: Lab) -> None:
    check = applied.runs[0]
    assert check.status == "successful", check.stats
    assert changed(check, applied.router.id) > 0, "check mode should report the config it would write"
    assert applied.after[0] == (False, False), "check mode wrote frr.conf or configured BGP"
    verify = {e["event"] for e in check.events if e.get("event_data", {}).get("task", "").startswith("Wait for")}
    assert "runner_on_ok" not in verify and "runner_on_skipped" in verify


def test_missing_password_fails_naming_it_and_writes_nothing(applied: Lab) -> None:
    bad = applied.runs[1]
    missing = next(iter(applied.passwords))
    assert bad.status == "failed"
    assert applied.router.id in bad.stats.get("failures", {})
    messages = [json.dumps(e.get("event_data", {}).get("res", {})) for e in bad.host_events(applied.router.id)]
    assert any(missing in m and "not set" in m for m in messages)
    assert applied.after[1] == (False, False), "a failed password check still wrote frr.conf or configured BGP"


def test_first_run_changes_and_second_run_changes_nothing(applied: Lab) -> None:
    first, second = applied.runs[2], applied.runs[3]
    print(f"first run {applied.timings['first run']:.1f} s, second run {applied.timings['second run']:.1f} s")
    assert first.status == "successful", first.stats
    assert changed(first, applied.router.id) > 0
    assert second.status == "successful", second.stats
    assert changed(second, applied.router.id) == 0, second.stats


def test_check_mode_on_the_configured_router_reports_no_change(applied: Lab) -> None:
    check = applied.runs[4]
    assert check.status == "successful", check.stats
    assert changed(check, applied.router.id) == 0, check.stats


def test_no_password_in_any_event(applied: Lab) -> None:
    text = "".join(json.dumps(list(r.events)) + r.stdout.read() for r in applied.runs)
    assert "no_log: true" in text  # the guarded tasks ran and were hidden
    for value in applied.passwords.values():
        assert value not in text


def test_config_file_is_the_render_with_passwords(applied: Lab) -> None:
    conf = applied.edge.config_file.read_text(encoding="utf-8")
    for s in applied.router.sessions:
        assert f"neighbor {s.peer_address} password {applied.passwords[s.password_var]}\n" in conf
    assert "{{" not in conf


def test_sessions_established_with_bfd_at_plan_timers(applied: Lab) -> None:
    peers = [s.peer_address for s in applied.router.sessions]
    applied.edge.wait_for_sessions(peers, timeout=20, bfd=True)
    bfd = {p["peer"]: p for p in applied.edge.query("show bfd peers json")}
    for address in peers:
        assert bfd[address]["receive-interval"] == applied.plan.edge.bfd.interval_ms
        assert bfd[address]["transmit-interval"] == applied.plan.edge.bfd.interval_ms
        assert bfd[address]["detect-multiplier"] == applied.plan.edge.bfd.multiplier


def test_each_region_prefers_the_planned_cable(applied: Lab) -> None:
    for prefix, (best, local_pref, prefs) in expected_best(applied.plan, applied.router).items():
        paths = applied.edge.query(f"show bgp ipv4 unicast {prefix} json").get("paths", [])
        got = {p["peer"]["peerId"]: p.get("locPrf") for p in paths}
        assert got == prefs, f"{prefix}: local-prefs per peer {got}, plan {prefs}"
        winners = [p["peer"]["peerId"] for p in paths if p.get("bestpath", {}).get("overall")]
        assert winners == [best], f"{prefix}: best via {winners}, plan prefers {best} (local-pref {local_pref})"
        assert applied.edge.best_path(prefix) == (best, local_pref)


def test_inbound_filters_refuse_junk(applied: Lab) -> None:
    table = applied.edge.query("show bgp ipv4 unicast json")["routes"]
    for prefix, why in JUNK.items():
        assert prefix not in table, f"{prefix} ({why}) was accepted"
    regions = sum(len(r.prefixes) for r in applied.plan.edge.regions)
    for s in applied.router.sessions:  # the peers did send them: the edge's filter refused them
        peer = applied.peers[s.landing_station]
        sent = peer.query(f"show bgp ipv4 unicast neighbors {s.local_address} advertised-routes json")
        assert set(JUNK) <= set(sent["advertisedRoutes"]), f"{peer.netns} did not send the junk"
        assert applied.edge.bgp_peers()[s.peer_address]["pfxRcd"] == regions


def test_peers_receive_only_the_campus_prefixes(applied: Lab) -> None:
    for peer in applied.peers.values():
        table = peer.query("show bgp ipv4 unicast json")["routes"]
        from_edge = {
            prefix
            for prefix, paths in table.items()
            if any(p.get("peerId") in {s.local_address for s in applied.router.sessions} for p in paths)
        }
        assert from_edge == set(applied.plan.edge.announce), f"{peer.netns} got {sorted(from_edge)} from the edge"


def test_a_daemon_the_render_needs_is_enabled_and_frr_restarted(applied: Lab) -> None:
    """A router whose FRR runs without ospfd (Debian's default `daemons` file) gets it enabled and FRR restarted:
    frr-reload.py alone would load the OSPF config into no daemon. Here the restart command is the test's instance
    refusing (it runs a fixed set of daemons), which shows the role ran it, and only then."""
    daemons = applied.edge.config_dir / "daemons"
    before = daemons.read_text(encoding="utf-8")
    assert "ospfd=yes" in before.splitlines()
    daemons.write_text(before.replace("ospfd=yes", "ospfd=no"), encoding="utf-8")
    try:
        run = applied.apply()
        assert run.status == "failed"
        failed = [e for e in run.host_events(applied.router.id) if e["event"] == "runner_on_failed"]
        assert [e["event_data"]["task"] for e in failed] == ["Restart frr"]
        assert "start it again with the daemons needed" in json.dumps(failed[0]["event_data"]["res"])
        assert "ospfd=yes" in daemons.read_text(encoding="utf-8").splitlines()
        again = applied.apply()  # the file is right now: no restart, nothing changed
        assert again.status == "successful", again.stats
        assert changed(again, applied.router.id) == 0, again.stats
    finally:
        daemons.write_text(before, encoding="utf-8")


def test_the_frr_exporter_listens_where_the_monitoring_render_scrapes(applied: Lab) -> None:
    from kasbah.render import render

    args = (applied.work / "prometheus-frr-exporter").read_text(encoding="utf-8").splitlines()
    line = next(x for x in args if x.startswith("ARGS="))
    listen = re.search(r"--web\.listen-address=(\S+?)[ \"]", line)
    assert listen is not None, line
    # the monitoring render's file_sd target for this router is exactly where the exporter listens
    entries = json.loads(render(applied.plan)["monitoring/file_sd/site/edge-routers.json"])
    mine = [e for e in entries if e["labels"]["edge_router"] == applied.router.id]
    assert [e["targets"] for e in mine] == [[listen.group(1)]]
    assert listen.group(1).split(":")[0] == applied.router.loopback.split("/")[0]
