"""Issue 12, class 1: the campus's WAN prefixes make sense where they are used.

Generated cases (hypothesis) for what the edge announces, what stands for a region and the lab's link block, each
checked against an oracle written from `ipaddress` and the campus's own address plan; a table of hostile campus
edits through the real CLI (`validate` and `render`: exit 1, a finding located at the offending text, nothing
written); and the special-purpose table itself checked against `ipaddress`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from ipaddress import IPv4Network
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from typer.testing import CliRunner

from kasbah.cli import app
from kasbah.findings import Finding, Level
from kasbah.plan import prefixes
from kasbah.plan.checks import CAMPUS_CHECKS, campus_findings
from kasbah.plan.prefixes import SPECIAL, prefix_findings
from kasbah.render import frr
from kasbah.spec.campus import Campus
from kasbah.spec.load import validation_findings
from kasbah.yamlsource import parse_text
from tests.conftest import REPO, STOCK_MONITORING, edit

CAMPUS_TEXT = (REPO / "stacks" / "campus.yaml").read_text(encoding="utf-8")
EXAMPLE = Campus.model_validate(parse_text(CAMPUS_TEXT, "campus.yaml").data)
SUPERNETS = list(EXAMPLE.addressing.model_dump().values())
REGION_PREFIXES = [p for r in EXAMPLE.wan.regions for p in r.prefixes]
LAB_DEFAULT = EXAMPLE.lab.links
BAD_KINDS = ("unusable", "private")
ENV = {"KASBAH_WIDTH": "200", "NO_COLOR": "1"}
LOCATION = re.compile(r"--> (?P<file>[^:\s]+):(?P<line>\d+):(?P<col>\d+) \((?P<path>[^)]*)\)")


def findings_of(text: str) -> list[Finding]:
    """What loading this campus text reports: schema findings, or the campus checks' findings."""
    doc = parse_text(text, "campus.yaml")
    try:
        campus = Campus.model_validate(doc.data)
    except ValidationError as exc:
        return validation_findings(exc, doc, Campus)
    return campus_findings(campus, doc)


def with_announce(*nets: str) -> str:
    return CAMPUS_TEXT.replace("  regions:\n", f"  announce: [{', '.join(nets)}]\n  regions:\n", 1)


def with_region_prefix(net: str) -> str:
    """West Africa (regions[1]) gets `net` instead of its example prefix."""
    old = "prefixes: [198.18.128.0/17]"
    assert old in CAMPUS_TEXT
    return CAMPUS_TEXT.replace(old, f"prefixes: [{net}]", 1)


def with_lab_links(net: str) -> str:
    return CAMPUS_TEXT + f"lab: {{links: {net}}}\n"


def errors(found: list[Finding]) -> list[Finding]:
    return [f for f in found if f.level == Level.ERROR]


def located(found: list[Finding]) -> None:
    for f in found:
        assert f.file == "campus.yaml" and f.line and f.column, f


def not_routable(net: IPv4Network) -> bool:
    """The oracle from `ipaddress` alone: an end of the block is not global, or it is multicast."""
    ends = (net.network_address, net.broadcast_address)
    return any(not a.is_global or a.is_multicast for a in ends)


def overlaps_bad(net: IPv4Network) -> bool:
    return any(s.kind in BAD_KINDS and s.network.overlaps(net) for s in SPECIAL)


# -- strategies -------------------------------------------------------------------------------------------------------


def _net(address: int, length: int) -> IPv4Network:
    return IPv4Network((address, length), strict=False)


random_nets = st.builds(_net, st.integers(0, 2**32 - 1), st.integers(0, 32))


def _inside(block: IPv4Network) -> st.SearchStrategy[IPv4Network]:
    return st.builds(
        _net,
        st.integers(int(block.network_address), int(block.broadcast_address)),
        st.integers(block.prefixlen, 32),
    )


