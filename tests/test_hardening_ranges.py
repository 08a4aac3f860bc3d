"""Issue 12, class 7: every number with a real-world range is bounded, and the message says the range.

Generated cases for ports in every port-bearing field, for the AS ranges the plan hands out (lab hubs, Ethernet
fabric), for out-of-range values of every numeric field the example specs hold, and for phase chains past the
64-phase limit; hostile edits through the real CLI (exit 1, located finding, nothing written).
"""

from __future__ import annotations

import datetime as dt
import typing
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError
from typer.testing import CliRunner

from kasbah.cli import app
from kasbah.findings import Finding, Level, SpecError, format_path
from kasbah.plan.asns import LAST_USABLE_ASN, PRIVATE_ASNS, fabric_asn_findings
from kasbah.plan.checks import CAMPUS_CHECKS, hub_asn_findings
from kasbah.spec import base
from kasbah.spec.base import RESERVED_ASNS, host_problem, port_problem
from kasbah.spec.campus import Campus
from kasbah.spec.load import MAX_CHAIN, load_spec, validation_findings
from kasbah.spec.phase import Phase
from kasbah.yamlsource import parse_text
from tests.conftest import REPO, STOCK_MONITORING, edit

CAMPUS_TEXT = (REPO / "stacks" / "campus.yaml").read_text(encoding="utf-8")
PHASE_TEXT = (REPO / "stacks" / "phase1.yaml").read_text(encoding="utf-8")
EXAMPLE = Campus.model_validate(parse_text(CAMPUS_TEXT, "campus.yaml").data)
ENV = {"KASBAH_WIDTH": "200", "NO_COLOR": "1"}
SETTINGS = settings(max_examples=100, deadline=None)


def findings_of(text: str, model: type[BaseModel] = Campus, file: str = "campus.yaml") -> list[Finding]:
    """Schema findings of this text, or (a campus) the campus checks' findings."""
    doc = parse_text(text, file)
    try:
        loaded = model.model_validate(doc.data)
    except ValidationError as exc:
        return validation_findings(exc, doc, model)
    if isinstance(loaded, Campus):
        return [f for check in CAMPUS_CHECKS for f in check(loaded, doc)]
    return []


def errors_at(found: list[Finding], path: str) -> list[Finding]:
    return [f for f in found if f.level == Level.ERROR and f.path == path]


# -- ports and hosts in every port-bearing field ------------------------------------------------------------------

PORT_FIELDS: list[tuple[str, str, str, str, str]] = [
    # (file, old text, new text with {port}, spec path, model)
    (
        "campus",
        "endpoint: https://s3.casablanca-ai.internal",
        "endpoint: https://s3.casablanca-ai.internal:{port}/bucket",
        "object_storage.endpoint",
        "",
    ),
    (
        "campus",
        STOCK_MONITORING,
        "monitoring: {{energy_telemetry: 'energy.casablanca-ai.internal:{port}'}}",
        "monitoring.energy_telemetry",
        "",
    ),
    (
        "campus",
        STOCK_MONITORING,
        "monitoring: {{receivers: {{wan: {{page_url: 'https://pager.example:{port}/hook'}}}}}}",
        "monitoring.receivers.wan.page_url",
        "",
    ),
    (
        "campus",
        STOCK_MONITORING,
        "monitoring: {{receivers: {{fabric: {{ticket_url: 'http://10.0.0.9:{port}'}}}}}}",
        "monitoring.receivers.fabric.ticket_url",
        "",
    ),
    (
        "phase",
        "    max_rack_kw: 140\n",
        "    max_rack_kw: 140\n    telemetry: 'facility-h1.casablanca-ai.internal:{port}'\n",
        "halls[0].telemetry",
        "",
    ),
    (
        "phase",
        'oversubscription: "1:1"}',
        "oversubscription: \"1:1\", telemetry: 'ufm.casablanca-ai.internal:{port}'}}",
        "networks.compute.telemetry",
        "",
    ),
]


