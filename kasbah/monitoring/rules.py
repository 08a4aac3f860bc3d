"""Recording and alerting rules, built from the plan: thresholds, the WAN's paths and the plan's own figures.

Every alert carries `severity` (critical pages, warning files a ticket) and `owner` (the team Alertmanager routes
to), and keeps the labels that name what broke: node, rack, pod and hall from the scrape targets (see
`kasbah.render.monitoring`), cable, landing station, edge router and region from the WAN probes. `Rule.names` lists
those labels per alert so the tests can hold every alert to them.

Where the spec is silent, the defaults are here, each with its reason. Thresholds from the spec come through
`plan.monitoring` and are never re-derived.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import get_args

from kasbah.plan.derive import Plan
from kasbah.render.escape import go_template_literal as gt
from kasbah.render.escape import matcher, promql_regex
from kasbah.spec.campus import RENEWABLE_KINDS, AlertOwner

OWNERS: tuple[str, ...] = get_args(AlertOwner)
"""Alertmanager receivers exist per owner and severity (`<owner>-page`, `<owner>-ticket`)."""
SEVERITIES = ("critical", "warning")

RENEWABLE_WINDOW = "7d"
"""The renewable share is an annual commitment; a rolling week catches a drift while there is time to act on it
(a day would alert every windless night)."""
NODE_DOWN_FOR = "3m"
"""Six missed scrapes at the default 30 s interval: longer than a reboot's blip, shorter than a drain decision."""
TARGET_LABELS = ("campus", "phase", "hall", "pod", "rack", "node")
"""What every compute target carries (file_sd per pod); GPU and node alerts keep all of them."""
XID_LABEL = '{{ $value | printf "%.0f" }}'
XID_MEANINGS = {
    46: "GPU stopped processing",
    48: "double-bit ECC error",
    63: "row-remap recording event",
    64: "row-remap or page-retirement recording failure",
    74: "NVLink error",
    79: "fallen off the bus",
    92: "excessive single-bit ECC",
    94: "contained ECC error",
    95: "uncontained ECC error",
    119: "GSP RPC timeout",
    120: "GSP error",
    121: "C2C link corrected error",
}
"""Driver meanings of the Xids the domain reference lists (5b), quoted in the alert's description."""


@dataclass(frozen=True)
class Rule:
    """A recording rule (`record`) or an alerting rule (`alert`)."""

    expr: str
    record: str | None = None
    alert: str | None = None
    for_: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    names: tuple[str, ...] = ()
    """Labels the fired alert must carry, non-empty, to name the broken thing."""
    comment: str | None = None

    @property
    def name(self) -> str:
        return self.alert or self.record or ""


@dataclass(frozen=True)
class RuleGroup:
    name: str
    file: str
    rules: tuple[Rule, ...]
    comment: str = ""
    interval: str | None = None
    """The group's own evaluation interval (None: Prometheus's global one, the spec's scrape interval)."""


def _alert(
    name: str,
    expr: str,
    *,
    severity: str,
    owner: str,
    summary: str,
    description: str,
    names: tuple[str, ...],
    for_: str | None = None,
    labels: dict[str, str] | None = None,
    comment: str | None = None,
) -> Rule:
    assert severity in SEVERITIES and owner in OWNERS, (name, severity, owner)
    return Rule(
        expr=expr,
        alert=name,
        for_=for_,
        labels={"severity": severity, "owner": owner, **(labels or {})},
        annotations={"summary": summary, "description": description},
        names=names,
        comment=comment,
    )


def _record(name: str, expr: str, labels: dict[str, str] | None = None, comment: str | None = None) -> Rule:
    return Rule(expr=expr, record=name, labels=labels or {}, comment=comment)


def _num(x: float) -> str:
    """A number as PromQL reads it, without float noise (36000000, 1.3, 0.9)."""
    return f"{x:.10g}" if abs(x) < 1e15 else repr(x)


def _mw(x: float) -> str:
    return f"{x:g} MW"


def xid_expr(xids: list[int]) -> str:
    """The last Xid is one of the critical set (`DCGM_FI_DEV_XID_ERRORS` holds the value of the last Xid); an
    empty set gives an empty string, and the callers leave out what would test it."""
    return " or ".join(f"DCGM_FI_DEV_XID_ERRORS == {x}" for x in xids)


_WHERE = "rack {{ $labels.rack }}, pod {{ $labels.pod }}, hall {{ $labels.hall }}"
_GPU = "GPU {{ $labels.gpu }} of {{ $labels.node }} (" + _WHERE + ")"


