"""Issue 12, class 3: no spec string becomes syntax in a rendered language.

Per output language, hostile strings (a table of known-nasty ones plus hypothesis text) go through the escaper of
kasbah.render.escape and come back literally from the real consumer: Prometheus (`promtool test rules` expands the
annotation templates and evaluates the PromQL matchers), Alertmanager (`amtool check-config`), FRR
(`vtysh -C`), YAML/JSON/INI loaders, Jinja2 as Ansible renders, the shell. The end-to-end cases put hostile text
into a spec's free-text fields and check the whole render; ids with any of it are refused with a located finding.
"""

from __future__ import annotations

import configparser
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jinja2
import jinja2.meta
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kasbah.findings import SpecError
from kasbah.monitoring.rules import rule_groups
from kasbah.render import monitoring, write
from kasbah.render import render as render_all
from kasbah.render.escape import (
    frr_comment,
    frr_description,
    go_template_literal,
    host_field,
    ini_comment,
    ini_value,
    jinja_literal,
    json_text,
    promql_regex,
    promql_string,
    shell_join,
    yaml_comment,
    yaml_dump,
    yaml_quote,
    yaml_single_quote,
)
from kasbah.spec.load import load_spec
from tests.conftest import plan_of
from tests.promtool.harness import expand

PROMTOOL = shutil.which("promtool")
AMTOOL = shutil.which("amtool")
VTYSH = shutil.which("vtysh")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool (Debian package prometheus) not installed")
needs_amtool = pytest.mark.skipif(AMTOOL is None, reason="amtool (prometheus-alertmanager) not installed")
needs_vtysh = pytest.mark.skipif(VTYSH is None, reason="vtysh (Debian package frr) not installed")

HOSTILE: tuple[str, ...] = (
    '{{ range query "up" }}{{ .Labels.instance }}{{ end }}',
    "{{ $labels.node }}",
    "{{/* comment */}}",
    "{{- . -}}",
    "{% for x in range(3) %}{{ x }}{% endfor %}",
    "{# note #}",
    "{{ lookup('pipe', 'id') }}",
    "a{",
    "}b",
    "{",
    "}}",
    "$(touch /tmp/pwned)",
    "`id`",
    "${HOME}",
    "$datasource",
    "'single' \"double\"",
    "back\\slash\\",
    'trailing\\"',
    "line\nbreak",
    "carriage\rreturn",
    "crlf\r\nend",
    "nul\x00byte",
    "esc\x1b[31mred",
    "del\x7f",
    "nel\x85",
    "ls\u2028ps\u2029",
    "bom\ufeff",
    "tab\there",
    "] [ ] ]]",
    "# not a comment",
    "; semi; colon",
    "! bang",
    "key: value",
    "- item",
    "&anchor *alias",
    "%percent %(x)s",
    "<script>&amp;</script>",
    "Région Île-de-France — 東京 🚀",
    "  leading and trailing  ",
    "x" * 5000,
)
"""Strings that have broken one language or another: template delimiters, shell and YAML syntax, quotes, line
breaks of every kind, control characters, non-ASCII, a very long one."""

TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=60)
"""Any text a UTF-8 spec can hold (lone surrogates cannot be in a UTF-8 file)."""


def _run(*cmd: str | Path, **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=120, check=False, **kw)


# -- Go templates and PromQL, checked by promtool --------------------------------------------------------------------