def _with(kind: str, old: str, new: str) -> tuple[str, type[BaseModel], str]:
    text = CAMPUS_TEXT if kind == "campus" else PHASE_TEXT
    assert old in text, old
    model: type[BaseModel] = Campus if kind == "campus" else Phase
    return text.replace(old, new, 1), model, f"{kind}.yaml"


ports = st.one_of(st.integers(0, 200_000), st.sampled_from([0, 1, 65_535, 65_536, 70_000, 99_999]))


@pytest.mark.parametrize(("kind", "old", "new", "path", "_"), PORT_FIELDS, ids=[f[3] for f in PORT_FIELDS])
@SETTINGS
@given(port=ports)
def test_ports_in_every_field(kind: str, old: str, new: str, path: str, _: str, port: int) -> None:
    text, model, file = _with(kind, old, new.format(port=port))
    found = errors_at(findings_of(text, model, file), path)
    if 1 <= port <= 65_535:
        assert found == [], found
    else:
        (f,) = found
        assert f.file == file and f.line and f.column
        assert str(port) in f.message and ("65535" in f.message or "port 0" in f.message), f.message


def _port_fields(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> set[str]:
    """Dotted paths of every field validated as host:port or URL (dicts and lists looked through)."""
    out: set[str] = set()
    for name, info in model.model_fields.items():
        checks = {getattr(m, "func", None) for m in info.metadata}
        stack: list[Any] = [info.annotation]
        while stack:
            ann = stack.pop()
            if typing.get_origin(ann) is typing.Annotated:
                checks |= {getattr(m, "func", None) for m in typing.get_args(ann)[1:]}
                stack.append(typing.get_args(ann)[0])
            elif isinstance(ann, type) and issubclass(ann, BaseModel):
                out |= _port_fields(ann, (*prefix, name))
            else:
                stack.extend(typing.get_args(ann))
        if checks & {base._endpoint, base._url}:
            out.add(".".join((*prefix, name)))
    return out


def test_every_port_bearing_field_is_checked_and_tested() -> None:
    found = _port_fields(Campus) | _port_fields(Phase)
    assert found == {
        "object_storage.endpoint",
        "monitoring.energy_telemetry",
        "monitoring.receivers.page_url",
        "monitoring.receivers.ticket_url",
        "halls.telemetry",
        "networks.compute.telemetry",
    }
    for model in (Campus, Phase):  # any string field named like an endpoint carries the check
        for path, _ in _all_fields(model):
            if path.rsplit(".", 1)[-1].endswith(("url", "endpoint", "telemetry")):
                assert path in found, path


def _all_fields(model: type[BaseModel], prefix: str = "") -> list[tuple[str, Any]]:
    out = []
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        out.append((path, info))
        stack: list[Any] = [info.annotation]
        while stack:
            ann = stack.pop()
            if isinstance(ann, type) and issubclass(ann, BaseModel):
                out += _all_fields(ann, path + ".")
            else:
                stack.extend(typing.get_args(ann))
    return out


@pytest.mark.parametrize(
    ("host", "bad"),
    [
        ("s3.casablanca-ai.internal", False),
        ("10.0.0.9", False),
        ("localhost", False),
        ("a" * 63 + ".example", False),
        ("s3..internal", True),
        (".s3.internal", True),
        ("s3.internal.", True),
        ("-s3.internal", True),
        ("s3-.internal", True),
        ("s3_x.internal", True),
        ("a" * 64 + ".example", True),
        (".".join(["a" * 60] * 5), True),  # 304 characters
        ("999.1.1.1", True),
        ("1.2.3", True),
        ("", True),
    ],
)
def test_hosts(host: str, bad: bool) -> None:
    assert (host_problem(host) is not None) == bad
    text = CAMPUS_TEXT.replace(STOCK_MONITORING, f"monitoring: {{energy_telemetry: '{host}:9100'}}", 1)
    assert bool(errors_at(findings_of(text), "monitoring.energy_telemetry")) == bad


@pytest.mark.parametrize("port", ["", "x", "08080", "65 535", "+80", "٣"])
def test_port_text(port: str) -> None:
    assert port_problem(port) is not None


# -- AS numbers -----------------------------------------------------------------------------------------------------

HUBS = len(EXAMPLE.wan.hubs)
TAKEN = {EXAMPLE.asns.edge} | {s.peer_asn for s in EXAMPLE.wan.landing_stations}
asn_bases = st.one_of(
    st.integers(1, 2**32 - 1),
    st.sampled_from([1, 23_450, 64_512, 64_600, 65_530, 65_534, 4_199_999_999, 4_294_967_286, 4_294_967_290]),
    st.sampled_from(sorted(TAKEN)).flatmap(lambda a: st.integers(a - HUBS, a + HUBS)),
    st.sampled_from(sorted(RESERVED_ASNS)).flatmap(lambda a: st.integers(a - HUBS, a)),
)


@SETTINGS
@given(hub_base=asn_bases)
def test_hub_asn_range(hub_base: int) -> None:
    found = findings_of(CAMPUS_TEXT + f"lab: {{hub_asn_base: {hub_base}}}\n")
    here = [f for f in found if f.path == "lab.hub_asn_base"]
    last = hub_base + HUBS - 1
    expect = set()
    if hub_base in RESERVED_ASNS or hub_base < 1 or hub_base > 2**32 - 1:
        expect.add("spec")
    else:
        if last > LAST_USABLE_ASN:
            expect.add("names.asn-range")
        if any(hub_base <= a <= min(last, LAST_USABLE_ASN) for a in RESERVED_ASNS):
            expect.add("names.asn-reserved")
        if any(hub_base <= a <= last for a in TAKEN):
            expect.add("names.duplicate-asn")
    got = {f.code if not f.code.startswith("spec.") else "spec" for f in here if f.level == Level.ERROR}
    assert got == expect, (hub_base, here)
    for f in here:
        assert f.line and f.column and f.file == "campus.yaml"
    private = any(lo <= hub_base and min(last, LAST_USABLE_ASN) <= hi for lo, hi in PRIVATE_ASNS)
    if "spec" not in expect:
        assert ("names.asn-public" in {f.code for f in here}) == (not private)


@pytest.mark.parametrize("field", ["asns.edge", "asns.fabric_base", "wan.landing_stations[0].peer_asn"])
@pytest.mark.parametrize("asn", [0, -1, 23_456, 65_535, 4_294_967_295, 4_294_967_296, 2**64])
def test_reserved_and_out_of_range_asns(field: str, asn: int) -> None:
    old = {
        "asns.edge": "edge: 4200000100",
        "asns.fabric_base": "fabric_base: 4200010000",
        "wan.landing_stations[0].peer_asn": "peer_asn: 64601",
    }[field]
    key = old.split(":")[0]
    text = CAMPUS_TEXT.replace(old, f"{key}: {asn}", 1)
    (f,) = [f for f in findings_of(text) if f.level == Level.ERROR]
    assert f.path == field and f.line and f.column
    assert str(asn) in f.message or "4294967295" in f.message or "greater than" in f.message, f.message


def _fabrics(kind: str, switches: int) -> list[Any]:
    return [SimpleNamespace(compute=[SimpleNamespace(kind=kind, totals={"leaf": switches})])]


@SETTINGS
@given(base_asn=st.integers(1, 2**32 - 2).filter(lambda a: a not in RESERVED_ASNS), switches=st.integers(0, 5000))
def test_fabric_asn_range(base_asn: int, switches: int) -> None:
    campus = EXAMPLE.model_copy(update={"asns": EXAMPLE.asns.model_copy(update={"fabric_base": base_asn})})
    doc = parse_text(CAMPUS_TEXT, "campus.yaml")
    found = fabric_asn_findings(campus, doc, _fabrics("spectrum-x", switches))
    last = min(base_asn + max(switches, 1) - 1, LAST_USABLE_ASN)
    hubs = range(EXAMPLE.lab.hub_asn_base, EXAMPLE.lab.hub_asn_base + HUBS)
    codes = {f.code for f in found}
    assert ("names.duplicate-asn" in codes) == any(base_asn <= h <= last for h in hubs)
    assert ("names.asn-reserved" in codes) == any(base_asn <= a <= last for a in RESERVED_ASNS)
    private = any(lo <= base_asn and last <= hi for lo, hi in PRIVATE_ASNS)
    assert ("names.asn-public" in codes) == (switches > 0 and not private)
    assert all(f.path == "asns.fabric_base" for f in found)
    # InfiniBand fabrics number no switch: only clashes count, never "public"
    quiet = fabric_asn_findings(campus, doc, _fabrics("infiniband-ndr", switches))
    assert "names.asn-public" not in {f.code for f in quiet}


def test_hub_check_is_wired() -> None:
    assert hub_asn_findings in CAMPUS_CHECKS


# -- every numeric field the examples hold refuses absurd values -------------------------------------------------


def _numeric_leaves(data: Any, path: tuple = ()) -> list[tuple]:
    if isinstance(data, dict):
        return [p for k, v in data.items() for p in _numeric_leaves(v, (*path, k))]
    if isinstance(data, list):
        return [p for i, v in enumerate(data) for p in _numeric_leaves(v, (*path, i))]
    if isinstance(data, (int, float)) and not isinstance(data, bool):
        return [path]
    return []


def _set(data: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    copy = dict(data) if isinstance(data, dict) else list(data)
    copy[path[0]] = _set(data[path[0]], path[1:], value)
    return copy


NUMERIC = [("campus", CAMPUS_TEXT, Campus, p) for p in _numeric_leaves(parse_text(CAMPUS_TEXT, "c").data)] + [
    ("phase", PHASE_TEXT, Phase, p) for p in _numeric_leaves(parse_text(PHASE_TEXT, "p").data)
]


@pytest.mark.parametrize("value", [10**12, -(10**12)])
@pytest.mark.parametrize(
    ("kind", "text", "model", "path"), NUMERIC, ids=[f"{n[0]}:{format_path(n[3])}" for n in NUMERIC]
)
def test_every_number_has_bounds(kind: str, text: str, model: type[BaseModel], path: tuple, value: int) -> None:
    doc = parse_text(text, f"{kind}.yaml")
    doc.data = _set(doc.data, path, value)
    with pytest.raises(ValidationError) as info:
        model.model_validate(doc.data)
    found = validation_findings(info.value, doc, model)
    assert [f.path for f in found] == [format_path(path)], found
    assert found[0].line and found[0].column


def _number_nodes(schema: Any, where: str = "") -> list[tuple[str, dict]]:
    if isinstance(schema, dict):
        out = [(where, schema)] if schema.get("type") in ("integer", "number") else []
        for k, v in schema.items():
            out += _number_nodes(v, f"{where}/{k}")
        return out
    if isinstance(schema, list):
        return [n for i, v in enumerate(schema) for n in _number_nodes(v, f"{where}/{i}")]
    return []


@pytest.mark.parametrize("model", [Campus, Phase])
def test_every_number_in_the_schema_is_bounded(model: type[BaseModel]) -> None:
    """Every integer and number in the editors' schema has a lower and an upper bound (counts, ASNs, ports, ...)."""
    nodes = _number_nodes(model.model_json_schema(mode="validation"))
    assert nodes
    for where, node in nodes:
        assert {"minimum", "exclusiveMinimum"} & set(node), where
        assert {"maximum", "exclusiveMaximum"} & set(node), where


# -- networks must be CIDR text -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("10", "as text in CIDR form"),
        ("167772160", "as text in CIDR form"),
        ("10.1.0.0", "no prefix length"),
        ("10.1.0.1/16", "host bits set: the network it falls in is 10.1.0.0/16"),
        ("2001:db8::/32", "IPv6"),
        ("10.1.0.0/33", "not an IPv4 network"),
        ("010.1.0.0/16", "not an IPv4 network"),
        ("lab", "not an IPv4 network"),
    ],
)
def test_networks_are_cidr_text(value: str, words: str) -> None:
    text = CAMPUS_TEXT + f"lab: {{links: {value}}}\n"
    (f,) = errors_at(findings_of(text), "lab.links")
    assert words in f.message and f.line and f.column


