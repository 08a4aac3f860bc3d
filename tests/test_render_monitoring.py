"""Monitoring renders of the example phases: promtool and amtool accept them, every alert has unit tests that fire
with the labels naming the broken thing and stay silent otherwise, routing reaches the owner, dashboards and rules
name only metrics that exist, targets come from the plan."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from functools import cache
from ipaddress import IPv4Network
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from kasbah.cli import app
from kasbah.monitoring import exporters as ex
from kasbah.monitoring.dashboards import expressions
from kasbah.monitoring.promql import label_values_metric, metric_names
from kasbah.monitoring.rules import OWNERS, SESSION_ALERTS, SESSION_INTERVAL, alerts, recorded, rule_groups
from kasbah.plan.derive import Plan
from kasbah.render import monitoring, write
from tests.conftest import REPO, STOCK_MONITORING, edit, plan_of
from tests.promtool.cases import all_cases
from tests.promtool.harness import RuleIndex, expected_alert, promtool_files

PHASES = ("phase1", "phase2", "phase3")
PROMTOOL = shutil.which("promtool")
AMTOOL = shutil.which("amtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool (Debian package prometheus) not installed")
needs_amtool = pytest.mark.skipif(AMTOOL is None, reason="amtool (prometheus-alertmanager) not installed")


@cache
def plan(phase: str) -> Plan:
    p, findings = plan_of(REPO / "stacks" / f"{phase}.yaml")
    assert p is not None, findings
    return p


@cache
def files(phase: str) -> dict[str, str]:
    return monitoring.render(plan(phase))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each phase's render written out: phase -> its monitoring/ directory."""
    root = tmp_path_factory.mktemp("monitoring")
    out = {}
    for phase in PHASES:
        write(files(phase), root / phase)
        out[phase] = root / phase / "monitoring"
    return out


def run(*cmd: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=300, check=False)


# -- shape -------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("phase", PHASES)
def test_render_writes_only_under_monitoring_and_is_deterministic(phase: str) -> None:
    first = files(phase)
    assert all(path.startswith("monitoring/") for path in first)
    assert monitoring.render(plan(phase)) == first
    assert list(first) == sorted(first)


@pytest.mark.parametrize("phase", PHASES)
def test_one_file_sd_per_pod_with_every_tray_labelled(phase: str) -> None:
    p, out = plan(phase), files(phase)
    pods = {f[len("monitoring/file_sd/") : -len(".json")] for f in out if f.count("/") == 2 and "/file_sd/" in f}
    assert pods == {pod.id for pod in p.pods}
    total = 0
    for pod in p.pods:
        groups = json.loads(out[f"monitoring/file_sd/{pod.id}.json"])
        total += len(groups)
        racks = {g["labels"]["rack"] for g in groups}
        assert len(racks) == pod.racks
        for g in groups:
            assert set(g["labels"]) == {"campus", "phase", "hall", "pod", "rack", "node"}
            assert (
                g["labels"] | {"campus": p.campus, "phase": pod.phase, "hall": pod.hall, "pod": pod.id} == g["labels"]
            )
            assert g["labels"]["node"].startswith(g["labels"]["rack"] + "-n")
            assert len(g["targets"]) == 1 and ":" not in g["targets"][0]  # each job adds its exporter's port
    assert total == p.cumulative.nodes


def test_trays_take_addresses_from_their_pods_oob_block() -> None:
    p = plan("phase1")
    block = next(a.cidr for a in p.addresses.allocations if a.network == "oob" and a.pod == "h1-su002")
    groups = json.loads(files("phase1")["monitoring/file_sd/h1-su002.json"])
    assert all(IPv4Network(f"{g['targets'][0]}/32").subnet_of(IPv4Network(block)) for g in groups)
    assert groups[0]["labels"]["node"] == "h1-su002-r01-n01"


