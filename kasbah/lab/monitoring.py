"""The lab's monitoring host: Prometheus, Alertmanager and the blackbox exporter in a network namespace.

They listen on 127.0.0.1:9090 / 9093 / 9115 inside the namespace, exactly where the rendered prometheus.yml points
(Alertmanager and the probes on loopback), while the namespace keeps them off the machine's own loopback. They start
with minimal valid configurations; the real `monitoring` role (through `kasbah apply` and an overlay inventory from
`host_vars`) then installs, validates and reloads the rendered ones, as on the campus. The role deploys
`lab_source`: the render with the targets of what the lab does not emulate (GPU trays, switches, halls, meters)
emptied, so Prometheus never scrapes campus addresses from this machine; the WAN probe targets stay, since the lab's
WAN routers are what they probe, and so do the edge routers' FRR exporters, which the lab runs inside each edge
router's namespace against that router's own vty sockets (as the package runs on the router: see the monitoring
role's README). The alert webhooks point at the lab's sinks (`kasbah.lab.webhook`) instead of the campus's
gateways. Everything started here is stopped by PID.
"""

from __future__ import annotations

import json
import re
import shutil
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kasbah import netns as nsmod
from kasbah.lab import procs, webhook
from kasbah.lab.state import LabState
from kasbah.monitoring.exporters import ALERTMANAGER_PORT, BLACKBOX_PORT, FRR_EXPORTER_PORT, PROMETHEUS_PORT
from kasbah.netns import FrrInstance
from kasbah.plan.derive import Plan
from kasbah.render.escape import yaml_single_quote
from kasbah.render.monitoring import EDGE_ROUTERS_SD, PROBE_JOBS

PROMETHEUS = "/usr/bin/prometheus"
ALERTMANAGER = "/usr/bin/prometheus-alertmanager"
BLACKBOX = "/usr/bin/prometheus-blackbox-exporter"
FRR_EXPORTER = "/usr/bin/prometheus-frr-exporter"
LOOPBACK = "127.0.0.1"
PROMETHEUS_URL = f"http://{LOOPBACK}:{PROMETHEUS_PORT}"
ALERTMANAGER_URL = f"http://{LOOPBACK}:{ALERTMANAGER_PORT}"
BLACKBOX_URL = f"http://{LOOPBACK}:{BLACKBOX_PORT}"
"""As seen from inside the monitoring namespace (where the rendered prometheus.yml and the role look for them)."""

KEPT_TARGETS: frozenset[str] = frozenset({*(path for _, path in PROBE_JOBS), EDGE_ROUTERS_SD})
"""file_sd files the lab keeps as rendered: the WAN probe targets (file_sd/site/wan-paths.json, wan-regions.json)
and the edge routers' FRR exporters (edge-routers.json). Every other file under file_sd/ (one per GPU pod; fabric,
facility, energy, the Slurm controllers) names hardware the lab does not have."""
EMPTY_TARGETS = "[]\n"

START_TIMEOUT = 20.0
READY_PATHS = {"prometheus": "/-/ready", "alertmanager": "/-/ready", "blackbox": "/metrics"}
SEED_PROMETHEUS = "# Seeded by kasbah lab until the monitoring role installs the render.\nglobal: {}\n"
SEED_ALERTMANAGER = (
    "# Seeded by kasbah lab until the monitoring role installs the render.\n"
    "route:\n  receiver: 'null'\nreceivers:\n  - name: 'null'\n"
)
SEED_BLACKBOX = (
    "# Seeded by kasbah lab until the monitoring role installs the render.\n"
    "modules:\n  icmp_wan:\n    prober: icmp\n    timeout: 5s\n"
)
VERIFY_RETRIES = 20
VERIFY_DELAY = 1
"""The role's post-run check: the lab's Prometheus reloads in well under a second, so poll fast, fail within 20 s."""


class QueryError(RuntimeError):
    """Prometheus or Alertmanager in the namespace did not answer, or answered with an error."""