def node_rules(plan: Plan) -> RuleGroup:
    by_rack = "campus, phase, hall, pod, rack"
    return RuleGroup(
        name="kasbah-nodes",
        file="nodes.yml",
        comment="Compute trays: node_exporter (9100) and dcgm-exporter (9400) targets from file_sd/<pod>.json.",
        rules=(
            _alert(
                "NodeDown",
                'up{job="node"} == 0',
                for_=NODE_DOWN_FOR,
                severity="critical",
                owner="compute",
                summary="Node {{ $labels.node }} is down (" + _WHERE + ")",
                description=f"node_exporter on {{{{ $labels.instance }}}} has not answered for {NODE_DOWN_FOR}; "
                "its GPU alerts are silenced while it is down.",
                names=TARGET_LABELS,
            ),
            _alert(
                "RackDown",
                f'count by ({by_rack}) (up{{job="node"}} == 0) == count by ({by_rack}) (up{{job="node"}})',
                for_=NODE_DOWN_FOR,
                severity="critical",
                owner="facility",
                summary="Every node of rack {{ $labels.rack }} is down "
                "(pod {{ $labels.pod }}, hall {{ $labels.hall }})",
                description="All {{ $value }} compute trays of the rack stopped answering at once: check the rack's "
                "power shelves, cooling and top-of-rack switch before the nodes. Its NodeDown alerts are silenced.",
                names=("campus", "phase", "hall", "pod", "rack"),
            ),
            _alert(
                "GpuExporterDown",
                'up{job="dcgm"} == 0',
                for_="5m",
                severity="warning",
                owner="compute",
                summary="dcgm-exporter on {{ $labels.node }} is down (" + _WHERE + ")",
                description="No GPU telemetry from {{ $labels.instance }}: GPU alerts for this node cannot fire.",
                names=TARGET_LABELS,
            ),
        ),
    )


def gpu_rules(plan: Plan) -> RuleGroup:
    m = plan.monitoring
    warn, crit = _num(m.gpu_temp_warning_c), _num(m.gpu_temp_critical_c)
    nvlink_errors = " + ".join(
        f"increase(DCGM_FI_DEV_NVLINK_{c}_ERROR_COUNT_TOTAL[10m])" for c in ("CRC_FLIT", "CRC_DATA", "REPLAY")
    )
    xids = ", ".join(str(x) for x in m.xid_critical)
    meanings = "; ".join(f"{x} {XID_MEANINGS[x]}" for x in m.xid_critical if x in XID_MEANINGS)
    rules = (
        _record(
            "kasbah:gpu_nvlink_errors:increase10m",
            nvlink_errors,
            comment="CRC (flit and data) and replay errors of all a GPU's NVLinks over 10 minutes; the counters "
            "are off in dcgm-exporter's default file, on in the one the gpu role installs (kasbah.render.gpu).",
        ),
        _alert(
            "GpuTemperatureWarning",
            f"DCGM_FI_DEV_GPU_TEMP > {warn}",
            for_="2m",
            severity="warning",
            owner="compute",
            summary=_GPU + " is above " + warn + " °C",
            description='{{ $value | printf "%.0f" }} °C; the warning level is ' + warn + " °C and the critical "
            "level " + crit + " °C. Check the rack's coolant flow and supply temperature.",
            names=(*TARGET_LABELS, "gpu"),
        ),
        _alert(
            "GpuTemperatureCritical",
            f"DCGM_FI_DEV_GPU_TEMP > {crit}",
            for_="1m",
            severity="critical",
            owner="compute",
            summary=_GPU + " is above " + crit + " °C",
            description='{{ $value | printf "%.0f" }} °C, above the critical level of ' + crit + " °C: the GPU "
            "will throttle or shut down. Drain the node if it does not fall.",
            names=(*TARGET_LABELS, "gpu"),
        ),
        _alert(
            "GpuXidCritical",
            xid_expr(m.xid_critical),
            severity="critical",
            owner="compute",
            labels={"xid": XID_LABEL},
            summary=_GPU + ' reported critical Xid {{ $value | printf "%.0f" }}',
            description=f"The last Xid is in the campus's critical set ({xids}): drain the node and reset the GPU; "
            "RMA if it recurs." + (f" Meanings: {meanings}." if meanings else ""),
            names=(*TARGET_LABELS, "gpu", "xid"),
            comment="DCGM_FI_DEV_XID_ERRORS holds the value of the last Xid (domain reference 5a, 5b).",
        ),
        _alert(
            "GpuRowRemapFailure",
            "DCGM_FI_DEV_ROW_REMAP_FAILURE > 0",
            severity="critical",
            owner="compute",
            summary=_GPU + " failed to remap a memory row",
            description="Row remapping failed: the GPU can no longer retire bad memory. Drain the node and "
            "replace the GPU.",
            names=(*TARGET_LABELS, "gpu"),
        ),
        _alert(
            "GpuUncorrectableRemappedRowsIncreased",
            "increase(DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS[1h]) > 0",
            severity="warning",
            owner="compute",
            summary=_GPU + " remapped rows after uncorrectable errors",
            description="Uncorrectable memory errors led to new remapped rows in the last hour; reset the GPU "
            "when convenient and watch for Xid 64 or a remap failure.",
            names=(*TARGET_LABELS, "gpu"),
        ),
        _alert(
            "GpuNvlinkErrors",
            "kasbah:gpu_nvlink_errors:increase10m > 0",
            severity="warning",
            owner="compute",
            summary=_GPU + " has NVLink CRC or replay errors",
            description='{{ $value | printf "%.0f" }} NVLink CRC and replay errors in 10 minutes: a marginal '
            "link to the NVLink switch tray; reseat or replace at the next maintenance.",
            names=(*TARGET_LABELS, "gpu"),
        ),
        _alert(
            "GpuNvlinkDown",
            "increase(DCGM_FI_DEV_NVLINK_RECOVERY_ERROR_COUNT_TOTAL[10m]) > 0",
            severity="critical",
            owner="compute",
            summary=_GPU + " lost an NVLink (link recovery)",
            description="An NVLink dropped and had to recover in the last 10 minutes; jobs spanning the NVLink "
            "domain stall or fail. A link that does not come back raises Xid 74.",
            names=(*TARGET_LABELS, "gpu"),
            comment="dcgm-exporter's documented fields have no per-link up/down gauge (domain reference 5a): a "
            "recovery error is the link going down and retraining; a link that stays down raises Xid 74, which "
            "GpuXidCritical reports.",
        ),
    )
    return RuleGroup(
        name="kasbah-gpus",
        file="gpus.yml",
        comment="GPU health from dcgm-exporter; thresholds from the campus spec's monitoring section.",
        # No critical Xids in the spec: no Xid alert (an empty `or` chain is not PromQL).
        rules=tuple(r for r in rules if r.expr),
    )