# -- the 64-phase limit ---------------------------------------------------------------------------------------------


def _chain(root: Path, n: int) -> Path:
    """phase1 (the example) followed by n-1 empty phases; returns the last one."""
    start = dt.date(2026, 1, 1)
    for i in range(2, n + 1):
        (root / f"chain{i}.yaml").write_text(
            f"campus: campus.yaml\nid: chain{i}\nfollows: {'phase1' if i == 2 else f'chain{i - 1}'}.yaml\n"
            f"ready_by: {start + dt.timedelta(days=i)}\n"
            "power: {budget_mw: 1, basis: it_load, design_pue: 1.2}\n",
            encoding="utf-8",
        )
    return root / f"chain{n}.yaml"


@pytest.mark.parametrize("n", [MAX_CHAIN - 1, MAX_CHAIN, MAX_CHAIN + 1, 70])
def test_phase_chain_limit(stacks: Path, n: int) -> None:
    last = _chain(stacks, n)
    try:
        found = load_spec(last).findings.items
    except SpecError as exc:
        found = exc.findings
    codes = {f.code for f in found}
    assert "phases.cycle" not in codes
    assert ("phases.too-many" in codes) == (n > MAX_CHAIN)
    if n > MAX_CHAIN:
        (f,) = [f for f in found if f.code == "phases.too-many"]
        assert f"more than {MAX_CHAIN} phases" in f.message and f.path == "follows" and f.line


