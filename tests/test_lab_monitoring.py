"""The lab's monitoring host, for real: Prometheus, Alertmanager and the blackbox exporter in a network namespace,
configured by the real monitoring role through `kasbah.ansible_run.run` and an overlay inventory, from phase 1's
render as `lab_source` trims it (no GPU, switch, hall or meter targets; the WAN probe and edge router targets as
rendered; the webhooks on the lab's sinks).

The WAN addresses are unreachable here (the namespace has only its loopback), so every WAN probe must report 0. The
daemons listen on 127.0.0.1 inside the namespace only: the machine's own 127.0.0.1:9090 stays free. The compute
team's webhook wants a bearer token, given as a secret variable; it must reach the host and never the run's events.
Everything started here is stopped by PID.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import stat
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from kasbah import netns
from kasbah.ansible_run import RunReport, run
from kasbah.lab import monitoring as mon
from kasbah.lab import procs, webhook
from kasbah.render import render, write
from tests.conftest import REPO, STOCK_MONITORING, plan_of

BINARIES = (mon.PROMETHEUS, mon.ALERTMANAGER, mon.BLACKBOX, "/usr/bin/promtool", "/usr/bin/amtool")
pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root"),
    pytest.mark.skipif(not all(Path(b).exists() for b in BINARIES), reason="needs Debian's prometheus packages"),
]
pytest.importorskip("ansible_runner")

TOKEN_VAR = "vault_alert_token_compute"
EMPTIED_SITE = {"fabric.json", "facility.json", "energy.json", "slurm.json"}


def wait_for(what: str, check: Callable[[], Any], timeout: float) -> Any:
    """Poll `check` until it returns something truthy; bounded in time."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except mon.QueryError as exc:
            last = exc
        time.sleep(1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}; last: {last!r}")