def fabric_rules(plan: Plan) -> RuleGroup:
    ib_errors = " + ".join(
        f"increase(node_infiniband_{c}[10m])"
        for c in ("port_errors_received_total", "link_error_recovery_total", "link_downed_total")
    )
    port = "port {{ $labels.device }}/{{ $labels.port }} of {{ $labels.node }} (" + _WHERE + ")"
    return RuleGroup(
        name="kasbah-fabric",
        file="fabric.yml",
        comment="InfiniBand ports seen from the hosts (node_exporter's infiniband collector) and UFM Telemetry.",
        rules=(
            _record(
                "kasbah:infiniband_port_errors:increase10m",
                ib_errors,
                comment="Receive errors, link error recoveries and link-downed events per port over 10 minutes.",
            ),
            _alert(
                "InfinibandLinkErrors",
                "kasbah:infiniband_port_errors:increase10m > 0",
                severity="warning",
                owner="fabric",
                summary="InfiniBand errors on " + port,
                description='{{ $value | printf "%.0f" }} receive errors, link recoveries or link-down events in 10 '
                "minutes: check the cable and transceiver of this port.",
                names=(*TARGET_LABELS, "device", "port"),
            ),
            _alert(
                "InfinibandLinkDown",
                "node_infiniband_state_id != 4",
                for_="2m",
                severity="critical",
                owner="fabric",
                summary="InfiniBand " + port + " is not active",
                description="Port state {{ $value }} (4 = ACTIVE): the node has lost this rail of the compute fabric.",
                names=(*TARGET_LABELS, "device", "port"),
                comment="Every port the host's infiniband collector sees counts: a port the plan does not cable must "
                "be disabled on the host, or it alerts here.",
            ),
            _alert(
                "SwitchTelemetryDown",
                'up{job="ufm"} == 0',
                for_="5m",
                severity="warning",
                owner="fabric",
                summary="UFM Telemetry of {{ $labels.phase }}'s compute fabric is down",
                description="No switch telemetry from {{ $labels.instance }} (UFM Telemetry, moved to port 9110 so it "
                "does not clash with node_exporter).",
                names=("campus", "phase", "fabric"),
            ),
        ),
    )


def region_probe_targets(plan: Plan) -> list[tuple[str, str, str]]:
    """(region, prefix, probe address) for every prefix of every region, as the plan gives them."""
    return [(r.region, p, a) for r in plan.edge.regions for p, a in zip(r.prefixes, r.probe_addresses, strict=True)]