# -- what the role deploys -------------------------------------------------------------------------------------------
def lab_source(build_dir: Path, dest: Path) -> Path:
    """Copy `build_dir/monitoring` to `dest` (replaced as a whole), emptying the target files of hardware the lab
    does not emulate; everything else (rules, WAN probe targets, alertmanager.yml, blackbox.yml, receivers.yml,
    dashboards) byte for byte. Deterministic. Returns `dest`: the role's `monitoring_source_dir`."""
    src = build_dir / "monitoring"
    if not (src / "prometheus.yml").is_file():
        raise FileNotFoundError(f"{src} holds no rendered monitoring configuration: run `kasbah render` first")
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(src, dest)
    for path in sorted((dest / "file_sd").rglob("*.json")):
        if f"file_sd/{path.relative_to(dest / 'file_sd').as_posix()}" not in KEPT_TARGETS:
            path.write_text(EMPTY_TARGETS, encoding="utf-8")
    am = dest / "alertmanager.yml"
    am.write_text(lab_alertmanager(am.read_text(encoding="utf-8")), encoding="utf-8")
    return dest


def webhook_urls(alertmanager_yml: str) -> dict[str, list[str]]:
    """Receiver name -> its webhook URLs, in the order written."""
    data = yaml.safe_load(alertmanager_yml) or {}
    return {
        r["name"]: [w["url"] for w in r.get("webhook_configs") or []]
        for r in data.get("receivers") or []
        if r.get("webhook_configs")
    }


def lab_alertmanager(text: str) -> str:
    """The rendered alertmanager.yml with every webhook URL on its owner's lab sink (path and query kept), nothing
    else changed: the render writes each URL on its own `- url:` line under its receiver's `- name:`, so each is
    replaced in place (comments stay), and the result is checked against the parsed original."""
    expected = {}
    for receiver, urls in webhook_urls(text).items():
        owner = webhook.owner_of(receiver)
        if owner is None:
            raise ValueError(f"alertmanager.yml: receiver {receiver!r} is not <owner>-page or <owner>-ticket")
        expected[receiver] = [webhook.lab_url(u, owner) for u in urls]
    lines, receiver, in_receivers = [], None, False
    for line in text.splitlines(keepends=True):
        if line.startswith("receivers:"):
            in_receivers = True
        elif in_receivers and (m := _RECEIVER_LINE.match(line)):
            receiver = yaml.safe_load(m["name"])
        elif in_receivers and receiver is not None and (m := _URL_LINE.match(line)):
            owner = webhook.owner_of(receiver)
            assert owner is not None
            url = webhook.lab_url(yaml.safe_load(m["url"]), owner)
            line = f"{m['lead']}{yaml_single_quote(url)}{m['end']}"
        lines.append(line)
    out = "".join(lines)
    if webhook_urls(out) != expected:
        raise ValueError("alertmanager.yml: cannot find every webhook URL on its own `- url:` line of its receiver")
    return out


_RECEIVER_LINE = re.compile(r"^  - name: (?P<name>\S.*?)\s*$")
_URL_LINE = re.compile(r"^(?P<lead>\s+- url: )(?P<url>'(?:[^']|'')*'|\"(?:[^\"\\]|\\.)*\"|\S+)(?P<end>\s*)$")


def sink_owners(source: Path) -> list[str]:
    """Owners with at least one webhook in the lab's alertmanager.yml: each gets a sink."""
    urls = webhook_urls((source / "alertmanager.yml").read_text(encoding="utf-8"))
    return sorted({o for r in urls if (o := webhook.owner_of(r)) is not None}, key=webhook.OWNERS.index)


def token_vars(source: Path) -> list[str]:
    """The vault variable names of the alert webhooks' bearer tokens (receivers.yml): the role asserts each is set,
    so the lab passes a random value for each as a secret variable."""
    data = yaml.safe_load((source / "receivers.yml").read_text(encoding="utf-8")) or {}
    names: list[str] = []
    for entry in data.get("monitoring_receiver_tokens") or []:
        if entry["var"] not in names:
            names.append(entry["var"])
    return names