def _prometheus_roundtrip(texts: list[str], tmp: Path) -> subprocess.CompletedProcess[str]:
    """One promtool run: per text an alert whose annotation and label are that text, escaped as a Go template, and
    whose expression selects a series by that text (exact and regex matchers); the test expects all of it back."""
    rules, tests = [], []
    series = []
    for i, text in enumerate(texts):
        label = text or "-"  # an empty label value is no label at all
        series += [
            {"series": f'm{{k={promql_string(label)}, i="{i}"}}', "values": "1x5"},
            {"series": f'm{{k={promql_string(label + "x")}, i="{i}"}}', "values": "1x5"},
        ]
        for op, lit in (("=", promql_string(label)), ("=~", promql_regex([label]))):
            name = f"A{i}{'re' if op == '=~' else ''}"
            rules.append(
                {
                    "alert": name,
                    "expr": f'max by (k) (m{{i="{i}", k{op}{lit}}})',
                    "labels": {"t": go_template_literal(label)},
                    "annotations": {"summary": go_template_literal(text), "mixed": f"<{go_template_literal(text)}>"},
                }
            )
            tests.append(
                {
                    "eval_time": "1m",
                    "alertname": name,
                    "exp_alerts": [
                        {
                            "exp_labels": {"k": label, "t": label},
                            "exp_annotations": {"summary": text, "mixed": f"<{text}>"},
                        }
                    ],
                }
            )
    # The rules file is written as Kasbah writes annotations (yaml_quote), the test file by PyYAML.
    lines = ["groups:", "  - name: hostile", "    rules:"]
    for r in rules:
        lines += [f"      - alert: {r['alert']}", f"        expr: {yaml_quote(r['expr'])}", "        labels:"]
        lines += [f"          t: {yaml_quote(r['labels']['t'])}", "        annotations:"]
        lines += [f"          {k}: {yaml_quote(v)}" for k, v in r["annotations"].items()]
    (tmp / "rules.yml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    test = {
        "rule_files": ["rules.yml"],
        "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": series, "alert_rule_test": tests}],
    }
    (tmp / "test.yml").write_text(yaml.safe_dump(test), encoding="utf-8")
    return _run(PROMTOOL or "promtool", "test", "rules", "test.yml", cwd=tmp)