def wan_rules(plan: Plan) -> RuleGroup:
    campus = plan.campus
    rules: list[Rule] = []
    lit = {s.cable: s.landing_station for r in plan.edge.routers for s in r.sessions}
    for region in plan.wan.regions:
        pair = {c for p in (region.diverse_pair or []) for c in p.cables}
        preferred = set(region.preferred.cables) if region.preferred else set()
        floor: dict[str, float] = {}
        for path in region.paths:
            for cable in path.cables:
                floor[cable] = min(floor.get(cable, float("inf")), path.rtt_floor_ms)
        for cable in sorted(floor):
            if cable not in lit:
                continue
            labels = {
                "campus": campus,
                "region": region.id,
                "cable": cable,
                "landing_station": lit[cable],
                "preferred": str(cable in preferred).lower(),
                "diverse_pair": str(cable in pair).lower(),
            }
            rules.append(_record("kasbah:wan_region_path:info", "vector(1)", labels))
            rules.append(
                _record("kasbah:wan_region_path:rtt_floor_seconds", f"vector({_num(floor[cable] / 1000)})", labels)
            )
    by_cable = "campus, cable, landing_station"
    rules += [
        _record(
            "kasbah:wan_cable:up",
            f'max by ({by_cable}) (probe_success{{job="wan_path"}})',
            comment="A cable is up while any edge session over it answers its probe.",
        ),
        _record(
            "kasbah:wan_region_path:up",
            f"kasbah:wan_region_path:info * on ({by_cable}) group_left () kasbah:wan_cable:up",
        ),
        _record(
            "kasbah:wan_region:diverse_paths",
            "count by (campus, region) (count by (campus, region, landing_station) (kasbah:wan_region_path:up == 1))"
            " or on (campus, region) (0 * count by (campus, region) (kasbah:wan_region_path:info))",
            comment="Every path leaves over exactly one cable from one landing station, so two paths are diverse "
            "(no shared cable, no shared station) exactly when their stations differ: the number of landing "
            "stations with a live cable towards the region is its number of diverse paths.",
        ),
        _record(
            "kasbah:wan_region:reachable",
            'max by (campus, region) (probe_success{job="wan_region"})',
            comment="The first address of each of the region's prefixes answers, over whichever path routing chose.",
        ),
        _alert(
            "WanPathDown",
            'probe_success{job="wan_path"} == 0',
            for_="1m",
            severity="warning",
            owner="wan",
            summary="WAN path over cable {{ $labels.cable }} from {{ $labels.edge_router }} is down",
            description="The BGP peer at landing station {{ $labels.landing_station }} ({{ $labels.instance }}) does "
            "not answer over cable {{ $labels.cable }}; routing fails over to the next path. Silenced when the "
            "whole cable is down.",
            names=("campus", "cable", "landing_station", "edge_router"),
        ),
        _alert(
            "WanCableDown",
            "kasbah:wan_cable:up == 0",
            for_="1m",
            severity="critical",
            owner="wan",
            summary="Cable {{ $labels.cable }} (landing station {{ $labels.landing_station }}) is down",
            description="No edge session over cable {{ $labels.cable }} answers: every path over it is lost. Call "
            "the carrier at {{ $labels.landing_station }}.",
            names=("campus", "cable", "landing_station"),
        ),
    ]
    for region in plan.wan.regions:
        cables = sorted({c for p in region.paths for c in p.cables if c in lit})
        over = ", ".join(f"{c} ({lit[c]})" for c in cables) or "no lit cable"
        pair = " + ".join("/".join(p.cables) for p in (region.diverse_pair or [])) or "none"
        rules.append(
            _alert(
                "WanRegionDiversityLost",
                f"kasbah:wan_region:diverse_paths{{{matcher('region', region.id)}}} < 2",
                for_="1m",
                severity="critical",
                owner="wan",
                labels={"region": gt(region.id)},
                summary=f"{gt(region.name)} is left with fewer than two diverse paths",
                description="{{ $value }} landing station(s) still carry a live cable towards "
                f"{gt(region.name)}; its paths leave over {gt(over)}; the planned diverse pair is {gt(pair)}. "
                "One more failure cuts the region off.",
                names=("campus", "region"),
            )
        )
    rules += [
        _alert(
            "WanRegionUnreachable",
            "kasbah:wan_region:reachable == 0",
            for_="2m",
            severity="critical",
            owner="wan",
            summary="Region {{ $labels.region }} is unreachable",
            description="None of the region's probe addresses answers over any path.",
            names=("campus", "region"),
        ),
        _alert(
            "BlackboxExporterDown",
            'up{job="blackbox"} == 0',
            for_="2m",
            severity="critical",
            owner="monitoring",
            summary="The blackbox exporter on {{ $labels.instance }} is down: WAN paths are not probed",
            description="Every WAN probe fails while it is down; WAN alerts are silenced until it is back.",
            names=("campus", "instance"),
        ),
    ]
    return RuleGroup(
        name="kasbah-wan",
        file="wan.yml",
        comment="WAN paths from the plan (kasbah.plan.wan, kasbah.plan.edge) and the blackbox probes over them.",
        rules=tuple(rules),
    )


