"""Monitoring from the plan: Prometheus, its rules and targets, Alertmanager, blackbox probes, Grafana dashboards.

Everything under `build/<phase>/monitoring/`:

    prometheus.yml                 scrape jobs and alerting; paths relative to itself
    rules/<group>.yml              recording and alerting rules (kasbah.monitoring.rules)
    file_sd/<pod>.json             one per standing pod: its compute trays, streamed from kasbah.plan.hosts
    file_sd/site/*.json            UFM Telemetry per phase fabric, hall and intake telemetry, WAN probe targets
    alertmanager.yml               routing by owner and severity, inhibitions
    blackbox.yml                   the ICMP module the WAN probes use
    dashboards/*.json              Grafana dashboards (phase overview, WAN paths per region, GPU health per pod)

The pod files are the bulk (a 500 MW phase has about 66,000 trays): each tray is one line of JSON written with a
preformatted template, never through per-host objects or templates, so a full render stays well under a second.
"""

from __future__ import annotations

import json
import textwrap

from kasbah.monitoring import exporters as ex
from kasbah.monitoring.dashboards import dashboards
from kasbah.monitoring.rules import (
    OWNERS,
    PROBE_ALERTS,
    SESSION_ALERTS,
    SESSION_INTERVAL,
    RuleGroup,
    region_probe_targets,
    rule_groups,
)
from kasbah.plan.derive import Plan
from kasbah.plan.hosts import nodes_per_rack, oob_blocks, pod_hosts
from kasbah.render.escape import json_text, yaml_dump, yaml_quote, yaml_single_quote
from kasbah.render.templating import render_template

PREFIX = "monitoring/"
BLACKBOX_MODULE = "icmp_wan"
LOOPBACK = "127.0.0.1"
PROBE_JOBS = (("wan_path", "file_sd/site/wan-paths.json"), ("wan_region", "file_sd/site/wan-regions.json"))
EDGE_ROUTERS_SD = "file_sd/site/edge-routers.json"
"""The edge routers' FRR exporters: one target per router, its loopback on the exporter's port."""

Files = dict[str, str]


def _q(value: object) -> str:
    """A YAML scalar: a double-quoted string with every escape YAML needs (kasbah.render.escape)."""
    return yaml_quote(value)


def _sq(value: str) -> str:
    """A YAML single-quoted scalar: reads better than JSON for matchers full of double quotes."""
    return yaml_single_quote(value)


def _wrap(text: str) -> list[str]:
    return textwrap.wrap(text, 110, break_on_hyphens=False, break_long_words=False)


def _interval(seconds: int) -> str:
    return f"{seconds}s"


def _j(value: object) -> str:
    """A JSON value (file_sd): ASCII escapes, so no character can break the line-per-group layout."""
    return json.dumps(value)


def _group_json(groups: list[tuple[dict[str, str], list[str]]]) -> str:
    """file_sd: one target group per line, keys sorted, so a diff shows what moved."""
    lines = [json.dumps({"labels": labels, "targets": targets}, sort_keys=True) for labels, targets in groups]
    return "[\n" + ",\n".join(lines) + "\n]\n"


def pod_file_sd(plan: Plan) -> Files:
    """file_sd/<pod>.json for every standing pod: one group per tray (its node name is a label)."""
    blocks = oob_blocks(plan.addresses.allocations)
    out: Files = {}
    for pod in plan.pods:
        cidr = blocks.get(pod.id)
        if cidr is None or nodes_per_rack(pod) == 0:
            continue
        head = (
            f'{{"labels": {{"campus": {_j(plan.campus)}, "hall": {_j(pod.hall)}, "node": %s, '
            f'"phase": {_j(pod.phase)}, "pod": {_j(pod.id)}, "rack": %s}}, "targets": [%s]}}'
        )
        # Host names and racks start with the pod id: when it needs no JSON escape (an id never does), neither do
        # they, and quoting them by hand keeps a 66,000-tray render fast.
        q = (lambda v: f'"{v}"') if _j(pod.id) == f'"{pod.id}"' else _j
        lines = [head % (q(h.name), q(f"{pod.id}-r{h.rack:02d}"), q(h.address)) for h in pod_hosts(pod, cidr)]
        out[f"{PREFIX}file_sd/{pod.id}.json"] = "[\n" + ",\n".join(lines) + "\n]\n"
    return out


