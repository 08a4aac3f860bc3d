"""Grafana dashboards as plain data (provisioned from JSON files): phase overview, WAN paths per region, GPU health.

Queries name only metrics the exporters document (`kasbah.monitoring.exporters`) or the recording rules Kasbah
renders; the plan's own figures (budget, planned GPUs, RTT floors) come from recording rules too, so a panel shows
reality against the plan from one data source. Rows per WAN region are generated from the plan; the GPU dashboard
picks a hall and a pod with template variables (318 pods do not belong on one page).
"""

from __future__ import annotations

from typing import Any

from kasbah.monitoring.rules import RENEWABLE_WINDOW
from kasbah.plan.derive import Plan
from kasbah.render.escape import matcher

DS = {"type": "prometheus", "uid": "${datasource}"}
Panel = dict[str, Any]


def _thresholds(*steps: tuple[str, float | None]) -> dict[str, Any]:
    return {"mode": "absolute", "steps": [{"color": c, "value": v} for c, v in steps]}


class _Board:
    """Places panels left to right in Grafana's 24-column grid, rows stacked."""

    def __init__(self) -> None:
        self.panels: list[Panel] = []
        self.x = self.y = self.row_h = 0

    def _next_id(self) -> int:
        return len(self.panels) + 1

    def row(self, title: str) -> None:
        self._newline()
        self.panels.append(
            {
                "id": self._next_id(),
                "type": "row",
                "title": title,
                "collapsed": False,
                "gridPos": {"h": 1, "w": 24, "x": 0, "y": self.y},
                "panels": [],
            }
        )
        self.y += 1

    def _newline(self) -> None:
        if self.x:
            self.y += self.row_h
            self.x = self.row_h = 0

    def add(
        self,
        kind: str,
        title: str,
        targets: list[tuple[str, str]],
        *,
        w: int = 12,
        h: int = 8,
        unit: str | None = None,
        thresholds: dict[str, Any] | None = None,
        description: str = "",
        instant: bool = False,
    ) -> None:
        if self.x + w > 24:
            self._newline()
        defaults: dict[str, Any] = {}
        if unit:
            defaults["unit"] = unit
        if thresholds:
            defaults["thresholds"] = thresholds
        self.panels.append(
            {
                "id": self._next_id(),
                "type": kind,
                "title": title,
                "description": description,
                "datasource": DS,
                "gridPos": {"h": h, "w": w, "x": self.x, "y": self.y},
                "fieldConfig": {"defaults": defaults, "overrides": []},
                "options": {},
                "targets": [
                    {
                        "refId": chr(ord("A") + i),
                        "datasource": DS,
                        "expr": expr,
                        "legendFormat": legend,
                        **({"instant": True, "format": "table"} if instant else {}),
                    }
                    for i, (expr, legend) in enumerate(targets)
                ],
            }
        )
        self.x += w
        self.row_h = max(self.row_h, h)


def _variable(name: str, label: str, query: str) -> dict[str, Any]:
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DS,
        "definition": query,
        "query": {"query": query, "refId": name},
        "refresh": 2,
        "sort": 1,
        "multi": False,
        "includeAll": False,
        "hide": 0,
    }


def _dashboard(plan: Plan, uid: str, title: str, board: _Board, variables: list[dict[str, Any]] = ()) -> dict:
    return {
        "uid": uid,
        "title": f"{plan.campus} {plan.phase}: {title}",
        "tags": ["kasbah", plan.campus, plan.phase],
        "editable": False,
        "graphTooltip": 1,
        "refresh": "1m",
        "schemaVersion": 39,
        "version": 1,
        "time": {"from": "now-6h", "to": "now"},
        "timezone": "utc",
        "annotations": {"list": []},
        "templating": {
            "list": [
                {"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus", "hide": 0},
                *variables,
            ]
        },
        "panels": board.panels,
    }