SESSION_INTERVAL = "1s"
"""Scrape interval of the edge routers' FRR exporters and evaluation interval of the session rules. A cut is then
seen by Prometheus at most 1 s after BFD declares it (BFD itself takes the plan's interval x multiplier, 300 ms in
the examples), and fires at most 1 s later: with Alertmanager's 1 s group wait for these alerts the page leaves
within about 3.5 s of the cut, inside the 10 s target. Each scrape is two vty queries per router (about 50 ms)."""
BFD_DOWN_FOR = None
"""No `for`: BFD has already waited its detection time (interval x multiplier) before it declared the peer down;
a second wait here would only delay the page."""
BGP_DOWN_FOR = "5s"
"""A session lost without BFD noticing (a NOTIFICATION, an expired hold timer, a peer's admin shutdown): five
evaluations, so a session reset by a configuration reload that comes straight back does not page."""
PROBE_ALERTS = ("WanPathDown", "WanCableDown", "WanRegionUnreachable", "WanRegionDiversityLost")
"""Alerts on the blackbox exporter's probes over the WAN: without the exporter they all fail at once."""

SESSION_ALERTS = ("WanBfdDown", "WanBgpSessionDown")
"""Alerts on the routers' own session state: they page first, and silence the probe alerts over the same cable
(`kasbah.render.monitoring.INHIBIT_RULES`); Alertmanager routes them with a short group wait."""


def wan_session_rules(plan: Plan) -> RuleGroup:
    """BFD and BGP state of every planned edge session, from prometheus-frr-exporter on each edge router."""
    campus = plan.campus
    rules: list[Rule] = []
    for router in plan.edge.routers:
        for s in router.sessions:
            labels = {
                "campus": campus,
                "edge_router": router.id,
                "peer": s.peer_address,
                "cable": s.cable,
                "landing_station": s.landing_station,
            }
            rules.append(_record("kasbah:wan_session:info", "vector(1)", labels))
    on = "on (campus, edge_router, peer) group_left (cable, landing_station) kasbah:wan_session:info"
    rules += [
        _alert(
            "WanBfdDown",
            f'(frr_bfd_peer_state{{job="frr"}} == 0) * {on}',
            for_=BFD_DOWN_FOR,
            severity="critical",
            owner="wan",
            summary="BFD to {{ $labels.landing_station }} over cable {{ $labels.cable }} is down on "
            "{{ $labels.edge_router }}",
            description="{{ $labels.edge_router }} lost BFD to its peer {{ $labels.peer }} at landing station "
            "{{ $labels.landing_station }}: cable {{ $labels.cable }} (or its circuit) carries nothing, and BGP "
            "has withdrawn its routes; traffic fails over to the next path. Call the carrier at "
            "{{ $labels.landing_station }}. The path probes over the cable are silenced while this fires.",
            names=("campus", "edge_router", "peer", "cable", "landing_station"),
            comment="Pages within seconds of a cut: the router's own BFD state, scraped every "
            f"{SESSION_INTERVAL}; WanPathDown and WanCableDown (the probes) stay as the second signal.",
        ),
        _alert(
            "WanBgpSessionDown",
            f'(frr_bgp_peer_state{{job="frr"}} == 0) * {on}',
            for_=BGP_DOWN_FOR,
            severity="critical",
            owner="wan",
            summary="BGP session to {{ $labels.landing_station }} over cable {{ $labels.cable }} is down on "
            "{{ $labels.edge_router }}",
            description="{{ $labels.edge_router }}'s BGP session with {{ $labels.peer }} (AS {{ $labels.peer_as }}) "
            "at landing station {{ $labels.landing_station }} is not Established: no routes are learnt over cable "
            "{{ $labels.cable }}. Silenced while BFD to the same peer is down (the cut pages once).",
            names=("campus", "edge_router", "peer", "cable", "landing_station"),
        ),
        _alert(
            "EdgeRouterExporterDown",
            'up{job="frr"} == 0',
            for_="2m",
            severity="warning",
            owner="monitoring",
            summary="The FRR exporter on {{ $labels.edge_router }} ({{ $labels.instance }}) is down",
            description="BGP and BFD state of {{ $labels.edge_router }} are not scraped: a cut of its cables pages "
            "only through the path probes (WanPathDown, WanCableDown), about a minute later.",
            names=("campus", "edge_router", "instance"),
        ),
    ]
    return RuleGroup(
        name="kasbah-wan-sessions",
        file="wan-sessions.yml",
        comment="BGP and BFD state of the edge routers' sessions (prometheus-frr-exporter), evaluated every "
        f"{SESSION_INTERVAL} so that a cable cut pages in seconds.",
        rules=tuple(rules),
        interval=SESSION_INTERVAL,
    )