# -- the host ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MonitoringLayout:
    """The monitoring host's directories under one base path (the lab's stand-ins for /etc/prometheus, /var/lib/...)."""

    base: Path

    @property
    def stage(self) -> Path:
        return self.base / "stage"

    @property
    def prometheus(self) -> Path:
        """prometheus.yml, rules/ and file_sd/."""
        return self.base / "prometheus"

    @property
    def prometheus_data(self) -> Path:
        return self.base / "prometheus-data"

    @property
    def alertmanager(self) -> Path:
        """alertmanager.yml and secrets/ (the webhook tokens)."""
        return self.base / "alertmanager"

    @property
    def alertmanager_data(self) -> Path:
        return self.base / "alertmanager-data"

    @property
    def blackbox(self) -> Path:
        return self.base / "blackbox"

    @property
    def grafana_dashboards(self) -> Path:
        return self.base / "grafana" / "dashboards"

    @property
    def grafana_provisioning(self) -> Path:
        return self.base / "grafana" / "provisioning"

    @property
    def logs(self) -> Path:
        return self.base / "logs"

    def log(self, daemon: str) -> Path:
        return self.logs / f"{daemon}.log"

    def create(self) -> None:
        for d in (
            self.stage,
            self.prometheus,
            self.prometheus_data,
            self.alertmanager,
            self.alertmanager_data,
            self.blackbox,
            self.grafana_dashboards,
            self.grafana_provisioning,
            self.logs,
        ):
            d.mkdir(parents=True, exist_ok=True)


def _seed(path: Path, text: str) -> None:
    """A minimal valid configuration, only where the role has not installed the real one yet (a restart keeps it)."""
    if not path.exists():
        path.write_text(text, encoding="utf-8")


def daemon_args(layout: MonitoringLayout) -> dict[str, list[str]]:
    """The command lines, as Debian's units run them but with the lab's paths; as root, so no 'prometheus' user or
    ownership is needed. No Alertmanager gossip port (one instance); Prometheus reloads through POST /-/reload."""
    return {
        "alertmanager": [
            ALERTMANAGER,
            f"--config.file={layout.alertmanager / 'alertmanager.yml'}",
            f"--storage.path={layout.alertmanager_data}",
            f"--web.listen-address={LOOPBACK}:{ALERTMANAGER_PORT}",
            "--cluster.listen-address=",
        ],
        "blackbox": [
            BLACKBOX,
            f"--config.file={layout.blackbox / 'blackbox.yml'}",
            f"--web.listen-address={LOOPBACK}:{BLACKBOX_PORT}",
        ],
        "prometheus": [
            PROMETHEUS,
            f"--config.file={layout.prometheus / 'prometheus.yml'}",
            f"--storage.tsdb.path={layout.prometheus_data}",
            f"--web.listen-address={LOOPBACK}:{PROMETHEUS_PORT}",
            "--web.enable-lifecycle",
        ],
    }


def _urls() -> dict[str, str]:
    return {"prometheus": PROMETHEUS_URL, "alertmanager": ALERTMANAGER_URL, "blackbox": BLACKBOX_URL}


def _tail(log: Path, lines: int = 15) -> str:
    try:
        return "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def start(netns: str, base: Path, timeout: float = START_TIMEOUT) -> dict[str, int]:
    """Start Prometheus, Alertmanager and the blackbox exporter in `netns` on seeded configurations, wait until
    each answers; return their PIDs by name. On failure, stop what was started and raise `procs.ProcessError`."""
    if netns not in nsmod.namespaces():
        raise procs.ProcessError(f"network namespace {netns} does not exist")
    urls = _urls()
    # A daemon already there (a previous lab not torn down) would answer for ours while ours fails to bind.
    busy = [f"{name} ({url})" for name, url in urls.items() if procs.http_get(netns, url + "/", timeout=1) is not None]
    if busy:
        raise procs.ProcessError(f"already answering in namespace {netns}: {', '.join(busy)}; stop it first")
    layout = MonitoringLayout(base)
    layout.create()
    _seed(layout.prometheus / "prometheus.yml", SEED_PROMETHEUS)
    _seed(layout.alertmanager / "alertmanager.yml", SEED_ALERTMANAGER)
    _seed(layout.blackbox / "blackbox.yml", SEED_BLACKBOX)
    pids: dict[str, int] = {}
    try:
        for name, args in daemon_args(layout).items():
            pids[name] = procs.start_daemon(args, layout.log(name), netns=netns)
        waiting = dict(READY_PATHS)
        deadline = time.monotonic() + timeout
        while waiting:
            for name, path in list(waiting.items()):
                if not nsmod.pid_alive(pids[name]):
                    log = layout.log(name)
                    raise procs.ProcessError(f"{name} in {netns} exited; {log}:\n{_tail(log)}")
                if procs.http_get(netns, urls[name] + path, timeout=2) is not None:
                    del waiting[name]
            if waiting and time.monotonic() > deadline:
                name = next(iter(waiting))
                log = layout.log(name)
                raise procs.ProcessError(
                    f"{name} in {netns} did not answer {urls[name]}{waiting[name]} within {timeout:.0f} s; "
                    f"{log}:\n{_tail(log)}"
                )
            if waiting:
                time.sleep(0.2)
    except BaseException:
        stop(pids)
        raise
    return pids