@pytest.mark.parametrize("phase", PHASES)
def test_wan_probes_cover_every_edge_session_and_region_prefix(phase: str) -> None:
    p, out = plan(phase), files(phase)
    paths = json.loads(out["monitoring/file_sd/site/wan-paths.json"])
    sessions = {(s.edge_router, s.cable, s.landing_station, s.peer_address) for r in p.edge.routers for s in r.sessions}
    got = {
        (g["labels"]["edge_router"], g["labels"]["cable"], g["labels"]["landing_station"], g["targets"][0])
        for g in paths
    }
    assert got == sessions and len(paths) == len(sessions)
    regions = json.loads(out["monitoring/file_sd/site/wan-regions.json"])
    want = {(r.region, str(next(IPv4Network(px).hosts()))) for r in p.edge.regions for px in r.prefixes}
    assert {(g["labels"]["region"], g["targets"][0]) for g in regions} == want
    preferred = {r.region: r.preference[0].cable for r in p.edge.regions}
    for g in regions:
        assert g["labels"]["cable"] == preferred[g["labels"]["region"]]
        assert g["labels"]["landing_station"] and g["labels"]["edge_router"]


@pytest.mark.parametrize("phase", PHASES)
def test_region_paths_encode_the_plans_cables_and_diverse_pair(phase: str) -> None:
    p = plan(phase)
    group = next(g for g in rule_groups(p) if g.name == "kasbah-wan")
    info = [r.labels for r in group.rules if r.record == "kasbah:wan_region_path:info"]
    for region in p.wan.regions:
        mine = {i["cable"]: i for i in info if i["region"] == region.id}
        assert set(mine) == {c for path in region.paths for c in path.cables}
        pair = {c for path in region.diverse_pair for c in path.cables}
        assert {c for c, i in mine.items() if i["diverse_pair"] == "true"} == pair
        assert {c for c, i in mine.items() if i["preferred"] == "true"} == set(region.preferred.cables)
        for cable, i in mine.items():
            assert i["landing_station"] == next(
                s
                for path in region.paths
                for c, s in zip(path.cables, path.landing_stations, strict=True)
                if c == cable
            )


def test_ufm_telemetry_is_moved_off_node_exporters_port() -> None:
    assert ex.UFM_TELEMETRY_PORT != ex.NODE_EXPORTER_PORT
    prom = files("phase1")["monitoring/prometheus.yml"]
    assert "clash" in prom and f":{ex.UFM_TELEMETRY_PORT}" in prom
    fabric = json.loads(files("phase1")["monitoring/file_sd/site/fabric.json"])
    assert [g["targets"][0].rsplit(":", 1)[1] for g in fabric] == [str(ex.UFM_TELEMETRY_PORT)]
    ports = [e.port for e in ex.EXPORTERS if e.port is not None]
    assert len(ports) == len(set(ports))


def test_thresholds_come_from_the_spec(stacks: Path) -> None:
    edit(
        stacks / "campus.yaml",
        STOCK_MONITORING,
        "monitoring: {gpu_temp_warning_c: 74, gpu_temp_critical_c: 83.5,"
        " xid_critical: [79, 48], power_budget_warning: 0.8, pue_margin: 0.05}",
    )
    p, _ = plan_of(stacks / "phase1.yaml")
    assert p is not None
    out = monitoring.render(p)
    gpus = yaml.safe_load(out["monitoring/rules/gpus.yml"])["groups"][0]["rules"]
    exprs = {r.get("alert"): r["expr"] for r in gpus}
    assert exprs["GpuTemperatureWarning"] == "DCGM_FI_DEV_GPU_TEMP > 74"
    assert exprs["GpuTemperatureCritical"] == "DCGM_FI_DEV_GPU_TEMP > 83.5"
    assert exprs["GpuXidCritical"] == "DCGM_FI_DEV_XID_ERRORS == 48 or DCGM_FI_DEV_XID_ERRORS == 79"
    power = {r.get("alert"): r["expr"] for r in yaml.safe_load(out["monitoring/rules/power.yml"])["groups"][0]["rules"]}
    assert power["PowerNearBudget"] == "kasbah:campus_power_draw_watts > 32000000"  # 80 % of 40 MW
    assert power["PowerOverBudget"] == "kasbah:campus_power_draw_watts > 40000000"
    assert power["PueAboveDesign"] == "kasbah:campus_pue:avg1h > 1.25"
    assert power["RenewableShareBelowCommitment"] == "kasbah:campus_renewable_share:7d < 0.9"


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("gpu_temp_critical_c", "130", "less than or equal to 120"),
        ("gpu_temp_warning_c", "90", "must be below gpu_temp_critical_c"),
        ("power_budget_warning", "1.5", "less than or equal to 1"),
        ("xid_critical", "[0]", "greater than or equal to 1"),
        ("scrape_interval", "30", "did you mean 'scrape_interval_s'"),
    ],
)
def test_bad_monitoring_spec_renders_nothing(
    stacks: Path, tmp_path: Path, field: str, value: str, fragment: str
) -> None:
    edit(stacks / "campus.yaml", STOCK_MONITORING, f"monitoring: {{{field}: {value}}}")
    out = tmp_path / "build"
    result = CliRunner().invoke(
        app, ["render", str(stacks / "phase1.yaml"), "--out", str(out)], env={"KASBAH_WIDTH": "200", "NO_COLOR": "1"}
    )
    assert result.exit_code == 1, result.output
    assert fragment in result.output and "campus.yaml:" in result.output
    assert not out.exists()