def power_rules(plan: Plan) -> RuleGroup:
    m = plan.monitoring
    campus = plan.campus
    hall = "campus, hall"  # a hall's pods may come from later phases: a hall is named by campus and id
    renewable = "kind=~" + promql_regex(sorted(RENEWABLE_KINDS))
    draw = "kasbah:campus_facility_power_watts" if m.power_basis == "facility" else "kasbah:campus_it_power_watts"
    healthy = (
        f"(DCGM_FI_DEV_GPU_TEMP <= {_num(m.gpu_temp_critical_c)})"
        " unless on (node, gpu) (DCGM_FI_DEV_ROW_REMAP_FAILURE > 0)"
    )
    if m.xid_critical:
        healthy += f" unless on (node, gpu) ({xid_expr(m.xid_critical)})"
    rules: list[Rule] = [
        _record("kasbah:hall_facility_power_watts", f"sum by ({hall}) (kasbah_facility_power_watts)"),
        _record("kasbah:hall_it_power_watts", f"sum by ({hall}) (kasbah_it_power_watts)"),
        _record(
            "kasbah:hall_gpu_power_watts",
            f"sum by ({hall}) (DCGM_FI_DEV_POWER_USAGE)",
            comment="What the GPUs alone draw (DCGM board power): part of the IT load, never the whole of it.",
        ),
        _record("kasbah:hall_pue", "kasbah:hall_facility_power_watts / kasbah:hall_it_power_watts"),
        _record("kasbah:campus_facility_power_watts", "sum by (campus) (kasbah_facility_power_watts)"),
        _record("kasbah:campus_it_power_watts", "sum by (campus) (kasbah_it_power_watts)"),
        _record("kasbah:campus_gpu_power_watts", "sum by (campus) (DCGM_FI_DEV_POWER_USAGE)"),
        _record(
            "kasbah:campus_power_draw_watts",
            draw,
            {"basis": m.power_basis},
            comment=f"The budget is stated as {m.power_basis} power, so the draw is measured on the same basis.",
        ),
        _record("kasbah:campus_pue", "kasbah:campus_facility_power_watts / kasbah:campus_it_power_watts"),
        _record("kasbah:campus_pue:avg1h", "avg_over_time(kasbah:campus_pue[1h])"),
        _record(
            f"kasbah:campus_renewable_share:{RENEWABLE_WINDOW}",
            f"sum by (campus) (increase(kasbah_supply_energy_joules_total{{{renewable}}}[{RENEWABLE_WINDOW}]))"
            f" / sum by (campus) (increase(kasbah_supply_energy_joules_total[{RENEWABLE_WINDOW}]))",
            comment="Share of the energy drawn from renewable kinds over a rolling window.",
        ),
        _record(
            "kasbah:hall_gpus_healthy",
            f"count by ({hall}) ({healthy})",
            comment="GPUs reporting, below the critical temperature, without a row-remap failure or critical Xid.",
        ),
        # The plan's own figures, so dashboards draw reality against the plan without a second source.
        _record(
            "kasbah:campus_power_budget_watts",
            f"vector({_num(m.power_budget_mw * 1e6)})",
            {"campus": campus, "basis": m.power_basis},
        ),
        _record(
            "kasbah:campus_power_warning_watts",
            f"vector({_num(m.power_warning_mw * 1e6)})",
            {"campus": campus, "basis": m.power_basis},
        ),
        _record("kasbah:campus_pue_design", f"vector({_num(m.design_pue)})", {"campus": campus}),
        _record("kasbah:campus_renewable_commitment", f"vector({_num(m.renewable_commitment)})", {"campus": campus}),
    ]
    gpus: dict[str, int] = {}
    for pod in plan.pods:
        gpus[pod.hall] = gpus.get(pod.hall, 0) + pod.gpus
    for hall_id in sorted(gpus):
        rules.append(
            _record("kasbah:hall_gpus_planned", f"vector({gpus[hall_id]})", {"campus": campus, "hall": hall_id})
        )
    budget, warning = m.power_budget_mw, m.power_warning_mw
    rules += [
        _alert(
            "PowerNearBudget",
            f"kasbah:campus_power_draw_watts > {_num(warning * 1e6)}",
            for_="15m",
            severity="warning",
            owner="facility",
            summary=f"{gt(campus)} draws more than {_mw(warning)} of its {_mw(budget)} {m.power_basis} power budget",
            description="{{ $value | humanize }}W drawn ("
            + m.power_basis
            + " basis) after phase "
            + gt(plan.phase)
            + f", above the warning level of {_mw(warning)}; hold new load until the budget is raised.",
            names=("campus", "basis"),
        ),
        _alert(
            "PowerOverBudget",
            f"kasbah:campus_power_draw_watts > {_num(budget * 1e6)}",
            for_="5m",
            severity="critical",
            owner="facility",
            summary=f"{gt(campus)} draws more than its {_mw(budget)} {m.power_basis} power budget",
            description="{{ $value | humanize }}W drawn (" + m.power_basis + " basis), above the contracted "
            f"{_mw(budget)}: shed or cap load (GPU power limits) now.",
            names=("campus", "basis"),
        ),
        _alert(
            "PueAboveDesign",
            f"kasbah:campus_pue:avg1h > {_num(m.pue_alert_above)}",
            for_="30m",
            severity="warning",
            owner="facility",
            summary=f"{gt(campus)} runs at a PUE above {_num(m.pue_alert_above)} (design {_num(m.design_pue)})",
            description='Hourly PUE {{ $value | printf "%.2f" }}, above the design '
            f"{_num(m.design_pue)} plus the spec's margin: check the cooling plant's set points and the "
            "per-hall PUE.",
            names=("campus",),
        ),
        _alert(
            "RenewableShareBelowCommitment",
            f"kasbah:campus_renewable_share:{RENEWABLE_WINDOW} < {_num(m.renewable_commitment)}",
            for_="6h",
            severity="warning",
            owner="energy",
            summary=f"{gt(campus)}'s renewable share over {RENEWABLE_WINDOW} is below the "
            f"{_num(m.renewable_commitment * 100)} % commitment",
            description="{{ $value | humanizePercentage }} of the energy drawn over the last "
            f"{RENEWABLE_WINDOW} came from renewable supplies, below the declared "
            f"{_num(m.renewable_commitment * 100)} %: shift flexible load or call on firming.",
            names=("campus",),
        ),
        _alert(
            "FacilityTelemetryDown",
            'up{job=~"facility|energy"} == 0',
            for_="5m",
            severity="critical",
            owner="facility",
            summary="Site telemetry {{ $labels.instance }} ({{ $labels.job }}) is down",
            description="Power, cooling or supply-meter readings from {{ $labels.instance }} are missing: the power "
            "budget, PUE and renewable-share alerts are blind to what it measures while it is down.",
            names=("campus", "job", "instance"),
        ),
    ]
    return RuleGroup(
        name="kasbah-power",
        file="power.yml",
        comment=f"Power against the {_mw(m.power_budget_mw)} {m.power_basis} budget of the campus after "
        f"{plan.phase}, PUE and renewable share, from the site's telemetry (kasbah_* metrics).",
        rules=tuple(rules),
    )