def test_seventy_phases_through_the_cli(stacks: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(stacks)
    last = _chain(stacks, 70)
    result = CliRunner().invoke(app, ["validate", last.name], env=ENV)
    assert result.exit_code == 1, result.output
    assert "error[phases.too-many]" in result.output and f"more than {MAX_CHAIN} phases" in result.output
    assert "cycle" not in result.output and "Traceback" not in result.output


def test_a_real_cycle_is_still_a_cycle(stacks: Path) -> None:
    edit(stacks / "phase1.yaml", "id: phase1\n", "id: phase1\nfollows: phase3.yaml\n")
    with pytest.raises(SpecError) as info:
        load_spec(stacks / "phase3.yaml")
    codes = {f.code for f in info.value.findings}
    assert "phases.cycle" in codes and "phases.too-many" not in codes


# -- through the CLI ----------------------------------------------------------------------------------------------

CLI_CASES = [
    # (file, old, new, code, spec path)
    (
        "campus.yaml",
        STOCK_MONITORING,
        STOCK_MONITORING + "\nlab: {hub_asn_base: 4294967290}",
        "names.asn-range",
        "lab.hub_asn_base",
    ),
    (
        "campus.yaml",
        STOCK_MONITORING,
        STOCK_MONITORING + "\nlab: {hub_asn_base: 64600}",
        "names.duplicate-asn",
        "lab.hub_asn_base",
    ),
    (
        "campus.yaml",
        STOCK_MONITORING,
        STOCK_MONITORING + "\nlab: {hub_asn_base: 65530}",
        "names.asn-reserved",
        "lab.hub_asn_base",
    ),
    ("campus.yaml", "fabric_base: 4200010000", "fabric_base: 65104", "names.duplicate-asn", "asns.fabric_base"),
    (
        "campus.yaml",
        STOCK_MONITORING,
        STOCK_MONITORING + "\nlab: {links: 0.0.0.0/24}",
        "addresses.lab-links-unusable",
        "lab.links",
    ),
    (
        "campus.yaml",
        "endpoint: https://s3.casablanca-ai.internal",
        "endpoint: https://s3.casablanca-ai.internal:0",
        "spec.value-error",
        "object_storage.endpoint",
    ),
    (
        "campus.yaml",
        STOCK_MONITORING,
        "monitoring: {energy_telemetry: 'e.internal:70000'}",
        "spec.value-error",
        "monitoring.energy_telemetry",
    ),
    (
        "phase1.yaml",
        "    max_rack_kw: 140\n",
        "    max_rack_kw: 140\n    telemetry: 'f.internal:0'\n",
        "spec.value-error",
        "halls[0].telemetry",
    ),
    ("campus.yaml", "edge: 4200000100", "edge: 23456", "spec.value-error", "asns.edge"),
]


@pytest.mark.parametrize(("file", "old", "new", "code", "path"), CLI_CASES, ids=[c[4] + ":" + c[3] for c in CLI_CASES])
def test_cli_refuses_with_a_located_finding(
    stacks: Path, monkeypatch: pytest.MonkeyPatch, file: str, old: str, new: str, code: str, path: str
) -> None:
    monkeypatch.chdir(stacks)
    edit(Path(file), old, new)
    before = sorted((p, p.read_bytes()) for p in stacks.parent.rglob("*") if p.is_file())
    for args in (["validate", "phase1.yaml"], ["render", "phase1.yaml", "--out", "out"]):
        result = CliRunner().invoke(app, args, env=ENV)
        assert result.exit_code == 1, (args, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
        assert "Traceback" not in result.output
        assert f"error[{code}]" in result.output, result.output
        assert f"--> {file}:" in result.output and f"({path})" in result.output, result.output
    assert sorted((p, p.read_bytes()) for p in stacks.parent.rglob("*") if p.is_file()) == before


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("https://user:secret@s3.internal", "credentials"),
        ("ftp://s3.internal", "not an http:// or https:// URL"),
        ("HTTPS://s3.internal", "not an http:// or https:// URL"),
        ("https://s3.internal?x=1", "path starting with '/'"),
        ("https://s3.internal/a b", "space"),
        ("https://s3.internal:/x", "not a number"),
        ("https://:443/x", "host name is empty"),
    ],
)
def test_urls(url: str, words: str) -> None:
    text = CAMPUS_TEXT.replace("endpoint: https://s3.casablanca-ai.internal", f"endpoint: '{url}'", 1)
    (f,) = errors_at(findings_of(text), "object_storage.endpoint")
    assert words in f.message, f.message


@SETTINGS
@given(
    port=ports,
    host=st.sampled_from(
        ["s3.internal", "10.0.0.1", "a-b.c", "bad..host", "-x.y", "x-.y", "a_b.c", "a" * 64, "a" * 63]
    ),
)
def test_editor_schema_agrees_with_the_validator(port: int, host: str) -> None:
    """The JSON schema's pattern (what an editor flags) accepts exactly what the models accept."""
    import re as _re

    schema = Campus.model_json_schema(mode="validation")
    endpoint = _re.compile(schema["$defs"]["Monitoring"]["properties"]["energy_telemetry"]["anyOf"][0]["pattern"])
    url = _re.compile(schema["$defs"]["ObjectStorage"]["properties"]["endpoint"]["pattern"])
    accepted = 1 <= port <= 65_535 and host_problem(host) is None
    assert bool(endpoint.match(f"{host}:{port}")) == accepted
    assert bool(url.match(f"https://{host}:{port}/x")) == accepted