def site_file_sd(plan: Plan) -> Files:
    campus = plan.campus
    fabric = []
    for f in plan.fabrics:
        kinds = sorted({c.kind for c in f.compute if c.kind.startswith("infiniband")})
        if kinds:  # UFM manages InfiniBand only; one UFM Telemetry endpoint per phase's compute fabric
            fabric.append(
                (
                    {"campus": campus, "phase": f.phase, "fabric": ",".join(kinds)},
                    [plan.monitoring.fabric_telemetry[f.phase]],
                )
            )
    facility = [
        ({"campus": campus, "phase": h.built_in, "hall": h.id}, [plan.monitoring.hall_telemetry[h.id]])
        for h in plan.halls
    ]
    energy = [({"campus": campus, "meter": "intake"}, [plan.monitoring.energy_telemetry])]
    paths = [
        (
            {
                "campus": campus,
                "cable": s.cable,
                "landing_station": s.landing_station,
                "edge_router": s.edge_router,
                "phase": s.phase,
            },
            [s.peer_address],
        )
        for r in plan.edge.routers
        for s in r.sessions
    ]
    edge_routers = [
        (
            {"campus": campus, "edge_router": r.id, "phase": r.phase},
            [f"{r.loopback.split('/')[0]}:{ex.FRR_EXPORTER_PORT}"],
        )
        for r in plan.edge.routers
        if r.loopback
    ]
    routers: dict[str, list[str]] = {}
    for r in plan.edge.routers:
        for s in r.sessions:
            routers.setdefault(s.cable, []).append(r.id)
    preferred = {r.region: r.preference[0] for r in plan.edge.regions if r.preference}
    regions = []
    for region, prefix, address in region_probe_targets(plan):
        labels = {"campus": campus, "region": region, "prefix": prefix}
        best = preferred.get(region)
        if best is not None:
            labels |= {
                "cable": best.cable,
                "landing_station": best.landing_station,
                "edge_router": ",".join(sorted(routers.get(best.cable, []))),
            }
        regions.append((labels, [address]))
    # Slurm health: node_exporter on each controller serves the slurm role's textfile metrics (kasbah_slurm_*). No
    # `controller` target label: the metrics carry their own (which controller scontrol ping reports on).
    slurm = [
        ({"campus": campus}, [f"{h.address}:{ex.NODE_EXPORTER_PORT}"])
        for h in plan.service_hosts
        if h.role == "scheduler"
    ]
    return {
        f"{PREFIX}file_sd/site/slurm.json": _group_json(slurm),
        f"{PREFIX}file_sd/site/fabric.json": _group_json(fabric),
        f"{PREFIX}file_sd/site/facility.json": _group_json(facility),
        f"{PREFIX}file_sd/site/energy.json": _group_json(energy),
        f"{PREFIX}file_sd/site/wan-paths.json": _group_json(paths),
        f"{PREFIX}file_sd/site/wan-regions.json": _group_json(regions),
        f"{PREFIX}{EDGE_ROUTERS_SD}": _group_json(edge_routers),
    }


def prometheus_yml(plan: Plan) -> str:
    interval = plan.monitoring.scrape_interval_s
    return render_template(
        "monitoring/prometheus.yml.j2",
        q=_q,
        wrap=_wrap,
        campus=plan.campus,
        phase=plan.phase,
        interval=_interval(interval),
        timeout=_interval(min(interval, 10)),
        alertmanager=f"{LOOPBACK}:{ex.ALERTMANAGER_PORT}",
        blackbox=f"{LOOPBACK}:{ex.BLACKBOX_PORT}",
        blackbox_module=BLACKBOX_MODULE,
        probe_jobs=PROBE_JOBS,
        edge_routers_sd=EDGE_ROUTERS_SD,
        session_interval=SESSION_INTERVAL,
        ports={
            "node": ex.NODE_EXPORTER_PORT,
            "dcgm": ex.DCGM_EXPORTER_PORT,
            "ufm": ex.UFM_TELEMETRY_PORT,
            "site": ex.SITE_TELEMETRY_PORT,
            "frr": ex.FRR_EXPORTER_PORT,
        },
        self_jobs=(
            ("prometheus", f"{LOOPBACK}:{ex.PROMETHEUS_PORT}"),
            ("alertmanager", f"{LOOPBACK}:{ex.ALERTMANAGER_PORT}"),
            ("blackbox", f"{LOOPBACK}:{ex.BLACKBOX_PORT}"),
        ),
    )


def rules_yml(plan: Plan, group: RuleGroup) -> str:
    return render_template(
        "monitoring/rules.yml.j2", q=_q, wrap=_wrap, group=group, campus=plan.campus, phase=plan.phase
    )