def phase_overview(plan: Plan) -> dict:
    m = plan.monitoring
    b = _Board()
    b.row(f"Power against the {m.power_budget_mw:g} MW {m.power_basis} budget")
    b.add(
        "timeseries",
        f"Campus power draw ({m.power_basis}) against budget",
        [
            ("kasbah:campus_power_draw_watts", "draw"),
            ("kasbah:campus_power_warning_watts", "warning"),
            ("kasbah:campus_power_budget_watts", "budget"),
        ],
        unit="watt",
    )
    b.add(
        "timeseries",
        "Power per hall: facility, IT and GPUs",
        [
            ("kasbah:hall_facility_power_watts", "{{hall}} facility"),
            ("kasbah:hall_it_power_watts", "{{hall}} IT"),
            ("kasbah:hall_gpu_power_watts", "{{hall}} GPUs"),
        ],
        unit="watt",
    )
    b.add(
        "stat",
        "PUE (1 h average)",
        [("kasbah:campus_pue:avg1h", "PUE"), ("kasbah:campus_pue_design", "design")],
        w=6,
        h=5,
        thresholds=_thresholds(("green", None), ("red", m.pue_alert_above)),
        description=f"Alert above {m.pue_alert_above:g} (design {m.design_pue:g} plus the spec's margin).",
    )
    b.add(
        "stat",
        f"Renewable share ({RENEWABLE_WINDOW})",
        [
            (f"kasbah:campus_renewable_share:{RENEWABLE_WINDOW}", "share"),
            ("kasbah:campus_renewable_commitment", "commitment"),
        ],
        w=6,
        h=5,
        unit="percentunit",
        thresholds=_thresholds(("red", None), ("green", m.renewable_commitment)),
    )
    b.add(
        "timeseries",
        "PUE per hall",
        [("kasbah:hall_pue", "{{hall}}")],
        w=12,
        h=5,
    )
    b.row(f"GPUs: {plan.cumulative.gpus:,} planned in {plan.cumulative.racks:,} racks")
    b.add(
        "stat",
        "GPUs healthy",
        [("sum(kasbah:hall_gpus_healthy)", "healthy"), ("sum(kasbah:hall_gpus_planned)", "planned")],
        w=6,
        description="Reporting, below the critical temperature, without a row-remap failure or critical Xid.",
    )
    b.add(
        "bargauge",
        "Healthy share of planned GPUs per hall",
        [("kasbah:hall_gpus_healthy / on (campus, hall) kasbah:hall_gpus_planned", "{{hall}}")],
        w=9,
        unit="percentunit",
    )
    b.add(
        "bargauge",
        "Nodes up per hall",
        [('sum by (hall) (up{job="node"}) / count by (hall) (up{job="node"})', "{{hall}}")],
        w=9,
        unit="percentunit",
    )
    b.row("Cooling and alerts")
    b.add(
        "timeseries",
        "Coolant supply and return per hall",
        [
            ("kasbah_cooling_supply_temperature_celsius", "{{hall}} {{loop}} supply"),
            ("kasbah_cooling_return_temperature_celsius", "{{hall}} {{loop}} return"),
        ],
        unit="celsius",
    )
    b.add(
        "table",
        "Firing alerts",
        [('sum by (alertname, severity, owner, hall, pod, cable, region) (ALERTS{alertstate="firing"})', "")],
        instant=True,
    )
    return _dashboard(plan, "kasbah-phase-overview", "phase overview", b)


def wan_paths(plan: Plan) -> dict:
    b = _Board()
    b.row("Edge sessions (one probe per session, to the landing-station peer)")
    b.add(
        "state-timeline",
        "Path probes",
        [('probe_success{job="wan_path"}', "{{cable}} via {{landing_station}} from {{edge_router}}")],
        w=12,
    )
    b.add(
        "timeseries",
        "RTT to each landing-station peer",
        [('probe_icmp_duration_seconds{job="wan_path", phase="rtt"}', "{{cable}} from {{edge_router}}")],
        w=12,
        unit="s",
    )
    for region in plan.wan.regions:
        sel = matcher("region", region.id)
        pair = " + ".join("/".join(p.cables) for p in (region.diverse_pair or [])) or "none"
        b.row(f"{region.name}: SLO {region.rtt_slo_ms:g} ms, diverse pair {pair}")
        b.add(
            "stat",
            "Reachable",
            [(f"kasbah:wan_region:reachable{{{sel}}}", "reachable")],
            w=4,
            h=6,
            thresholds=_thresholds(("red", None), ("green", 1)),
        )
        b.add(
            "stat",
            "Diverse paths",
            [(f"kasbah:wan_region:diverse_paths{{{sel}}}", "diverse paths")],
            w=4,
            h=6,
            thresholds=_thresholds(("red", None), ("orange", 1), ("green", 2)),
            description="Landing stations with a live cable towards the region; below 2 one failure cuts it off.",
        )
        b.add(
            "state-timeline",
            "Paths by cable",
            [(f"kasbah:wan_region_path:up{{{sel}}}", "{{cable}} ({{landing_station}})")],
            w=8,
            h=6,
        )
        b.add(
            "timeseries",
            "RTT against the physical floor",
            [
                (f'probe_icmp_duration_seconds{{job="wan_region", phase="rtt", {sel}}}', "{{prefix}} measured"),
                (f'kasbah:wan_region_path:rtt_floor_seconds{{{sel}, preferred="true"}}', "floor {{cable}}"),
            ],
            w=8,
            h=6,
            unit="s",
            description="The floor is fibre propagation at 4.9 µs/km over the route; "
            f"the SLO is {region.rtt_slo_ms:g} ms.",
        )
    return _dashboard(plan, "kasbah-wan-paths", "WAN paths per region", b)