# -- promtool and amtool -----------------------------------------------------------------------------------------------
@needs_promtool
@pytest.mark.parametrize("phase", PHASES)
def test_promtool_accepts_config_and_rules(built: dict[str, Path], phase: str) -> None:
    d = built[phase]
    r = run(PROMTOOL, "check", "config", d / "prometheus.yml")
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"SUCCESS: {len(list((d / 'rules').glob('*.yml')))} rule files found" in r.stdout
    r = run(PROMTOOL, "check", "rules", *sorted((d / "rules").glob("*.yml")))
    assert r.returncode == 0, r.stdout + r.stderr  # includes promtool's lint: no duplicate rules


@needs_amtool
@pytest.mark.parametrize("phase", PHASES)
def test_amtool_accepts_alertmanager_config(built: dict[str, Path], phase: str) -> None:
    r = run(AMTOOL, "check-config", built[phase] / "alertmanager.yml")
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"{len(OWNERS) * 2 + 1} receivers" in r.stdout


@needs_amtool
def test_every_alert_routes_to_its_owner_by_severity(built: dict[str, Path]) -> None:
    config = built["phase1"] / "alertmanager.yml"
    seen = set()
    for rule in alerts(rule_groups(plan("phase1"))):
        owner, severity = rule.labels["owner"], rule.labels["severity"]
        if (owner, severity) in seen:
            continue
        seen.add((owner, severity))
        receiver = f"{owner}-{'page' if severity == 'critical' else 'ticket'}"
        r = run(
            AMTOOL, "config", "routes", "test", f"--config.file={config}", f"--verify.receivers={receiver}",
            f"alertname={rule.alert}", f"owner={owner}", f"severity={severity}",
        )  # fmt: skip
        assert r.returncode == 0, f"{rule.alert}: {r.stdout}{r.stderr}"
    r = run(AMTOOL, "config", "routes", "test", f"--config.file={config}", "--verify.receivers=default", "owner=nobody")
    assert r.returncode == 0, r.stdout + r.stderr
    assert {o for o, _ in seen} == set(OWNERS)


def test_only_the_cut_it_pages_for_silences_a_session_alert(built: dict[str, Path]) -> None:
    """The routers' own BFD and BGP alerts page for a cut: no other alert may silence them (an exporter of the probes
    that is down says nothing about the cables), and WanBgpSessionDown yields only to the WanBfdDown of its cable."""
    config = yaml.safe_load((built["phase1"] / "alertmanager.yml").read_text())
    names = {r.alert for r in alerts(rule_groups(plan("phase1")))}
    assert set(SESSION_ALERTS) <= names
    for rule in config["inhibit_rules"]:
        (target,) = rule["target_matchers"]
        m = re.fullmatch(r'alertname(=~?)"(.*)"', target)
        assert m, target
        silenced = {n for n in names if (re.fullmatch(m[2], n) if m[1] == "=~" else n == m[2])}
        assert silenced, f"{target} silences no alert of the rules"
        assert "WanBfdDown" not in silenced, rule
        if "WanBgpSessionDown" in silenced:
            assert rule["source_matchers"] == ['alertname="WanBfdDown"'] and "cable" in rule["equal"], rule