SUPPLY_SHORT_RATIO = 0.5
"""Renewable supply drawn below half of what the year's model matches for two hours: the model is a typical year,
not a forecast, so only a gap this wide and this long says more than the weather's spread (a choice, not a standard)."""
CAPS_IN_FORCE_FOR = "3h"
"""Caps are planned; caps held for three hours in a row (a long windless night) cost enough throughput to tell."""


def energy_rules(plan: Plan) -> RuleGroup:
    """Power following (`kasbah energy`): caps in force from the GPU role's applier, the model's supply and load for
    the hour against the supply the intake meters measure."""
    campus = plan.campus
    renewable = "kind=~" + promql_regex(sorted(RENEWABLE_KINDS))
    rules: list[Rule] = [
        _record(
            "kasbah:pod_gpu_power_cap_ratio",
            "min by (campus, hall, pod) (kasbah_energy_gpu_power_cap_ratio)",
            comment="The lowest GPU power cap in force in each pod (1: none).",
        ),
        _record("kasbah:campus_pods_capped", "count by (campus) (kasbah:pod_gpu_power_cap_ratio < 1)"),
        _record("kasbah:campus_modelled_supply_watts", "max by (campus) (kasbah_energy_modelled_supply_watts)"),
        _record("kasbah:campus_modelled_load_watts", "max by (campus) (kasbah_energy_modelled_load_watts)"),
        _record(
            "kasbah:campus_modelled_matched_watts",
            "(kasbah:campus_modelled_supply_watts <= kasbah:campus_modelled_load_watts)"
            " or kasbah:campus_modelled_load_watts",
            comment="What the model's supply can serve this hour: the smaller of its supply and load.",
        ),
        _record(
            "kasbah:campus_renewable_supply_watts",
            f"sum by (campus) (rate(kasbah_supply_energy_joules_total{{{renewable}}}[15m]))",
            comment="Renewable power drawn at the intake, measured.",
        ),
        _alert(
            "GpuPowerCapsInForce",
            "kasbah:campus_pods_capped > 0",
            for_=CAPS_IN_FORCE_FOR,
            severity="warning",
            owner="energy",
            summary=f"GPU power caps have held on {{{{ $value }}}} pod(s) of {gt(campus)} for {CAPS_IN_FORCE_FOR}",
            description="The power-following schedule caps GPUs while renewable supply falls short; caps held this "
            "long cost training throughput: check the wind and solar forecast and the storage's charge.",
            names=("campus",),
        ),
        _alert(
            "RenewableSupplyBelowModel",
            f"kasbah:campus_renewable_supply_watts < {_num(SUPPLY_SHORT_RATIO)} * kasbah:campus_modelled_matched_watts",
            for_="2h",
            severity="warning",
            owner="energy",
            summary=f"{gt(campus)} draws less than half the renewable power its energy model expects",
            description="{{ $value | humanize }}W of solar and wind drawn, under half of what the year's model "
            "matches for this hour: a plant outage or curtailment by the grid operator? The schedule's caps assume "
            "the model's supply.",
            names=("campus",),
        ),
    ]
    return RuleGroup(
        name="kasbah-energy",
        file="energy.yml",
        comment="Power following (kasbah energy): GPU caps in force and the model's supply against the meters.",
        rules=tuple(rules),
    )