def gpu_health(plan: Plan) -> dict:
    m = plan.monitoring
    sel = 'hall="$hall", pod="$pod"'
    b = _Board()
    b.row("GPUs of pod $pod")
    b.add(
        "timeseries",
        "Hottest GPU per node",
        [(f"max by (node) (DCGM_FI_DEV_GPU_TEMP{{{sel}}})", "{{node}}")],
        unit="celsius",
        thresholds=_thresholds(("green", None), ("orange", m.gpu_temp_warning_c), ("red", m.gpu_temp_critical_c)),
    )
    b.add(
        "timeseries",
        "GPU power per node",
        [(f"sum by (node) (DCGM_FI_DEV_POWER_USAGE{{{sel}}})", "{{node}}")],
        unit="watt",
    )
    b.add(
        "table",
        "Last Xid per GPU (critical set: " + ", ".join(map(str, m.xid_critical)) + ")",
        [(f"DCGM_FI_DEV_XID_ERRORS{{{sel}}} > 0", "")],
        w=8,
        instant=True,
    )
    b.add(
        "table",
        "Memory: row-remap failures and uncorrectable remapped rows",
        [
            (f"DCGM_FI_DEV_ROW_REMAP_FAILURE{{{sel}}} > 0", "remap failure"),
            (f"DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS{{{sel}}} > 0", "uncorrectable rows"),
        ],
        w=8,
        instant=True,
    )
    b.add(
        "timeseries",
        "GPU utilisation per node",
        [(f"avg by (node) (DCGM_FI_DEV_GPU_UTIL{{{sel}}})", "{{node}}")],
        w=8,
        unit="percent",
    )
    b.row("Links of pod $pod")
    b.add(
        "timeseries",
        "NVLink errors per GPU (10 min)",
        [
            (f"kasbah:gpu_nvlink_errors:increase10m{{{sel}}} > 0", "{{node}} GPU {{gpu}}"),
            (
                f"increase(DCGM_FI_DEV_NVLINK_RECOVERY_ERROR_COUNT_TOTAL{{{sel}}}[10m]) > 0",
                "{{node}} GPU {{gpu}} recovery",
            ),
        ],
    )
    b.add(
        "timeseries",
        "InfiniBand errors per port (10 min)",
        [(f"kasbah:infiniband_port_errors:increase10m{{{sel}}} > 0", "{{node}} {{device}}/{{port}}")],
    )
    b.add(
        "table",
        "InfiniBand ports not active",
        [(f"node_infiniband_state_id{{{sel}}} != 4", "")],
        instant=True,
    )
    b.add(
        "state-timeline",
        "Nodes up",
        [(f'up{{job="node", {sel}}}', "{{node}}")],
    )
    variables = [
        _variable("hall", "Hall", "label_values(DCGM_FI_DEV_GPU_TEMP, hall)"),
        _variable("pod", "Pod", 'label_values(DCGM_FI_DEV_GPU_TEMP{hall="$hall"}, pod)'),
    ]
    return _dashboard(plan, "kasbah-gpu-health", "GPU health per pod", b, variables)


def dashboards(plan: Plan) -> dict[str, dict]:
    """Dashboard file stem -> dashboard JSON (as data)."""
    return {
        "phase-overview": phase_overview(plan),
        "wan-paths": wan_paths(plan),
        "gpu-health": gpu_health(plan),
    }


def expressions(board: dict) -> list[str]:
    """Every PromQL expression of a dashboard: panel targets and variable queries."""
    out = [t["expr"] for p in board["panels"] for t in p.get("targets", [])]
    for v in board["templating"]["list"]:
        if v.get("type") == "query":
            out.append(v["query"]["query"] if isinstance(v["query"], dict) else v["query"])
    return out