@needs_promtool
def test_go_templates_and_promql_give_back_the_hostile_table(tmp_path: Path) -> None:
    proc = _prometheus_roundtrip([*HOSTILE, ""], tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


@needs_promtool
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(TEXT, min_size=1, max_size=25))
def test_go_templates_and_promql_give_back_any_text(tmp_path: Path, texts: list[str]) -> None:
    proc = _prometheus_roundtrip(texts, tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


@needs_promtool
def test_unescaped_template_would_run(tmp_path: Path) -> None:
    """The harness can fail: a region name left raw in an annotation is expanded by Prometheus, not printed."""
    (tmp_path / "rules.yml").write_text(
        'groups: [{name: g, rules: [{alert: A, expr: "vector(1)", annotations: {s: "{{ 1 }}"}}]}]\n', encoding="utf-8"
    )
    test = {
        "rule_files": ["rules.yml"],
        "tests": [
            {
                "alert_rule_test": [
                    {"eval_time": "0m", "alertname": "A", "exp_alerts": [{"exp_annotations": {"s": "{{ 1 }}"}}]}
                ]
            }
        ],
    }
    (tmp_path / "test.yml").write_text(yaml.safe_dump(test), encoding="utf-8")
    assert _run(PROMTOOL or "promtool", "test", "rules", "test.yml", cwd=tmp_path).returncode != 0


# -- a hostile region name through the whole render ------------------------------------------------------------------


def _spec_with(stacks: Path, region_names: list[str], urls: dict[str, str] | None = None) -> Path:
    campus = stacks / "campus.yaml"
    data = yaml.safe_load(campus.read_text(encoding="utf-8"))
    for region, name in zip(data["wan"]["regions"], region_names, strict=False):
        region["name"] = name
    if urls:
        data["monitoring"] = {
            "receivers": {
                owner: {"page_url": url, "ticket_url": url, "token_var": "tok"} for owner, url in urls.items()
            }
        }
    campus.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return stacks / "phase1.yaml"


def _diversity_alerts(files: dict[str, str]) -> dict[str, dict[str, str]]:
    rules = yaml.safe_load(files["monitoring/rules/wan.yml"])["groups"][0]["rules"]
    return {r["labels"]["region"]: r["annotations"] for r in rules if r.get("alert") == "WanRegionDiversityLost"}


@needs_promtool
@pytest.mark.parametrize("batch", range(0, len(HOSTILE), 3))
def test_hostile_region_names_render_literally(stacks: Path, tmp_path: Path, batch: int) -> None:
    names = list(HOSTILE[batch : batch + 3])
    placeholders = [f"PLACEHOLDER{i}" for i in range(len(names))]
    plain, _ = plan_of(_spec_with(stacks, placeholders))
    assert plain is not None
    expected = _diversity_alerts(monitoring.render(plain))
    hostile, findings = plan_of(_spec_with(stacks, names))
    assert hostile is not None, findings
    files = render_all(hostile)
    write(files, tmp_path / "build")  # UTF-8 can write every file
    mon = tmp_path / "build" / "monitoring"
    assert _run(PROMTOOL or "promtool", "check", "config", mon / "prometheus.yml").returncode == 0
    # Prometheus evaluates the diversity alert of every region: each annotation comes out with the name as written.
    series, tests = [], []
    for r in hostile.wan.regions:
        series.append(
            {"series": f'kasbah:wan_region:diverse_paths{{campus="casablanca-ai", region="{r.id}"}}', "values": "1x10"}
        )
        want = {}
        for key, template in expected[r.id].items():
            text = expand(template, {"region": r.id, "campus": "casablanca-ai"}, 1.0)
            for placeholder, name in zip(placeholders, names, strict=True):
                text = text.replace(placeholder, name)
            want[key] = text
        labels = {"campus": "casablanca-ai", "region": r.id, "severity": "critical", "owner": "wan"}
        tests.append({"exp_labels": labels, "exp_annotations": want})
    # The alert alone (its input is a recorded series of the same file), its annotations as rendered.
    rendered = yaml.safe_load((mon / "rules" / "wan.yml").read_text(encoding="utf-8"))["groups"][0]
    only = [r for r in rendered["rules"] if r.get("alert") == "WanRegionDiversityLost"]
    assert len(only) == len(hostile.wan.regions)
    (mon / "alert.yml").write_text(yaml_dump({"groups": [{"name": "g", "rules": only}]}), encoding="utf-8")
    test = {
        "rule_files": ["alert.yml"],
        "tests": [
            {
                "interval": "1m",
                "input_series": series,
                "alert_rule_test": [{"eval_time": "5m", "alertname": "WanRegionDiversityLost", "exp_alerts": tests}],
            }
        ],
    }
    (mon / "test.yml").write_text(yaml.safe_dump(test), encoding="utf-8")
    proc = _run(PROMTOOL or "promtool", "test", "rules", "test.yml", cwd=mon)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    # Dashboards are JSON: the row title holds the name as written.
    board = json.loads(files["monitoring/dashboards/wan-paths.json"])
    titles = [p["title"] for p in board["panels"] if p["type"] == "row"]
    for name in names:
        assert any(t.startswith(f"{name}: SLO") for t in titles)


def test_region_name_with_a_lone_surrogate_still_renders(stacks: Path, tmp_path: Path) -> None:
    """A YAML escape can make a lone surrogate, which UTF-8 cannot write: the render replaces it by U+FFFD (as Go
    would), never crashes, and Prometheus accepts the rules."""
    campus = stacks / "campus.yaml"
    text = campus.read_text(encoding="utf-8").replace("name: Europe,", 'name: "Eu\\ud800rope",')
    campus.write_text(text, encoding="utf-8")
    plan, findings = plan_of(stacks / "phase1.yaml")
    assert plan is not None, findings
    write(render_all(plan), tmp_path / "build")
    rules = yaml.safe_load((tmp_path / "build/monitoring/rules/wan.yml").read_text(encoding="utf-8"))
    assert any("Eu\ufffdrope" in r.get("annotations", {}).get("summary", "") for r in rules["groups"][0]["rules"])
    if PROMTOOL:
        proc = _run(PROMTOOL, "check", "config", tmp_path / "build/monitoring/prometheus.yml")
        assert proc.returncode == 0, proc.stdout + proc.stderr


# -- Alertmanager ----------------------------------------------------------------------------------------------------

URL_PATHS = ("/{{.Status}}", "/a'b\"c", "/$(id)`id`", "/x#y;z!", "/%7B%7B", "/back\\slash", "/~user/[a]")


@needs_amtool
def test_webhook_urls_reach_alertmanager_literally(stacks: Path, tmp_path: Path) -> None:
    owners = ("compute", "fabric", "wan", "facility", "energy", "monitoring")
    urls = {o: f"https://hooks.example.net{p}" for o, p in zip(owners, URL_PATHS, strict=False)}
    plan, _ = plan_of(_spec_with(stacks, ["Europe"], urls))
    assert plan is not None
    files = monitoring.render(plan)
    write(files, tmp_path / "build")
    conf = tmp_path / "build" / "monitoring" / "alertmanager.yml"
    data = yaml.safe_load(conf.read_text(encoding="utf-8"))
    got = {r["name"]: r["webhook_configs"][0]["url"] for r in data["receivers"] if r.get("webhook_configs")}
    for owner, url in urls.items():
        assert got[f"{owner}-page"] == url and got[f"{owner}-ticket"] == url
    proc = _run(AMTOOL or "amtool", "check-config", conf)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("bad", ["/a\x00b", "/a\x1bb", "/a\x7fb", "/a\u2028b", "/a\u0085b", "/a b", "/é"])
def test_webhook_url_with_control_characters_is_refused(stacks: Path, bad: str) -> None:
    with pytest.raises(SpecError) as err:
        load_spec(_spec_with(stacks, ["Europe"], {"wan": f"https://hooks.example.net{bad}"}))
    finding = next(f for f in err.value.findings if "page_url" in f.path)
    assert finding.line is not None


# -- FRR -------------------------------------------------------------------------------------------------------------


@needs_vtysh
def test_frr_comments_and_descriptions_stay_on_their_line(tmp_path: Path) -> None:
    texts = [t for t in HOSTILE if t.strip()]
    lines = ["frr defaults traditional", "hostname r1", "!"]
    lines += [f"! {frr_comment(t)}" for t in texts]
    lines += ["router bgp 65000"]
    for i, t in enumerate(texts):
        peer = f"192.0.2.{i + 1}"
        lines += [f" neighbor {peer} remote-as 65001", f" neighbor {peer} description {frr_description(t)}"]
    lines += ["exit", "!", "end"]
    text = "\n".join(lines) + "\n"
    assert text.count("\n") == len(lines)  # nothing added a line
    assert all("\r" not in line and "\x00" not in line for line in lines)
    (tmp_path / "vtysh.conf").write_text("service integrated-vtysh-config\n", encoding="utf-8")
    (tmp_path / "frr.conf").write_text(text, encoding="utf-8")
    proc = _run(VTYSH or "vtysh", "--config_dir", tmp_path, "-C", "-f", tmp_path / "frr.conf")
    assert proc.returncode == 0, proc.stdout + proc.stderr


@given(TEXT)
def test_frr_description_is_what_frr_stores(text: str) -> None:
    """FRR joins a description's words with one space: the escaped text is already in that form."""
    out = frr_description(text)
    assert "\n" not in out and "\r" not in out
    assert out == " ".join(out.split())


FREE_TEXT_SINKS = ("plan.json", "monitoring/dashboards/wan-paths.json", "monitoring/rules/wan.yml")
"""The only rendered files free text reaches (region names; the rest stays in plan.json): each is covered above by
its consumer. A new sink fails the test below until its escaping is tested too."""


def test_free_text_reaches_only_known_sinks(stacks: Path) -> None:
    """Every free-text field of a campus (site, energy, regions, storage, catalog names and notes) gets a hostile
    marked value: the render still parses everywhere, and the markers appear only in the known sinks."""
    from kasbah.catalog import builtin_catalog

    payload = "{{ x }}{% y %}'\"\n\u2028$(id)#;"
    count = 0

    def mark() -> str:
        nonlocal count
        count += 1
        return f"MARK{count:04d}{payload}"

    campus = stacks / "campus.yaml"
    data = yaml.safe_load(campus.read_text(encoding="utf-8"))
    data["site"]["city"] = mark()
    data["energy"]["ppa_supplier"] = mark()
    data["object_storage"]["region"] = mark()
    for region in data["wan"]["regions"]:
        region["name"] = mark()
    texts = {"name", "notes", "compute_nic", "generation", "city", "operator", "building", "owner", "ready_for_service"}
    catalog = builtin_catalog().model_dump(mode="python")
    for section in ("systems", "switches", "landing_stations", "hubs", "cables"):
        for entry in catalog[section].values():
            for key in texts & set(entry):
                entry[key] = mark()
            entry["source"] = [mark()]
    catalog["version"] = mark()
    data["catalog"] = catalog
    campus.write_text(yaml.safe_dump(data), encoding="utf-8")
    plan, findings = plan_of(stacks / "phase1.yaml")
    assert plan is not None, findings
    files = render_all(plan)
    reached = set()
    for path, text in files.items():
        text.encode("utf-8")
        if path.endswith(".json"):
            json.loads(text)
        elif path.endswith((".yml", ".yaml")):
            yaml.safe_load(text)
        if "MARK" in text:
            reached.add(path)
    assert reached <= set(FREE_TEXT_SINKS), reached - set(FREE_TEXT_SINKS)
    assert "monitoring/rules/wan.yml" in reached  # the markers did go in


# -- Jinja2 as Ansible renders it -----------------------------------------------------------------------------------


def _ansible_env() -> jinja2.Environment:
    """The template module's settings: default delimiters, trim_blocks on, newlines normalised to \\n."""
    return jinja2.Environment(trim_blocks=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True)


@pytest.mark.parametrize("text", [t for t in HOSTILE if "\r" not in t])
def test_jinja_literal_renders_back_table(text: str) -> None:
    for before, after in (("", ""), ("x", "y"), ("} ", "}"), ("", "{{ v }}"), ("{{ v }}", "{% if true %}{% endif %}")):
        src = before + jinja_literal(text) + after
        want = (before + text + after).replace("{{ v }}", "V").replace("{% if true %}{% endif %}", "")
        assert _ansible_env().from_string(src).render(v="V") == want


@given(TEXT.filter(lambda t: "\r" not in t))
def test_jinja_literal_renders_back_any_text(text: str) -> None:
    assert _ansible_env().from_string(jinja_literal(text)).render() == text


def test_rendered_ansible_templates_are_literal_but_for_their_variables() -> None:
    """Every *.j2 Kasbah writes, rendered as Ansible would, equals itself with only its own variables filled."""
    plan, _ = plan_of(Path(__file__).resolve().parents[1] / "stacks" / "phase1.yaml")
    assert plan is not None
    files = render_all(plan)
    templates = {k: v for k, v in files.items() if k.endswith(".j2")}
    assert templates
    for path, text in templates.items():
        env = _ansible_env()
        names = jinja2.meta.find_undeclared_variables(env.parse(text))
        assert names <= {"kasbah_sm_priority"} | {n for n in names if n.startswith("vault_bgp_password_")}, path
        values = {n: f"<{n}>" for n in names}
        out = env.from_string(text).render(**values)
        want = text
        for n in names:
            want = want.replace("{{ " + n + " }}", f"<{n}>")
        assert out == want, path


# -- YAML, JSON, INI, host tables, shell -----------------------------------------------------------------------------


@pytest.mark.parametrize("text", HOSTILE)
def test_yaml_scalars_load_back(text: str) -> None:
    doc = f"a: {yaml_quote(text)}\nb: {yaml_single_quote(text)}\n# {yaml_comment(text)}\nc: 1\n"
    assert yaml.safe_load(doc) == {"a": text, "b": text, "c": 1}
    assert yaml.safe_load(yaml_dump({"k": [text]}, header=text)) == {"k": [text]}


@given(TEXT)
def test_yaml_scalars_load_back_any_text(text: str) -> None:
    doc = f"a: {yaml_quote(text)}\nb: {yaml_single_quote(text)}\n# {yaml_comment(text)}\nc: 1\n"
    assert yaml.safe_load(doc) == {"a": text, "b": text, "c": 1}
    assert yaml.safe_load(yaml_dump({text: text}, header=text)) == {text: text}


@given(
    st.recursive(
        TEXT | st.integers() | st.none(), lambda c: st.lists(c, max_size=3) | st.dictionaries(TEXT, c, max_size=3)
    )
)
def test_json_loads_back(data: object) -> None:
    text = json_text(data, indent=1)
    text.encode("utf-8")
    assert json.loads(text) == data


def test_json_escapes_lone_surrogates() -> None:
    text = json_text({"name": "a\ud800b"})
    text.encode("utf-8")
    assert json.loads(text) == {"name": "a\ud800b"}


def _ansible_cfg(text: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(inline_comment_prefixes=(";",))  # as ansible.config.manager reads it
    parser.read_string(text)
    return parser


@pytest.mark.parametrize("text", HOSTILE)
def test_ini_comment_and_value(text: str) -> None:
    cfg = _ansible_cfg(f"# {ini_comment(text)}\n[defaults]\nforks = 50\n")
    assert cfg.sections() == ["defaults"] and dict(cfg["defaults"]) == {"forks": "50"}
    try:
        value = ini_value(text)
    except ValueError:
        return  # refused: cannot be written as an ansible.cfg value
    got = _ansible_cfg(f"[defaults]\nx = {value}\n").get("defaults", "x", raw=True)
    assert got == text


@given(TEXT)
def test_ini_value_is_read_back_or_refused(text: str) -> None:
    try:
        value = ini_value(text)
    except ValueError:
        return
    assert _ansible_cfg(f"[defaults]\nx = {value}\n").get("defaults", "x", raw=True) == text


@pytest.mark.parametrize("text", [t for t in HOSTILE if not t.isalnum()])
def test_host_tables_refuse_what_would_split(text: str) -> None:
    with pytest.raises(ValueError):
        host_field(text)


@given(st.from_regex(r"^[a-z0-9][a-z0-9-]{0,62}$", fullmatch=True))
def test_host_tables_take_every_id(ident: str) -> None:
    line = f"{host_field(ident)}\t10.0.0.1\t1\t2"
    assert line.split("\t")[0] == ident and len(line.split()) == 4


@pytest.mark.parametrize("text", [t for t in HOSTILE if "\x00" not in t])
def test_shell_join_runs_exactly_argv(text: str) -> None:
    argv = ["printf", "%s\\0", text, "--", text[::-1]]
    proc = subprocess.run(["/bin/sh", "-c", shell_join(argv)], capture_output=True, check=False)
    assert proc.stdout.decode("utf-8", "surrogateescape").split("\0")[:-1] == [text, "--", text[::-1]]


# -- ids: refused by the schema, with a located finding --------------------------------------------------------------


@pytest.mark.parametrize("text", [*HOSTILE, "Europe", "a_b", "A", "-x", "x" * 64, "yes\n"])
def test_hostile_ids_are_refused_with_a_located_finding(stacks: Path, text: str) -> None:
    campus = stacks / "campus.yaml"
    data = yaml.safe_load(campus.read_text(encoding="utf-8"))
    data["wan"]["regions"][0]["id"] = text
    campus.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    with pytest.raises(SpecError) as err:
        load_spec(stacks / "phase1.yaml")
    located = [f for f in err.value.findings if f.path.startswith("wan.regions[0]")]
    assert located and all(f.line for f in located), err.value.findings


def test_rules_of_the_example_carry_no_raw_spec_braces() -> None:
    """Every annotation of the example's rules is a template Prometheus accepts; none holds a raw region name."""
    plan, _ = plan_of(Path(__file__).resolve().parents[1] / "stacks" / "phase1.yaml")
    assert plan is not None
    for group in rule_groups(plan):
        for rule in group.rules:
            for text in rule.annotations.values():
                assert text.count("{{") == text.count("}}"), (rule.name, text)


ID_FIELDS: dict[str, tuple[str, str]] = {
    "campus name": ("campus.yaml", "name"),
    "cable": ("campus.yaml", "wan.cables.0.id"),
    "landing station": ("campus.yaml", "wan.landing_stations.0.id"),
    "hub": ("campus.yaml", "wan.hubs.0"),
    "phase": ("phase1.yaml", "id"),
    "hall": ("phase1.yaml", "halls.0.id"),
    "pod": ("phase1.yaml", "halls.0.pods.0.id"),
    "sku": ("phase1.yaml", "halls.0.pods.0.sku"),
    "edge router": ("phase1.yaml", "wan_uplinks.0.edge_router"),
}


@pytest.mark.parametrize("field", sorted(ID_FIELDS))
@pytest.mark.parametrize("text", [HOSTILE[0], HOSTILE[11], "line\nbreak", "a b", "x;y", "X", "é"])
def test_hostile_text_in_any_id_field_is_refused(stacks: Path, field: str, text: str) -> None:
    name, dotted = ID_FIELDS[field]
    path = stacks / name
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    *parents, last = dotted.split(".")
    node: Any = data
    for key in parents:
        node = node[int(key)] if key.isdigit() else node[key]
    node[int(last) if last.isdigit() else last] = text
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    with pytest.raises(SpecError) as err:
        load_spec(stacks / "phase1.yaml")
    assert err.value.findings and all(f.file and f.line for f in err.value.findings), err.value.findings