def host_listens(port: int) -> bool:
    """Whether something accepts connections on the machine's own 127.0.0.1:`port` (this process's namespace)."""
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@dataclass
class Lab:
    ns: str
    work: Path
    build: Path
    source: Path
    rendered: dict[str, str]
    """The render's monitoring/ files, relative to monitoring/."""
    tokens: dict[str, str]
    host_busy_before: bool
    pids: dict[str, int] = field(default_factory=dict)
    runs: list[RunReport] = field(default_factory=list)
    events: list[list[dict[str, Any]]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def layout(self) -> mon.MonitoringLayout:
        return mon.MonitoringLayout(self.work / "host")

    def apply(self, overlay: Path, phase: str) -> RunReport:
        events: list[dict[str, Any]] = []
        report = run(
            self.build,
            phase=phase,
            tags=["monitoring"],
            limit="monitoring",
            inventories=[overlay],
            secret_vars=self.tokens,
            on_event=events.append,
        )
        self.runs.append(report)
        self.events.append(events)
        failed = [
            f"{e['event_data'].get('task')}: {json.dumps(e['event_data'].get('res', {}))[:1500]}"
            for e in events
            if e.get("event") in ("runner_on_failed", "runner_on_unreachable")
        ]
        assert report.succeeded, f"{report.status} rc {report.rc}: {failed}"
        return report


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    # Not under pytest's tmp_path: Prometheus's data is removed with everything else at teardown.
    work = Path(tempfile.mkdtemp(prefix="kasbah-labmon-"))
    work.chmod(0o755)
    ns = f"kbm{os.getpid() % 100000}-mon"
    stacks = work / "stacks"
    shutil.copytree(REPO / "stacks", stacks)
    campus = (stacks / "campus.yaml").read_text(encoding="utf-8")
    assert STOCK_MONITORING in campus
    receivers = f"{{compute: {{page_url: 'http://127.0.0.1:9/page', token_var: {TOKEN_VAR}}}}}"
    campus = campus.replace(STOCK_MONITORING, f"monitoring: {{receivers: {receivers}}}")
    (stacks / "campus.yaml").write_text(campus, encoding="utf-8")
    plan, findings = plan_of(stacks / "phase1.yaml")
    assert plan is not None, findings
    files = render(plan)
    build = work / "build" / plan.phase
    write(files, build)
    rendered = {p.removeprefix("monitoring/"): t for p, t in files.items() if p.startswith("monitoring/")}
    lab = Lab(
        ns=ns,
        work=work,
        build=build,
        source=mon.lab_source(build, work / "source"),
        rendered=rendered,
        tokens={},
        host_busy_before=host_listens(9090),
    )
    lab.tokens = {v: f"labtok-{secrets.token_hex(16)}" for v in mon.token_vars(lab.source)}
    host = next(h.name for h in plan.service_hosts if h.role == "monitoring")
    try:
        netns.add_namespace(ns)
        t0 = time.monotonic()
        lab.pids = mon.start(ns, lab.layout.base)
        lab.timings["start"] = time.monotonic() - t0
        overlay = work / "overlay.yml"
        hv = mon.host_vars(ns, lab.layout.base, lab.source, work / "bin" / "python-mon")
        inventory = {"all": {"children": {"monitoring": {"hosts": {host: hv}}}}}
        overlay.write_text(yaml.safe_dump(inventory, sort_keys=True), encoding="utf-8")
        for name in ("first run", "second run"):
            t0 = time.monotonic()
            lab.apply(overlay, plan.phase)
            lab.timings[name] = time.monotonic() - t0
        yield lab
    finally:
        mon.stop(lab.pids)
        netns.delete_namespace(ns)
        shutil.rmtree(work, ignore_errors=True)
        print(f"timings: {', '.join(f'{k} {v:.1f} s' for k, v in lab.timings.items())}")
        survivors = [f"{n} {p}" for n, p in lab.pids.items() if netns.pid_alive(p)]
        assert not survivors, f"still running after teardown: {survivors}"
        assert ns not in netns.namespaces()


def test_the_role_applies_once_then_changes_nothing(lab: Lab) -> None:
    first, second = lab.runs
    assert first.hosts["mon1"].changed > 0
    assert second.hosts["mon1"].changed == 0, second.hosts["mon1"]
    assert set(first.hosts) == set(second.hosts) == {"mon1"}


def test_prometheus_in_the_namespace_runs_every_rendered_rule_group(lab: Lab) -> None:
    want = {
        g["name"]
        for path, text in lab.rendered.items()
        if path.startswith("rules/")
        for g in yaml.safe_load(text)["groups"]
    }
    assert want and mon.rule_groups(lab.ns) == want
    # Alertmanager runs the rendered configuration too (its routes name every owner's receivers).
    status = json.loads(procs.http_get(lab.ns, mon.ALERTMANAGER_URL + "/api/v2/status") or "{}")
    assert "compute-page" in status["config"]["original"] and "inhibit_rules" in status["config"]["original"]
    # As rendered, but for the webhook URLs: on the lab's sinks (kasbah.lab.webhook), paths kept.
    installed = (lab.layout.alertmanager / "alertmanager.yml").read_text()
    assert installed == mon.lab_alertmanager(lab.rendered["alertmanager.yml"]) != lab.rendered["alertmanager.yml"]
    assert mon.webhook_urls(installed) == {"compute-page": [webhook.sink_url("compute") + "/page"]}
    assert isinstance(mon.alertmanager_alerts(lab.ns), list)
    assert all(a["state"] in ("pending", "firing") for a in mon.alerts(lab.ns))


def test_prometheus_probes_the_rendered_wan_targets_and_nothing_else(lab: Lab) -> None:
    want = {
        (job, target)
        for job, path in (("wan_path", "wan-paths.json"), ("wan_region", "wan-regions.json"))
        for group in json.loads(lab.rendered[f"file_sd/site/{path}"])
        for target in group["targets"]
    }
    assert len(want) == 7
    got = wait_for("the WAN probe targets", lambda: {(t["job"], t["instance"]) for t in mon.targets(lab.ns)}, 20)
    assert {(j, i) for j, i in got if j.startswith("wan_")} == want
    # The edge routers' FRR exporters, as rendered (unreachable here: no router in this namespace).
    routers = {t for g in json.loads(lab.rendered["file_sd/site/edge-routers.json"]) for t in g["targets"]}
    assert len(routers) == 2 and {i for j, i in got if j == "frr"} == routers
    # No tray, switch, hall or meter: only the probes, the edge routers and the monitoring stack itself.
    assert {j for j, _ in got} == {"wan_path", "wan_region", "frr", "prometheus", "alertmanager", "blackbox"}


def test_unreachable_wan_addresses_probe_zero(lab: Lab) -> None:
    # The prober works in the namespace (its loopback answers), so a 0 below means "unreachable", not "broken".
    local = procs.http_get(lab.ns, mon.BLACKBOX_URL + "/probe?module=icmp_wan&target=127.0.0.1") or ""
    assert "\nprobe_success 1" in local, local[-500:]
    probed = {
        g["targets"][0]
        for path in ("wan-paths.json", "wan-regions.json")
        for g in json.loads(lab.rendered[f"file_sd/site/{path}"])
    }

    def all_probed() -> list[tuple[dict[str, str], float]] | None:
        results = mon.probe_success(lab.ns)
        return results if {m["instance"] for m, _ in results} == probed else None

    t0 = time.monotonic()
    results = wait_for("a probe of every WAN target", all_probed, 45)
    lab.timings["probes"] = time.monotonic() - t0
    assert all(value == 0 for _, value in results), results
    assert {m["job"] for m, _ in results} == {"wan_path", "wan_region"}


def test_the_daemons_listen_in_the_namespace_only(lab: Lab) -> None:
    assert procs.http_get(lab.ns, mon.PROMETHEUS_URL + "/-/ready") is not None
    if not lab.host_busy_before:
        assert not host_listens(9090)
    for name, pid in lab.pids.items():
        assert netns.pid_alive(pid), name
        assert os.readlink(f"/proc/{pid}/ns/net") != os.readlink("/proc/self/ns/net"), name


def test_lab_source_is_the_render_without_the_hardware_targets(lab: Lab) -> None:
    got = tree(lab.source)
    assert set(got) == set(lab.rendered)
    emptied = {
        p
        for p in lab.rendered
        if p.startswith("file_sd/") and (p.count("/") == 1 or p.removeprefix("file_sd/site/") in EMPTIED_SITE)
    }
    pods = [p for p in lab.rendered if p.count("/") == 1 and p.startswith("file_sd/")]
    assert len(emptied) == len(pods) + len(EMPTIED_SITE)
    for path, text in lab.rendered.items():
        if path == "alertmanager.yml":  # the webhooks on the lab's sinks
            text = mon.lab_alertmanager(text)
        assert got[path] == (b"[]\n" if path in emptied else text.encode()), path
    # Deterministic: a second copy is the same bytes, and the role installed exactly this.
    again = mon.lab_source(lab.build, lab.work / "source-again")
    assert tree(again) == got
    installed = lab.layout.prometheus / "file_sd"
    assert tree(installed) == {p.removeprefix("file_sd/"): b for p, b in got.items() if p.startswith("file_sd/")}


def test_the_webhook_token_reaches_the_host_and_no_event(lab: Lab) -> None:
    assert mon.token_vars(lab.source) == [TOKEN_VAR]
    token = lab.tokens[TOKEN_VAR]
    path = lab.layout.alertmanager / "secrets" / "compute.token"
    assert path.read_text() == token and stat.S_IMODE(path.stat().st_mode) == 0o600
    for events in lab.events:
        assert events
        assert not any(token in json.dumps(e) for e in events)
    assert not any(token in text for text in lab.rendered.values())


def test_start_refuses_a_namespace_where_the_daemons_already_answer(lab: Lab) -> None:
    with pytest.raises(procs.ProcessError, match="already answering"):
        mon.start(lab.ns, lab.work / "second")
    assert not (lab.work / "second").exists()


def test_start_stops_what_it_started_when_a_daemon_fails(lab: Lab) -> None:
    with pytest.raises(procs.ProcessError, match="does not exist"):
        mon.start(f"{lab.ns}-absent", lab.work / "absent")
    ns = f"{lab.ns}2"
    base = lab.work / "broken"
    (base / "prometheus").mkdir(parents=True)
    (base / "prometheus" / "prometheus.yml").write_text("scrape_configs: [{job_name: }\n")
    netns.add_namespace(ns)
    try:
        with pytest.raises(procs.ProcessError) as err:
            mon.start(ns, base, timeout=10)
        assert str(mon.MonitoringLayout(base).log("prometheus")) in str(err.value)
        # Alertmanager and the blackbox exporter, which did start, were stopped again.
        assert netns.run(["ip", "netns", "pids", ns]).split() == []
    finally:
        for pid in netns.run(["ip", "netns", "pids", ns]).split():
            procs.stop_pid(int(pid))
        netns.delete_namespace(ns)