special_nets = st.sampled_from([s.network for s in SPECIAL]).flatmap(_inside)
campus_nets = st.sampled_from(SUPERNETS + REGION_PREFIXES + [LAB_DEFAULT]).flatmap(_inside)
short_nets = st.builds(_net, st.integers(0, 2**32 - 1), st.integers(0, 8))
public_nets = st.builds(_net, st.integers(0, 2**32 - 1), st.integers(8, 24)).filter(
    lambda n: not not_routable(n) and not any(s.network.overlaps(n) for s in SPECIAL)
)
nets = st.one_of(random_nets, special_nets, campus_nets, short_nets, public_nets)
SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])


# -- generated: announce, region prefixes, lab links ------------------------------------------------------------------


@SETTINGS
@given(net=nets)
def test_announced_prefix(net: IPv4Network) -> None:
    found = findings_of(with_announce(str(net)))
    located(found)
    here = [f for f in found if f.path == "wan.announce[0]"]
    expect_error = net.prefixlen < 8 or overlaps_bad(net) or net.overlaps(LAB_DEFAULT)
    assert bool(errors(here)) == expect_error, (net, here)
    if not_routable(net):  # documentation and benchmarking space is a warning, everything else an error
        assert any(f.level >= Level.WARNING for f in here), (net, here)
    if net.prefixlen == 0:
        assert "wan.prefix-default" in {f.code for f in here}
    if 0 < net.prefixlen < 8:
        assert "wan.prefix-too-short" in {f.code for f in here}
    if net.prefixlen > 24 and not expect_error:
        assert "wan.prefix-too-long" in {f.code for f in here}
    if not expect_error and not not_routable(net) and net.prefixlen <= 24:
        assert here == [], here


@SETTINGS
@given(net=nets)
def test_region_prefix(net: IPv4Network) -> None:
    found = findings_of(with_region_prefix(str(net)))
    located(found)
    others = [p for p in REGION_PREFIXES if p != IPv4Network("198.18.128.0/17")]
    expect_error = (
        net.prefixlen < 8
        or net.prefixlen > 24
        or overlaps_bad(net)
        or any(s.overlaps(net) for s in SUPERNETS)
        or any(p.overlaps(net) for p in others)
        or net.overlaps(LAB_DEFAULT)
    )
    assert bool(errors(found)) == expect_error, (net, found)
    if not_routable(net):
        assert any(f.path == "wan.regions[1].prefixes[0]" for f in found), (net, found)
    if any(s.overlaps(net) for s in SUPERNETS) and net.prefixlen >= 8:
        assert "wan.region-prefix-own" in {f.code for f in found}
    if any(p.overlaps(net) for p in others):
        assert "wan.region-prefix-shared" in {f.code for f in found}


@SETTINGS
@given(first=nets, second=nets)
def test_two_regions_never_share_a_prefix(first: IPv4Network, second: IPv4Network) -> None:
    text = with_region_prefix(f"{first}, {second}").replace(
        "prefixes: [198.19.0.0/17]", f"prefixes: [{second}]", 1
    )  # west-africa: [first, second]; middle-east: [second]
    shared = [f for f in findings_of(text) if f.code == "wan.region-prefix-shared"]
    assert shared, (first, second)  # middle-east repeats west-africa's second prefix
    assert all(f.path.startswith("wan.regions[") and f.level == Level.ERROR for f in shared)
    assert "wan.regions[2].prefixes[0]" in {f.path for f in shared}
    europe = EXAMPLE.wan.regions[0].prefixes[0]
    if not first.overlaps(europe) and not second.overlaps(europe):  # overlap inside one region is no clash
        assert {f.path for f in shared} == {"wan.regions[2].prefixes[0]"}, (first, second, shared)


@SETTINGS
@given(net=nets)
def test_lab_links(net: IPv4Network) -> None:
    found = findings_of(with_lab_links(str(net)))
    located(found)
    lab = [f for f in found if f.path == "lab.links"]
    campus_space = SUPERNETS + REGION_PREFIXES
    unusable = any(s.kind == "unusable" and s.network.overlaps(net) for s in SPECIAL)
    expect_error = unusable or any(c.overlaps(net) for c in campus_space)
    assert bool(errors(lab)) == expect_error, (net, lab)
    if any(c.overlaps(net) for c in campus_space):
        assert "addresses.lab-links-overlap" in {f.code for f in lab}
    if unusable:
        assert "addresses.lab-links-unusable" in {f.code for f in lab}