# -- every alert, unit-tested ------------------------------------------------------------------------------------------
def test_every_alert_has_a_firing_and_a_silent_case() -> None:
    names = {r.alert for r in alerts(rule_groups(plan("phase1")))}
    cases = all_cases(plan("phase1"))
    assert {c.alertname for c in cases if c.fires()} == names
    assert {c.alertname for c in cases if c.silent()} == names


def test_every_fired_alert_names_the_broken_thing(built: dict[str, Path]) -> None:
    groups = rule_groups(plan("phase1"))
    names = {r.alert: r.names for r in alerts(groups)}
    idx = RuleIndex.load(sorted((built["phase1"] / "rules").glob("*.yml")))
    for case in all_cases(plan("phase1")):
        for _, expected in case.evals:
            for exp in expected:
                labels = expected_alert(idx, case.alertname, exp)["exp_labels"]
                missing = [n for n in (*names[case.alertname], "severity", "owner") if not labels.get(n)]
                assert not missing, f"{case.alertname} lacks {missing}: {labels}"
                assert labels["owner"] in OWNERS


@needs_promtool
def test_promtool_unit_tests_pass(built: dict[str, Path], tmp_path: Path) -> None:
    rule_files = sorted((built["phase1"] / "rules").glob("*.yml"))
    for step, content in promtool_files(rule_files, all_cases(plan("phase1"))).items():
        test = tmp_path / f"alerts-{step}.test.yml"
        test.write_text(yaml.safe_dump(content, sort_keys=False, width=200))
        r = run(PROMTOOL, "test", "rules", test)
        assert r.returncode == 0, r.stdout[-8000:] + r.stderr[-2000:]
        assert "SUCCESS" in r.stdout