INHIBIT_RULES: tuple[dict[str, object], ...] = (
    {
        "why": "A node that is down silences its GPU and InfiniBand alerts.",
        "source": ['alertname="NodeDown"'],
        "target": ['alertname=~"Gpu.+|Infiniband.+"'],
        "equal": ["campus", "node"],
    },
    {
        "why": "A rack that is down silences the alerts of its nodes.",
        "source": ['alertname="RackDown"'],
        "target": ['alertname=~"NodeDown|Gpu.+|Infiniband.+"'],
        "equal": ["campus", "rack"],
    },
    {
        "why": "A cable that is down silences the per-path probes over it.",
        "source": ['alertname="WanCableDown"'],
        "target": ['alertname="WanPathDown"'],
        "equal": ["campus", "cable"],
    },
    {
        "why": "An edge router that lost BFD to a landing station has paged for the cable: the probes over it, and "
        "the BGP session BFD took down, would page or ticket the same cut again.",
        "source": ['alertname="WanBfdDown"'],
        "target": ['alertname=~"WanBgpSessionDown|WanPathDown|WanCableDown"'],
        "equal": ["campus", "cable"],
    },
    {
        "why": "A BGP session that is down (BFD still up, or without BFD) has paged for the cable: the probes over "
        "it would page or ticket the same loss again.",
        "source": ['alertname="WanBgpSessionDown"'],
        "target": ['alertname=~"WanPathDown|WanCableDown"'],
        "equal": ["campus", "cable"],
    },
    {
        "why": "A region that is unreachable silences its diversity alert.",
        "source": ['alertname="WanRegionUnreachable"'],
        "target": ['alertname="WanRegionDiversityLost"'],
        "equal": ["campus", "region"],
    },
    {
        "why": "Without the blackbox exporter every probe fails: its own alert stands for the probe alerts. Not for "
        "the routers' own BFD and BGP alerts, which come from the edge's exporters: a cut must still page.",
        "source": ['alertname="BlackboxExporterDown"'],
        "target": [f'alertname=~"{"|".join(PROBE_ALERTS)}"'],
        "equal": ["campus"],
    },
    {
        "why": "A GPU above the critical temperature needs one alert, not two.",
        "source": ['alertname="GpuTemperatureCritical"'],
        "target": ['alertname="GpuTemperatureWarning"'],
        "equal": ["campus", "node", "gpu"],
    },
    {
        "why": "Over the budget silences near the budget.",
        "source": ['alertname="PowerOverBudget"'],
        "target": ['alertname="PowerNearBudget"'],
        "equal": ["campus"],
    },
)
GROUP_BY = ("alertname", "campus", "hall", "pod", "cable", "region")
FAST_PAGE = {"owner": "wan", "alerts": SESSION_ALERTS, "group_wait": "1s", "group_interval": "5s"}
"""The session alerts page through their own route: a 1 s group wait (instead of 30 s) so the page leaves within
seconds of the cut, and a 5 s group interval so a cut soon after an earlier one on the same cable (a group
Alertmanager still holds) is not held back for minutes; a notification is only sent when the group changed."""


def alertmanager_yml(plan: Plan) -> str:
    inhibit = [
        {**r, "source": [_sq(m) for m in r["source"]], "target": [_sq(m) for m in r["target"]]}  # type: ignore[union-attr]
        for r in INHIBIT_RULES
    ]
    return render_template(
        "monitoring/alertmanager.yml.j2",
        sq=_sq,
        wrap=_wrap,
        campus=plan.campus,
        phase=plan.phase,
        owners=OWNERS,
        group_by=GROUP_BY,
        fast=FAST_PAGE,
        fast_matcher=_sq('alertname=~"' + "|".join(FAST_PAGE["alerts"]) + '"'),  # type: ignore[arg-type]
        inhibit_rules=inhibit,
        receivers={r.owner: r for r in plan.monitoring.receivers},
        receivers_note="An owner without a webhook in the spec (monitoring.receivers) gets a receiver with no "
        "integration: its alerts wait in Alertmanager's API and UI. Bearer tokens are read from secrets/<owner>.token, "
        "written by the monitoring role from vault.",
    )


def receivers_yml(plan: Plan) -> str:
    """What the role must write beside alertmanager.yml: one token file per owner that names a vault variable."""
    tokens = [{"owner": r.owner, "var": r.token_var} for r in plan.monitoring.receivers if r.token_var]
    return yaml_dump(
        {"monitoring_receiver_tokens": tokens},
        header="Rendered by kasbah: bearer tokens of the alert webhooks, by vault variable name (never values).",
    )


def render(plan: Plan) -> Files:
    """Every file under monitoring/ for the phase."""
    groups = rule_groups(plan)
    files: Files = {
        f"{PREFIX}prometheus.yml": prometheus_yml(plan),
        f"{PREFIX}alertmanager.yml": alertmanager_yml(plan),
        f"{PREFIX}receivers.yml": receivers_yml(plan),
        f"{PREFIX}blackbox.yml": render_template(
            "monitoring/blackbox.yml.j2", campus=plan.campus, phase=plan.phase, module=BLACKBOX_MODULE, timeout="5s"
        ),
    }
    for group in groups:
        files[f"{PREFIX}rules/{group.file}"] = rules_yml(plan, group)
    for name, board in dashboards(plan).items():
        files[f"{PREFIX}dashboards/{name}.json"] = json_text(board, indent=2) + "\n"
    files |= site_file_sd(plan)
    files |= pod_file_sd(plan)
    return dict(sorted(files.items()))