@SETTINGS
@given(net=st.one_of(random_nets, special_nets, short_nets))
def test_addressing_supernet_in_unusable_space(net: IPv4Network) -> None:
    text = CAMPUS_TEXT.replace("  storage: 10.32.0.0/12\n", f"  storage: {net}\n", 1)
    found = [f for f in findings_of(text) if f.path == "addressing.storage" and f.code == "addresses.unusable"]
    assert bool(found) == any(s.kind == "unusable" and s.network.overlaps(net) for s in SPECIAL), (net, found)


# -- the example stays clean; decisions on documentation space --------------------------------------------------------


def test_example_campus_has_notes_only() -> None:
    found = findings_of(CAMPUS_TEXT)
    assert all(f.level == Level.INFO for f in found), found
    assert {f.code for f in found} == {"wan.prefix-test-range", "wan.prefix-special"}
    assert len([f for f in found if f.code == "wan.prefix-test-range"]) == 3  # the RFC 2544 region prefixes


@pytest.mark.parametrize("net", ["192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "198.18.0.0/16"])
def test_documentation_space_is_a_warning_when_announced(net: str) -> None:
    text = with_announce(net) + "lab: {links: 192.168.255.0/24}\n"
    (f,) = [f for f in findings_of(text) if f.path == "wan.announce[0]"]
    assert (f.level, f.code) == (Level.WARNING, "wan.prefix-special")
    assert "only the lab can route it" in f.message


def test_duplicates_are_warnings() -> None:
    found = findings_of(with_announce("41.0.0.0/16", "41.0.0.0/16"))
    assert [(f.level, f.code, f.path) for f in found if f.path.startswith("wan.announce[")] == [
        (Level.WARNING, "wan.prefix-duplicate", "wan.announce[1]")
    ]
    found = findings_of(with_region_prefix("41.1.0.0/16, 41.1.0.0/16"))
    assert ("wan.prefix-duplicate", "wan.regions[1].prefixes[1]") in {(f.code, f.path) for f in found}


# -- the table against ipaddress ----------------------------------------------------------------------------------


@pytest.mark.parametrize("special", SPECIAL, ids=lambda s: str(s.network))
def test_special_table_agrees_with_ipaddress(special: prefixes.Special) -> None:
    net = special.network
    first = net.network_address
    assert not first.is_global or first.is_multicast or str(net) in ("192.0.0.0/24", "192.88.99.0/24")
    if "multicast" in special.name:
        assert net.is_multicast
    if "loopback" in special.name:
        assert net.is_loopback
    if "link-local" in special.name:
        assert net.is_link_local
    if "RFC 1918" in special.name:
        assert net.is_private
    if "reserved" in special.name:
        assert net.is_reserved
    assert special.kind in ("unusable", "private", "test")


def test_accepted_length_is_the_renderers() -> None:
    assert prefixes.MAX_ACCEPTED_LENGTH == frr.MAX_ACCEPTED_LENGTH


def test_every_campus_check_is_wired() -> None:
    assert prefix_findings in CAMPUS_CHECKS
    found = findings_of(with_announce("0.0.0.0/0"))
    assert "wan.prefix-default" in {f.code for f in found}


# -- through the CLI ----------------------------------------------------------------------------------------------

CLI_CASES = [
    # (old text in campus.yaml, new text, finding code, spec path, text the located line must hold)
    ("  regions:\n", "  announce: [0.0.0.0/0]\n  regions:\n", "wan.prefix-default", "wan.announce[0]", "0.0.0.0/0"),
    ("  regions:\n", "  announce: [10.0.0.0/8]\n  regions:\n", "wan.prefix-special", "wan.announce[0]", "10.0.0.0/8"),
    ("  regions:\n", "  announce: [172.16.0.0/12]\n  regions:\n", "wan.prefix-special", "wan.announce[0]", "172.16"),
    (
        "  regions:\n",
        "  announce: [41.0.0.0/20, 127.0.0.0/8]\n  regions:\n",
        "wan.prefix-special",
        "wan.announce[1]",
        "127.0.0.0/8",
    ),
    ("  regions:\n", "  announce: [128.0.0.0/1]\n  regions:\n", "wan.prefix-too-short", "wan.announce[0]", "128.0"),
    (
        "  regions:\n",
        "  announce: [41.0.0.0/16, 198.18.0.0/17]\n  regions:\n",
        "wan.region-prefix-own",
        "wan.regions[0].prefixes[0]",
        "198.18.0.0/17",
    ),
    (
        "prefixes: [198.18.128.0/17]",
        "prefixes: [10.0.0.0/24]",
        "wan.region-prefix-own",
        "wan.regions[1].prefixes[0]",
        "10.0.0.0/24",
    ),
    (
        "prefixes: [198.18.128.0/17]",
        "prefixes: [198.18.0.0/17]",
        "wan.region-prefix-shared",
        "wan.regions[1].prefixes[0]",
        "198.18.0.0/17",
    ),
    (
        "prefixes: [198.18.128.0/17]",
        "prefixes: [240.0.0.0/8]",
        "wan.prefix-special",
        "wan.regions[1].prefixes[0]",
        "240.0.0.0/8",
    ),
    (
        "prefixes: [198.18.128.0/17]",
        "prefixes: [41.2.3.0/28]",
        "wan.prefix-too-long",
        "wan.regions[1].prefixes[0]",
        "41.2.3.0/28",
    ),
    (
        "prefixes: [198.18.128.0/17]",
        "prefixes: [0.0.0.0/0]",
        "wan.prefix-default",
        "wan.regions[1].prefixes[0]",
        "0.0.0.0/0",
    ),
    (
        STOCK_MONITORING,
        STOCK_MONITORING + "\nlab: {links: 0.0.0.0/24}",
        "addresses.lab-links-unusable",
        "lab.links",
        "0.0.0.0/24",
    ),
    (
        STOCK_MONITORING,
        STOCK_MONITORING + "\nlab: {links: 10.68.0.0/24}",
        "addresses.lab-links-overlap",
        "lab.links",
        "10.68.0.0/24",
    ),
    (
        STOCK_MONITORING,
        STOCK_MONITORING + "\nlab: {links: 198.18.0.0/24}",
        "addresses.lab-links-overlap",
        "lab.links",
        "198.18.0.0/24",
    ),
    ("  oob: 10.48.0.0/12", "  oob: 224.0.0.0/12", "addresses.unusable", "addressing.oob", "224.0.0.0/12"),
]


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize(("old", "new", "code", "path", "text"), CLI_CASES, ids=[c[2] + ":" + c[4] for c in CLI_CASES])
def test_cli_refuses_with_a_located_finding(
    stacks: Path, monkeypatch: pytest.MonkeyPatch, old: str, new: str, code: str, path: str, text: str
) -> None:
    monkeypatch.chdir(stacks)
    edit(Path("campus.yaml"), old, new)
    before = _tree(stacks.parent)
    for args in (["validate", "phase1.yaml"], ["validate", "campus.yaml"], ["render", "phase1.yaml", "--out", "out"]):
        result = CliRunner().invoke(app, args, env=ENV)
        assert result.exit_code == 1, (args, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
        assert "Traceback" not in result.output
        assert f"error[{code}]" in result.output, (args, result.output)
        spots = [m for m in LOCATION.finditer(result.output) if m["path"] == path]
        assert spots, result.output
        lines = Path("campus.yaml").read_text(encoding="utf-8").splitlines()
        line, col = int(spots[0]["line"]), int(spots[0]["col"])
        assert spots[0]["file"] == "campus.yaml"
        assert lines[line - 1][col - 1 :].startswith(text), (lines[line - 1], col, text)
    assert _tree(stacks.parent) == before, "a refused command wrote to disk"


def test_cli_json_through_a_subprocess(stacks: Path) -> None:
    """The console script itself, as a user runs it: exit 1, the finding in JSON with file, line, column, path."""
    edit(stacks / "campus.yaml", "  regions:\n", "  announce: [0.0.0.0/0]\n  regions:\n")
    env = {**os.environ, "PYTHONPATH": str(REPO), **ENV}
    proc = subprocess.run(
        [sys.executable, "-m", "kasbah.cli", "validate", "--json", "phase1.yaml"],
        cwd=stacks,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    found = json.loads(proc.stdout)["findings"]
    (f,) = [f for f in found if f["code"] == "wan.prefix-default"]
    assert (f["file"], f["path"], f["level"]) == ("campus.yaml", "wan.announce[0]", "error")
    assert f["line"] and f["column"] and f["hint"]


@SETTINGS
@given(stored=st.lists(nets, max_size=40), query=nets)
def test_prefix_index_finds_exactly_the_overlapping_prefixes(stored: list[IPv4Network], query: IPv4Network) -> None:
    """The index behind the region checks (n log n instead of every pair) agrees with comparing every pair."""
    index: prefixes.PrefixIndex[int] = prefixes.PrefixIndex()
    for i, net in enumerate(stored):
        index.add(net, i)
    found = sorted(i for _, i in index.overlapping(query))
    assert found == [i for i, net in enumerate(stored) if net.overlaps(query)]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@example(announce=[IPv4Network("41.0.0.0/16")], region=IPv4Network("52.0.0.0/16"), links=None, hub_base=None)
@example(announce=[], region=IPv4Network("52.0.0.0/16"), links=IPv4Network("0.0.0.0/24"), hub_base=4294967290)
@given(
    announce=st.lists(st.one_of(public_nets, nets), max_size=3),
    region=st.one_of(public_nets, nets),
    links=st.one_of(st.none(), st.just(IPv4Network("192.168.77.0/24")), nets),
    hub_base=st.one_of(st.none(), st.integers(64_512, 65_000), st.integers(1, 2**32 - 1)),
)
def test_render_never_crashes_and_writes_only_when_clean(
    announce: list[IPv4Network], region: IPv4Network, links: IPv4Network | None, hub_base: int | None
) -> None:
    """Any mix of these fields: render exits 0 and writes, or exits 1 with a located error and writes nothing."""
    import shutil
    import tempfile

    text = with_region_prefix(str(region))
    if announce:
        text = text.replace("  regions:\n", f"  announce: [{', '.join(map(str, announce))}]\n  regions:\n", 1)
    lab = {k: v for k, v in (("links", links), ("hub_asn_base", hub_base)) if v is not None}
    if lab:
        text += "lab: {" + ", ".join(f"{k}: {v}" for k, v in lab.items()) + "}\n"
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        shutil.copytree(REPO / "stacks", root / "stacks")
        (root / "stacks" / "campus.yaml").write_text(text, encoding="utf-8")
        out = root / "out"
        result = CliRunner().invoke(app, ["render", str(root / "stacks" / "phase1.yaml"), "--out", str(out)], env=ENV)
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
        assert "Traceback" not in result.output
        assert result.exit_code in (0, 1), result.output
        if result.exit_code == 1:
            assert "error[" in result.output and LOCATION.search(result.output), result.output
            assert not out.exists()
        else:
            assert (out / "phase1").is_dir()
        event(f"exit {result.exit_code}")


@SETTINGS
@given(announce=st.lists(st.one_of(public_nets, campus_nets, nets), min_size=1, max_size=4))
def test_probe_replies_need_an_announced_route(announce: list[IPv4Network]) -> None:
    """The WAN probes leave from the services supernet; an announce list that does not hold it gets a warning."""
    found = findings_of(with_announce(*map(str, announce)))
    misses = [f for f in found if f.code == "wan.prefix-misses-probes"]
    covered = any(EXAMPLE.addressing.services.subnet_of(n) for n in announce)
    assert bool(misses) == (not covered), (announce, misses)
    assert all(f.level == Level.WARNING and f.path == "wan.announce" and f.line for f in misses)