# -- metric names ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ('sum by (hall) (up{job="node"}) / count by (hall) (up{job="node"})', {"up"}),
        ("increase(DCGM_FI_DEV_NVLINK_RECOVERY_ERROR_COUNT_TOTAL{pod=\"$pod\"}[$__rate_interval]) > 0",
         {"DCGM_FI_DEV_NVLINK_RECOVERY_ERROR_COUNT_TOTAL"}),
        ("kasbah:a * on (campus, cable) group_left () kasbah:b or on (x) (0 * count by (x) (c))",
         {"kasbah:a", "kasbah:b", "c"}),
        ("vector(1.5e6) and bool offset 5m", set()),
        ("sum without () (rate(x_total[5m] offset 1h))", {"x_total"}),
    ],
)  # fmt: skip
def test_metric_names(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


def _known(phase: str) -> set[str]:
    return set(ex.known_metrics()) | recorded(rule_groups(plan(phase)))


@pytest.mark.parametrize("phase", PHASES)
def test_rules_name_only_documented_metrics_or_recorded_ones(phase: str) -> None:
    known = _known(phase)
    for group in rule_groups(plan(phase)):
        for rule in group.rules:
            unknown = metric_names(rule.expr) - known
            assert not unknown, f"{rule.name} reads {unknown}"


@pytest.mark.parametrize("phase", PHASES)
def test_dashboards_are_json_whose_queries_name_only_known_metrics(phase: str) -> None:
    known = _known(phase)
    boards = {p: json.loads(t) for p, t in files(phase).items() if p.startswith("monitoring/dashboards/")}
    assert set(boards) == {f"monitoring/dashboards/{n}.json" for n in ("phase-overview", "wan-paths", "gpu-health")}
    assert len({b["uid"] for b in boards.values()}) == 3
    for path, board in boards.items():
        exprs = expressions(board)
        assert exprs, path
        for expr in exprs:
            lv = label_values_metric(expr)
            names = metric_names(lv) if lv is not None else metric_names(expr)
            assert names, f"{path}: {expr} names no metric"
            assert names <= known, f"{path}: {expr} reads {names - known}"
    wan = boards["monitoring/dashboards/wan-paths.json"]
    rows = [p["title"] for p in wan["panels"] if p["type"] == "row"]
    assert all(any(r.startswith(region.name + ":") for r in rows) for region in plan(phase).wan.regions)


@needs_promtool
def test_dashboard_queries_parse(tmp_path: Path) -> None:
    """promtool parses every dashboard query (as a recording rule), with Grafana's variables filled in."""
    from kasbah.monitoring.promql import grafana_to_promql

    exprs = sorted(
        {
            grafana_to_promql(e)
            for p, t in files("phase1").items()
            if p.startswith("monitoring/dashboards/")
            for e in expressions(json.loads(t))
            if label_values_metric(e) is None
        }
    )
    rules = {
        "groups": [{"name": "dashboards", "rules": [{"record": f"q:{i}", "expr": e} for i, e in enumerate(exprs)]}]
    }
    (tmp_path / "q.yml").write_text(yaml.safe_dump(rules))
    r = run(PROMTOOL, "check", "rules", tmp_path / "q.yml")
    assert r.returncode == 0, r.stdout + r.stderr


def test_the_gpu_roles_counters_file_enables_every_dcgm_metric_monitoring_reads() -> None:
    gpu = pytest.importorskip("kasbah.render.gpu")
    enabled = {name for name, _, _ in gpu.DCGM_COUNTERS}
    exprs = [r.expr for g in rule_groups(plan("phase1")) for r in g.rules]
    exprs += [
        e for t in (json.loads(v) for k, v in files("phase1").items() if "/dashboards/" in k) for e in expressions(t)
    ]
    used = {n for e in exprs for n in metric_names(label_values_metric(e) or e) if n.startswith("DCGM_")}
    assert used and used <= enabled, used - enabled
    assert {n for n in used} <= set(ex.known_metrics())


# -- the role that deploys these renders (its live run is in test_monitoring_live.py) ----------------------------------
BIN = Path(sys.executable).parent
ANSIBLE_ENV = {**os.environ, "PATH": f"{BIN}:{os.environ.get('PATH', '')}", "ANSIBLE_NOCOLOR": "1"}


def test_monitoring_role_readme_documents_every_default() -> None:
    role = REPO / "playbooks" / "roles" / "monitoring"
    defaults = yaml.safe_load((role / "defaults/main.yml").read_text())
    assert all(name.startswith("monitoring_") for name in defaults)
    readme = (role / "README.md").read_text()
    assert all(name in readme for name in defaults)


@needs_promtool
def test_recording_rules_compute_what_the_dashboards_and_alerts_read(built: dict[str, Path], tmp_path: Path) -> None:
    """GPUs healthy per hall, diverse paths per region and the power draw, evaluated by promtool on the render."""
    from tests.promtool.cases import CAMPUS, NODE_A, NODE_B, NODE_C, _gpu, _session
    from tests.promtool.harness import series

    p = plan("phase1")
    crit = p.monitoring.gpu_temp_critical_c
    h2 = {**_gpu(NODE_C, 0), "hall": "h2", "pod": "h2-su001", "rack": "h2-su001-r01", "node": "h2-su001-r01-n01"}
    gpus = [  # (labels, temperature, last Xid, row-remap failure)
        (_gpu(NODE_A, 0), crit - 20, 0, 0),  # healthy
        (_gpu(NODE_A, 1), crit + 1, 0, 0),  # too hot
        (_gpu(NODE_B, 0), crit - 20, p.monitoring.xid_critical[0], 0),  # critical Xid
        (_gpu(NODE_B, 1), crit - 20, 0, 1),  # remap failure
        (h2, crit - 20, 13, 0),  # an application Xid leaves it healthy
    ]
    input_series = []
    for labels, temp, xid, remap in gpus:
        input_series += [
            {"series": series("DCGM_FI_DEV_GPU_TEMP", labels), "values": f"{temp}x3"},
            {"series": series("DCGM_FI_DEV_XID_ERRORS", labels), "values": f"{xid}x3"},
            {"series": series("DCGM_FI_DEV_ROW_REMAP_FAILURE", labels), "values": f"{remap}x3"},
        ]
    sessions = [_session(s.cable, s.landing_station, r.id, s.peer_address) for r in p.edge.routers for s in r.sessions]
    input_series += [{"series": series("probe_success", s), "values": "1x3"} for s in sessions]
    basis = p.monitoring.power_basis
    metric = "kasbah_facility_power_watts" if basis == "facility" else "kasbah_it_power_watts"
    for hall, watts in (("h1", 10e6), ("h2", 5e6)):
        labels = {"job": "facility", "instance": hall, "campus": CAMPUS, "phase": "phase1", "hall": hall}
        input_series.append({"series": series(metric, labels), "values": f"{watts:.0f}x3"})
    diverse = {
        r.id: len({s for path in r.paths for c, s in zip(path.cables, path.landing_stations, strict=True)})
        for r in p.wan.regions
    }
    expr_tests = [
        {
            "expr": "kasbah:hall_gpus_healthy",
            "eval_time": "1m",
            "exp_samples": [
                {"labels": series("kasbah:hall_gpus_healthy", {"campus": CAMPUS, "hall": "h1"}), "value": 1},
                {"labels": series("kasbah:hall_gpus_healthy", {"campus": CAMPUS, "hall": "h2"}), "value": 1},
            ],
        },
        {
            "expr": "kasbah:wan_region:diverse_paths",
            "eval_time": "1m",
            "exp_samples": [
                {"labels": series("kasbah:wan_region:diverse_paths", {"campus": CAMPUS, "region": r}), "value": n}
                for r, n in diverse.items()
            ],
        },
        {
            "expr": "kasbah:campus_power_draw_watts",
            "eval_time": "1m",
            "exp_samples": [
                {"labels": series("kasbah:campus_power_draw_watts", {"campus": CAMPUS, "basis": basis}), "value": 15e6}
            ],
        },
    ]
    content = {
        "rule_files": [str(f) for f in sorted((built["phase1"] / "rules").glob("*.yml"))],
        "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": input_series, "promql_expr_test": expr_tests}],
    }
    test = tmp_path / "recording.test.yml"
    test.write_text(yaml.safe_dump(content, sort_keys=False, width=200))
    r = run(PROMTOOL, "test", "rules", test)
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-2000:]
    assert min(diverse.values()) >= 2  # the example plan gives every region a diverse pair