SLURM_BLOCK_DEGRADED_FOR = "10m"
"""A tray drained for a reboot or a quick repair comes back within minutes; ten says it is being worked on."""
SLURM_SEGMENT_FOR = "5m"


def slurm_rules(plan: Plan) -> RuleGroup | None:
    """Scheduler health from the slurm role's exporter (textfile metrics on the controllers, job `slurm`).

    Thresholds are the plan's: a block is degraded when fewer than all its trays are up (whole-block jobs can no
    longer use it: a ticket); it pages when it can no longer hold one segment of `segment_max` trays (the size users
    are told to request), or when no block of the cluster is whole (a whole-block job can run nowhere), or when no
    controller answers. Both controllers export the same blocks, so block values are taken per block (max).
    """
    s = plan.slurm
    if s is None:
        return None
    block = "block {{ $labels.block }}"
    return RuleGroup(
        name="kasbah-slurm",
        file="slurm.yml",
        comment="Slurm: controllers and NVLink blocks from the slurm role's exporter (node_exporter textfile, job "
        "slurm on the controllers).",
        rules=(
            _record(
                "kasbah:slurm_block_up:max",
                'max by (campus, block) (kasbah_slurm_block_nodes{state="up"})',
                comment="Trays of each block the scheduler can place jobs on (both controllers report every block).",
            ),
            _record("kasbah:slurm_block_size:max", "max by (campus, block) (kasbah_slurm_block_size)"),
            _alert(
                "SlurmBlockDegraded",
                "kasbah:slurm_block_up:max < kasbah:slurm_block_size:max",
                for_=SLURM_BLOCK_DEGRADED_FOR,
                severity="warning",
                owner="compute",
                summary=f"NVLink {block} has {{{{ $value }}}} trays up: whole-block jobs cannot use it",
                description=f"Segments of up to {s.segment_max} trays still fit while at least {s.segment_max} trays "
                "are up; resume or repair the drained trays (sinfo -R).",
                names=("campus", "block"),
            ),
            _alert(
                "SlurmBlockBelowSegment",
                f"kasbah:slurm_block_up:max < {s.segment_max}",
                for_=SLURM_SEGMENT_FOR,
                severity="critical",
                owner="compute",
                summary=f"NVLink {block} has only {{{{ $value }}}} trays up, fewer than a {s.segment_max}-tray segment",
                description=f"Jobs asking for --segment={s.segment_max} can no longer use this rack: the scheduler "
                "lost a whole NVLink domain of capacity.",
                names=("campus", "block"),
            ),
            _alert(
                "SlurmNoWholeBlock",
                "(count(kasbah:slurm_block_up:max >= kasbah:slurm_block_size:max) or vector(0)) == 0"
                " and on() count(kasbah:slurm_block_size:max) > 0",
                for_=SLURM_SEGMENT_FOR,
                severity="critical",
                owner="compute",
                summary="No NVLink block of the cluster is whole: a whole-block job can run nowhere",
                description="Every block has a drained or down tray; whole-block jobs wait until one is repaired.",
                names=("campus",),
                labels={"campus": gt(plan.campus)},
            ),
            _alert(
                "SlurmControllerDown",
                "max by (campus, controller) (kasbah_slurm_controller_up) == 0",
                for_="2m",
                severity="warning",
                owner="compute",
                summary="Slurm controller {{ $labels.controller }} is down",
                description="scontrol ping reports it DOWN; the other controller of the pair serves the cluster.",
                names=("campus", "controller"),
            ),
            _alert(
                "SlurmctldDown",
                "max by (campus) (kasbah_slurm_controller_up) == 0",
                for_="2m",
                severity="critical",
                owner="compute",
                summary="No Slurm controller answers",
                description="Both slurmctld are down: no job starts and running jobs cannot be tracked.",
                names=("campus",),
            ),
            _alert(
                "SlurmHealthStale",
                "time() - max by (campus) (kasbah_slurm_exporter_last_run_timestamp_seconds) > 300",
                for_="5m",
                severity="warning",
                owner="monitoring",
                summary="Slurm health metrics are stale",
                description="The slurm role's exporter has not run for over 5 minutes on any controller (cron, or the "
                "controllers themselves): the block alerts cannot fire.",
                names=("campus",),
            ),
        ),
    )


def rule_groups(plan: Plan) -> list[RuleGroup]:
    slurm = slurm_rules(plan)
    return [
        node_rules(plan),
        gpu_rules(plan),
        fabric_rules(plan),
        wan_rules(plan),
        wan_session_rules(plan),
        power_rules(plan),
        energy_rules(plan),
        *([slurm] if slurm is not None else []),
    ]


def alerts(groups: list[RuleGroup]) -> list[Rule]:
    return [r for g in groups for r in g.rules if r.alert]


def recorded(groups: list[RuleGroup]) -> set[str]:
    return {r.record for g in groups for r in g.rules if r.record}