def stop(pids: dict[str, int]) -> None:
    """Stop the daemons `start` returned, by PID (absent ones are fine)."""
    for pid in pids.values():
        procs.stop_pid(pid)


def _wait_http(netns: str, url: str, pid: int, log: Path, what: str, timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while procs.http_get(netns, url, timeout=2) is None:
        if not nsmod.pid_alive(pid):
            raise procs.ProcessError(f"{what} exited; {log}:\n{_tail(log)}")
        if time.monotonic() > deadline:
            raise procs.ProcessError(f"{what} did not answer {url} within {timeout:.0f} s; {log}:\n{_tail(log)}")
        time.sleep(0.2)


def frr_exporter_args(inst: FrrInstance, listen: str) -> list[str]:
    """prometheus-frr-exporter (1.1.4) against one FRR instance: bgpd's state through its vty socket in the
    instance's run directory (--frr.socket.dir-path); the bfd collector of 1.1.4 runs `vtysh -c 'show bfd peers
    json'` whatever --frr.vtysh says, so vtysh is pointed at the same sockets; no ospfd, so no ospf collector."""
    return [
        FRR_EXPORTER,
        f"--frr.socket.dir-path={inst.run_dir}",
        f"--frr.vtysh.options=--vty_socket={inst.run_dir}",
        "--no-collector.ospf",
        f"--web.listen-address={listen}",
    ]


def start_frr_exporters(plan: Plan, state: LabState, instances: dict[str, FrrInstance]) -> dict[str, int]:
    """One exporter per edge router, in its namespace on its loopback (the rendered scrape target), each recorded in
    the state file as it starts; returns PIDs by router once each answers the monitoring namespace."""
    from kasbah.plan.lab import CAMPUS_NODE

    logs = Path(state.dir) / "logs"
    pids: dict[str, int] = {}
    for router in plan.edge.routers:
        inst = instances[router.id]
        listen = f"{router.loopback.split('/')[0]}:{FRR_EXPORTER_PORT}"
        log = logs / f"frr-exporter-{router.id}.log"
        pid = procs.start_daemon(frr_exporter_args(inst, listen), log, netns=inst.netns)
        state.add_process(f"frr_exporter@{router.id}", pid, inst.netns, log, expect="prometheus-frr-exporter")
        pids[router.id] = pid
    for router in plan.edge.routers:
        url = f"http://{router.loopback.split('/')[0]}:{FRR_EXPORTER_PORT}/metrics"
        log = logs / f"frr-exporter-{router.id}.log"
        _wait_http(state.netns(CAMPUS_NODE), url, pids[router.id], log, f"the FRR exporter of {router.id}")
    return pids


def start_sinks(state: LabState, netns: str, owners: list[str]) -> dict[str, int]:
    """A webhook sink per owner in `netns` (where Alertmanager runs), each recorded in the state file as it starts."""
    directory = Path(state.dir)
    pids: dict[str, int] = {}
    for owner in owners:
        log = directory / "logs" / f"webhook-{owner}.log"
        pid = procs.start_daemon(webhook.args(directory, owner), log, netns=netns)
        state.add_process(f"webhook@{owner}", pid, netns, log, expect="kasbah.lab.webhook")
        pids[owner] = pid
    for owner in owners:
        url = webhook.sink_url(owner) + webhook.READY_PATH
        _wait_http(netns, url, pids[owner], directory / "logs" / f"webhook-{owner}.log", f"the {owner} webhook sink")
    return pids


def host_vars(netns: str, base: Path, source: Path, interpreter: Path) -> dict[str, object]:
    """Variables of the monitoring host in the lab's overlay inventory: a local connection whose Python runs in
    `netns` (so the role's uri checks and reloads reach the daemons there), the layout's directories, root-owned
    files (the daemons run as root), and a verify loop suited to a lab. Writes the interpreter wrapper."""
    layout = MonitoringLayout(base.resolve())
    return {
        "ansible_connection": "local",
        "ansible_python_interpreter": str(procs.python_in(netns, interpreter)),
        "monitoring_source_dir": str(source.resolve()),
        "monitoring_stage_dir": str(layout.stage),
        "monitoring_prometheus_dir": str(layout.prometheus),
        "monitoring_alertmanager_dir": str(layout.alertmanager),
        "monitoring_blackbox_dir": str(layout.blackbox),
        "monitoring_owner": "root",
        "monitoring_group": "root",
        "monitoring_prometheus_url": PROMETHEUS_URL,
        "monitoring_alertmanager_url": ALERTMANAGER_URL,
        "monitoring_blackbox_url": BLACKBOX_URL,
        "monitoring_grafana_dashboards_dir": str(layout.grafana_dashboards),
        "monitoring_grafana_provisioning_dir": str(layout.grafana_provisioning),
        "monitoring_verify_retries": VERIFY_RETRIES,
        "monitoring_verify_delay": VERIFY_DELAY,
    }


# -- queries, from inside the namespace -------------------------------------------------------------------------------
def _get(netns: str, url: str) -> Any:
    body = procs.http_get(netns, url)
    if body is None:
        # http_get cannot tell refused from an HTTP error (a bad PromQL is a 400): say both.
        raise QueryError(f"no answer or an HTTP error from {url} in namespace {netns} (is the lab's monitoring up?)")
    try:
        return json.loads(body)
    except ValueError as exc:
        raise QueryError(f"{url} in namespace {netns} answered with something other than JSON: {body[:200]!r}") from exc


def _prometheus(netns: str, path: str, **params: str) -> Any:
    url = PROMETHEUS_URL + path + (f"?{urllib.parse.urlencode(params)}" if params else "")
    answer = _get(netns, url)
    if not isinstance(answer, dict) or answer.get("status") != "success":
        raise QueryError(f"Prometheus in {netns} refused {path}: {answer!r:.300}")
    return answer["data"]


def alerts(netns: str, state: str | None = None) -> list[dict[str, Any]]:
    """Prometheus's alerts (pending and firing), or those in `state`: name, state, labels, annotations, since."""
    out = [
        {
            "name": a["labels"].get("alertname", ""),
            "state": a["state"],
            "labels": a["labels"],
            "annotations": a.get("annotations", {}),
            "active_at": a.get("activeAt"),
        }
        for a in _prometheus(netns, "/api/v1/alerts")["alerts"]
        if state is None or a["state"] == state
    ]
    return sorted(out, key=lambda a: (a["name"], sorted(a["labels"].items())))


def firing_alerts(netns: str) -> list[dict[str, Any]]:
    """Alerts past their `for`: what Prometheus has sent to Alertmanager."""
    return alerts(netns, "firing")


def pending_alerts(netns: str) -> list[dict[str, Any]]:
    """Alerts whose condition holds but not yet for their `for`: a failure the lab injected shows here first."""
    return alerts(netns, "pending")


def query(netns: str, promql: str) -> list[tuple[dict[str, str], float]]:
    """An instant query: (labels, value) per series."""
    data = _prometheus(netns, "/api/v1/query", query=promql)
    if data.get("resultType") != "vector":
        raise QueryError(f"{promql!r} gave a {data.get('resultType')}, not an instant vector")
    return [(r["metric"], float(r["value"][1])) for r in data["result"]]


def probe_success(netns: str) -> list[tuple[dict[str, str], float]]:
    """probe_success of every blackbox probe Prometheus has scraped (1 answered, 0 did not)."""
    return query(netns, "probe_success")


def targets(netns: str) -> list[dict[str, Any]]:
    """Prometheus's active targets: job, instance (the probed address for the WAN probes), labels, health."""
    return [
        {
            "job": t["labels"].get("job", ""),
            "instance": t["labels"].get("instance", ""),
            "labels": t["labels"],
            "health": t["health"],
        }
        for t in _prometheus(netns, "/api/v1/targets", state="active")["activeTargets"]
    ]


def rule_groups(netns: str) -> set[str]:
    """Names of the rule groups Prometheus runs."""
    return {g["name"] for g in _prometheus(netns, "/api/v1/rules")["groups"]}


def alertmanager_alerts(netns: str) -> list[dict[str, Any]]:
    """What Alertmanager holds (/api/v2/alerts): labels, status (active, suppressed), receivers."""
    answer = _get(netns, ALERTMANAGER_URL + "/api/v2/alerts")
    if not isinstance(answer, list):
        raise QueryError(f"Alertmanager in {netns} answered /api/v2/alerts with {answer!r:.300}")
    return answer