@needs_amtool
def test_receivers_from_the_spec_become_webhooks_with_token_files(stacks: Path, tmp_path: Path) -> None:
    edit(
        stacks / "campus.yaml",
        STOCK_MONITORING,
        "monitoring: {receivers: {wan: {page_url: 'https://pager.dc/wan', ticket_url: 'https://tickets.dc/wan', "
        "token_var: vault_pager_token}, energy: {ticket_url: 'https://tickets.dc/energy'}}}",
    )
    plan, findings = plan_of(stacks / "phase1.yaml")
    assert plan is not None, findings
    out = monitoring.render(plan)
    am = yaml.safe_load(out["monitoring/alertmanager.yml"])
    by_name = {r["name"]: r for r in am["receivers"]}
    page = by_name["wan-page"]["webhook_configs"][0]
    assert page["url"] == "https://pager.dc/wan"
    assert page["http_config"]["authorization"]["credentials_file"] == "secrets/wan.token"
    assert by_name["energy-ticket"]["webhook_configs"][0]["url"] == "https://tickets.dc/energy"
    assert "http_config" not in by_name["energy-ticket"]["webhook_configs"][0]
    assert "webhook_configs" not in by_name["energy-page"] and "webhook_configs" not in by_name["compute-page"]
    assert yaml.safe_load(out["monitoring/receivers.yml"]) == {
        "monitoring_receiver_tokens": [{"owner": "wan", "var": "vault_pager_token"}]
    }
    path = tmp_path / "alertmanager.yml"
    path.write_text(out["monitoring/alertmanager.yml"])
    done = subprocess.run([AMTOOL, "check-config", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_an_unknown_alert_owner_is_a_located_error(stacks: Path) -> None:
    edit(stacks / "campus.yaml", STOCK_MONITORING, "monitoring: {receivers: {netwrok: {page_url: 'https://p.dc/x'}}}")
    result = CliRunner().invoke(app, ["validate", str(stacks / "phase1.yaml")])
    assert result.exit_code == 1, result.output
    line = 1 + (stacks / "campus.yaml").read_text().splitlines().index(
        next(t for t in (stacks / "campus.yaml").read_text().splitlines() if "netwrok" in t)
    )
    assert f"campus.yaml:{line}:" in result.output and "(monitoring.receivers.netwrok)" in result.output
    assert "use one of: compute, fabric, wan, facility, energy, monitoring" in result.output


# -- empty lists and edge thresholds (issue 12, class 5) --------------------------------------------------------------
def _set(data: dict, dotted: str, value: object) -> None:
    *parents, last = dotted.split(".")
    for key in parents:
        data = data.setdefault(key, {})
    data[last] = value


EDGE_CASES: dict[str, tuple[dict[str, object], dict[str, object]]] = {
    # name: (campus edits, phase1 edits); each value at a limit the schema allows
    "no critical xids": ({"monitoring.xid_critical": []}, {}),
    "one critical xid": ({"monitoring.xid_critical": [1000]}, {}),
    "temperatures at the bounds": ({"monitoring.gpu_temp_warning_c": 30, "monitoring.gpu_temp_critical_c": 120}, {}),
    "warning just below critical": (
        {"monitoring.gpu_temp_warning_c": 119.99, "monitoring.gpu_temp_critical_c": 120},
        {},
    ),
    "power warning at the budget": ({"monitoring.power_budget_warning": 1}, {}),
    "power warning near zero": ({"monitoring.power_budget_warning": 1e-9}, {}),
    "no pue margin": ({"monitoring.pue_margin": 0}, {}),
    "fastest scrape": ({"monitoring.scrape_interval_s": 1}, {}),
    "slowest scrape": ({"monitoring.scrape_interval_s": 3600}, {}),
    "no renewable share": ({"energy.declared_renewable_share": 0}, {}),
    "every receiver with a token": (
        {
            "monitoring.receivers": {
                o: {"page_url": "https://p.example.net/x", "ticket_url": "https://t.example.net", "token_var": "t"}
                for o in OWNERS
            }
        },
        {},
    ),
    "no regions": ({"wan.regions": []}, {}),
    "regions without prefixes": ({"wan.regions": "no-prefixes"}, {}),
    "no wan at all": ({"wan": {}}, {"wan_uplinks": []}),
    "no halls": ({}, {"halls": []}),
}


@needs_promtool
@needs_amtool
@pytest.mark.parametrize("case", sorted(EDGE_CASES))
def test_edge_values_render_valid_rules_or_are_refused(stacks: Path, tmp_path: Path, case: str) -> None:
    """Every list that can be empty and every threshold at its bound gives rules promtool and amtool accept, or a
    located finding: never an empty PromQL expression (monitoring.xid_critical: [] once gave one)."""
    campus_edits, phase_edits = EDGE_CASES[case]
    for name, edits in (("campus.yaml", campus_edits), ("phase1.yaml", phase_edits)):
        path = stacks / name
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for dotted, value in edits.items():
            if value == "no-prefixes":
                for region in data["wan"]["regions"]:
                    region.pop("prefixes", None)
                continue
            _set(data, dotted, value)
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    p, findings = plan_of(stacks / "phase1.yaml")
    if p is None:
        errors = [f for f in findings if f.level.name == "ERROR"]
        assert errors and all(f.file and f.line for f in errors), findings
        return
    files = monitoring.render(p)
    write(files, tmp_path / "build")
    d = tmp_path / "build" / "monitoring"
    r = run(PROMTOOL, "check", "config", d / "prometheus.yml")
    assert r.returncode == 0, r.stdout + r.stderr
    r = run(PROMTOOL, "check", "rules", *sorted((d / "rules").glob("*.yml")))
    assert r.returncode == 0, r.stdout + r.stderr
    r = run(AMTOOL, "check-config", d / "alertmanager.yml")
    assert r.returncode == 0, r.stdout + r.stderr
    for rule in (r for g in rule_groups(p) for r in g.rules):
        assert rule.expr.strip(), rule.name
    if case == "no critical xids":
        assert "GpuXidCritical" not in {a.alert for a in alerts(rule_groups(p))}


# -- a cut pages in seconds --------------------------------------------------------------------------------------------
def _seconds(duration: str | None) -> float:
    """A Prometheus duration of the forms Kasbah writes (500ms, 1s, 5m, 4h); None is 0."""
    if not duration:
        return 0.0
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|h)", duration)
    assert m, duration
    return float(m[1]) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[m[2]]


def _route_for(config: dict[str, Any], labels: dict[str, str]) -> dict[str, Any]:
    """Alertmanager's routing of `labels` (first matching child, depth first; matchers of the forms rendered),
    with the timers each level inherits."""

    def matches(matcher: str) -> bool:
        m = re.fullmatch(r'(\w+)(=~|=)"(.*)"', matcher)
        assert m, matcher
        value = labels.get(m[1], "")
        return re.fullmatch(m[3], value) is not None if m[2] == "=~" else value == m[3]

    route, inherited = config["route"], dict(config["route"])
    while True:
        child = next((r for r in route.get("routes") or [] if all(matches(x) for x in r.get("matchers") or [])), None)
        if child is None:
            return inherited
        inherited = {**inherited, **child}
        route = child


@pytest.mark.parametrize("phase", PHASES)
def test_every_edge_router_is_scraped_every_second_on_its_loopback(phase: str) -> None:
    out, p = files(phase), plan(phase)
    groups = json.loads(out["monitoring/file_sd/site/edge-routers.json"])
    assert {g["labels"]["edge_router"]: g["targets"] for g in groups} == {
        r.id: [f"{r.loopback.split('/')[0]}:{ex.FRR_EXPORTER_PORT}"] for r in p.edge.routers
    }
    assert all(g["labels"]["campus"] == p.campus for g in groups)
    job = next(j for j in yaml.safe_load(out["monitoring/prometheus.yml"])["scrape_configs"] if j["job_name"] == "frr")
    assert job["scrape_interval"] == job["scrape_timeout"] == SESSION_INTERVAL
    assert job["file_sd_configs"] == [{"files": ["file_sd/site/edge-routers.json"]}]
    (group,) = yaml.safe_load(out["monitoring/rules/wan-sessions.yml"])["groups"]
    assert group["interval"] == SESSION_INTERVAL
    info = {
        (r["labels"]["edge_router"], r["labels"]["peer"], r["labels"]["cable"], r["labels"]["landing_station"])
        for r in group["rules"]
        if r.get("record") == "kasbah:wan_session:info"
    }
    assert info == {(r.id, s.peer_address, s.cable, s.landing_station) for r in p.edge.routers for s in r.sessions}


@pytest.mark.parametrize("phase", PHASES)
@pytest.mark.parametrize("alertname", SESSION_ALERTS)
def test_a_session_alert_pages_within_the_target_and_silences_the_probes(phase: str, alertname: str) -> None:
    """Worst case from the cut to the page leaving Alertmanager: BFD's detection, one scrape, one evaluation, the
    rule's `for`, the route's group wait; under 10 s, and the probe alerts over the cable are inhibited."""
    out, p = files(phase), plan(phase)
    rule = next(r for r in alerts(rule_groups(p)) if r.alert == alertname)
    prom = yaml.safe_load(out["monitoring/prometheus.yml"])
    job = next(j for j in prom["scrape_configs"] if j["job_name"] == "frr")
    (group,) = yaml.safe_load(out["monitoring/rules/wan-sessions.yml"])["groups"]
    am = yaml.safe_load(out["monitoring/alertmanager.yml"])
    route = _route_for(am, {"alertname": alertname, **rule.labels, "campus": p.campus, "cable": "x"})
    assert route["receiver"] == "wan-page"
    detect = p.edge.bfd.interval_ms * p.edge.bfd.multiplier / 1000
    budget = (
        detect
        + _seconds(job["scrape_interval"])
        + _seconds(group["interval"])
        + _seconds(rule.for_)
        + _seconds(route["group_wait"])
    )
    limit = 10.0 if alertname == "WanBfdDown" else 10.0 + _seconds(rule.for_)  # BGP without BFD: its hold-off more
    assert budget < limit, f"{alertname}: worst case {budget:.1f} s"
    assert _seconds(route["group_interval"]) <= 5
    # The path probes over the same cable (and the BGP session BFD took down) are inhibited, not paged again.
    for target in ("WanPathDown", "WanCableDown"):
        assert any(
            f'alertname="{alertname}"' in rule_["source_matchers"]
            and any(re.fullmatch(m.split('"')[1], target) for m in rule_["target_matchers"])
            and {"campus", "cable"} <= set(rule_["equal"])
            for rule_ in am["inhibit_rules"]
        ), (alertname, target)
