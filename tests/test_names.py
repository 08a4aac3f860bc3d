"""Name collisions across generated objects (issue 12, class 2): every generated name space is checked in the plan.

Three kinds of test:
- the review's examples and their neighbours, through the CLI: `kasbah validate` exits 1 with a located error that
  names both sources, `kasbah render` writes nothing;
- generated spec variants (hypothesis): ids drawn so that a name-building rule maps two objects to one name, or a
  name past its limit, and the plan must say so; ids drawn NOT to collide must pass;
- the enumeration in `kasbah.plan.names` agrees with what the renderers, the inventory and the Pulumi steps really
  produce for the example stacks, so the check cannot drift from the names it guards.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from components.monitoring import MONITORING_GROUP
from components.phase_deployment import step_triggers
from components.scopes import COMMON_PREFIXES, scope_files, scope_prefixes
from kasbah import render as renders
from kasbah.cli import app
from kasbah.findings import Finding
from kasbah.plan.derive import Plan
from kasbah.plan.hosts import host_name
from kasbah.plan.names import (
    ANSIBLE_GROUPS,
    ROLE_GROUPS,
    Source,
    Space,
    bucket_problem,
    group_name,
    imex_path,
    label_problem,
    name_findings,
    step_names,
)
from kasbah.spec.load import load_spec
from tests.conftest import REPO, STOCK_MONITORING, edit, plan_of

HUBS_LINE = next(
    n
    for n, line in enumerate((REPO / "stacks" / "campus.yaml").read_text(encoding="utf-8").splitlines(), 1)
    if line.startswith("  hubs:")
)
"""The line of the example campus's `wan.hubs` (findings quote it)."""

ENV = {"KASBAH_WIDTH": "400", "NO_COLOR": "1"}
ID = st.from_regex(r"[a-z][a-z0-9]{0,6}", fullmatch=True)
SETTINGS = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

UPLINK_EDGE1 = "{cable: mtwa-north, gbps: 800, edge_router: edge1}"
POD1 = "{id: h1-su001, sku: gb200-nvl72, count: 8}"
POD14 = "{id: h2-su014, sku: gb200-nvl72, count: 8}"


def catalog_cables(stacks: Path, ids: list[str]) -> None:
    """Add cable systems (copies of MTWA South's Casablanca segment) to the campus, its leases and its catalog."""
    leases = "".join(
        f"    - {{id: {c}, landing_station: casablanca, far_end: abidjan, leased_gbps: 800}}\n" for c in ids
    )
    edit(stacks / "campus.yaml", "  hubs: [", leases + "  hubs: [")
    entries = "".join(
        f"    {c}: {{name: test cable {c}, source: ['test [U]'], confidence: low,\n"
        f"      segments: [{{landing_station: casablanca, far_end: abidjan, length_km: 8200}}]}}\n"
        for c in ids
    )
    with (stacks / "campus.yaml").open("a", encoding="utf-8") as fh:
        fh.write("catalog:\n  cables:\n" + entries)


def uplinks(stacks: Path, pairs: list[tuple[str, str]]) -> None:
    """Replace phase 1's uplinks with (router, cable) pairs."""
    path = stacks / "phase1.yaml"
    text = path.read_text(encoding="utf-8")
    head = text[: text.index("wan_uplinks:")]
    body = "".join(f"  - {{cable: {c}, gbps: 100, edge_router: {r}}}\n" for r, c in pairs)
    path.write_text(head + "wan_uplinks:\n" + body, encoding="utf-8")


@contextmanager
def stacks_copy() -> Iterator[Path]:
    """A fresh copy of stacks/ per generated example (hypothesis cannot reuse a function-scoped tmp_path)."""
    with tempfile.TemporaryDirectory(prefix="kasbah-names-") as tmp:
        dest = Path(tmp) / "stacks"
        shutil.copytree(REPO / "stacks", dest)
        yield dest


def errors(path: Path, code_prefix: str = "names.") -> list[Finding]:
    _, findings = plan_of(path)
    return [f for f in findings if f.code.startswith(code_prefix) and f.level.name == "ERROR"]


# --- the review's examples and their neighbours, through the CLI ----------------------------------------------------

CASES: list[dict[str, object]] = [
    dict(
        id="router-named-like-the-monitoring-server",
        edits=[("phase1.yaml", UPLINK_EDGE1, UPLINK_EDGE1.replace("edge1", "mon1"))],
        code="names.collision",
        at=("phase1.yaml", "wan_uplinks[0].edge_router"),
        says=["edge router 'mon1' (phase1.yaml:60 wan_uplinks[0].edge_router)", "the monitoring server 'mon1'"],
    ),
    dict(
        id="router-named-like-a-role-group",
        edits=[("phase1.yaml", UPLINK_EDGE1, UPLINK_EDGE1.replace("edge1", "monitoring"))],
        code="names.collision",
        at=("phase1.yaml", "wan_uplinks[0].edge_router"),
        says=["edge router 'monitoring'", "the inventory group 'monitoring'"],
    ),
    dict(
        id="router-named-all",
        edits=[("phase1.yaml", UPLINK_EDGE1, UPLINK_EDGE1.replace("edge1", "all"))],
        code="names.collision",
        at=("phase1.yaml", "wan_uplinks[0].edge_router"),
        says=["edge router 'all'", "the inventory group 'all'"],
    ),
    dict(
        id="router-named-like-a-compute-tray",
        edits=[("phase1.yaml", UPLINK_EDGE1, UPLINK_EDGE1.replace("edge1", "h1-su002-r03-n07"))],
        code="names.collision",
        at=("phase1.yaml", "wan_uplinks[0].edge_router"),
        says=["edge router 'h1-su002-r03-n07'", "compute tray 'h1-su002-r03-n07' of pod 'h1-su002' (phase1.yaml:23"],
    ),
    dict(
        id="router-named-like-a-subnet-manager",
        edits=[("phase1.yaml", UPLINK_EDGE1, UPLINK_EDGE1.replace("edge1", "sm-phase1-d0-2"))],
        code="names.collision",
        at=("phase1.yaml", "wan_uplinks[0].edge_router"),
        says=["edge router 'sm-phase1-d0-2'", "subnet manager 'sm-phase1-d0-2' of the compute fabric of phase"],
    ),
    dict(
        id="router-named-like-a-lab-hub",
        edits=[("phase1.yaml", UPLINK_EDGE1, UPLINK_EDGE1.replace("edge1", "hub-lisbon"))],
        code="names.collision",
        at=("phase1.yaml", "wan_uplinks[0].edge_router"),
        says=["edge router 'hub-lisbon'", f"hub 'lisbon' (campus.yaml:{HUBS_LINE} wan.hubs[0])"],
    ),
    dict(
        id="router-named-like-the-lab-campus",
        edits=[("phase1.yaml", UPLINK_EDGE1, UPLINK_EDGE1.replace("edge1", "campus"))],
        code="names.collision",
        at=("phase1.yaml", "wan_uplinks[0].edge_router"),
        says=["edge router 'campus'", "the lab's campus node 'campus'"],
    ),
    dict(
        id="pod-named-like-the-monitoring-step",
        edits=[("phase1.yaml", POD1, POD1.replace("h1-su001", "monitoring"))],
        code="names.collision",
        at=("phase1.yaml", "halls[0].pods[0].id"),
        says=["pod 'monitoring' (phase1.yaml:22 halls[0].pods[0].id)", "the monitoring step"],
    ),
    dict(
        id="pod-named-like-an-edge-router-step",
        edits=[("phase1.yaml", POD1, POD1.replace("h1-su001", "edge1"))],
        code="names.collision",
        at=("phase1.yaml", "wan_uplinks[0].edge_router"),
        says=["pod 'edge1'", "edge router 'edge1' (phase1.yaml:60 wan_uplinks[0].edge_router)"],
    ),
    dict(
        id="pod-named-like-the-fabric-step",
        edits=[("phase1.yaml", POD1, POD1.replace("h1-su001", "fabric-phase1"))],
        code="names.collision",
        at=("phase1.yaml", "halls[0].pods[0].id"),
        says=["pod 'fabric-phase1'", "the compute fabric of phase 'phase1' (phase1.yaml:56 networks.compute.switch)"],
    ),
    dict(
        id="router-named-like-an-ethernet-fabric-switch",
        edits=[
            ("phase1.yaml", "{kind: infiniband-ndr, switch: qm9700", "{kind: spectrum-x, switch: sn5600"),
            ("phase1.yaml", UPLINK_EDGE1, UPLINK_EDGE1.replace("edge1", "phase1-d0-leaf-001")),
        ],
        code="names.collision",
        at=("phase1.yaml", "wan_uplinks[0].edge_router"),
        says=["edge router 'phase1-d0-leaf-001'", "fabric switch 'phase1-d0-leaf-001' of the compute fabric of phase"],
    ),
    dict(
        id="phase-id-too-long-for-its-subnet-managers",
        edits=[("phase1.yaml", "id: phase1\n", "id: " + "q" * 58 + "\n")],
        code="names.too-long",
        at=("phase1.yaml", "networks.compute.switch"),
        says=["host name 'sm-" + "q" * 58 + "-d0-1'", "is 66 characters, over the 63"],
    ),
    dict(
        id="webhook-token-named-like-a-bgp-password",
        edits=[
            (
                "campus.yaml",
                STOCK_MONITORING,
                "monitoring: {receivers: {wan: {token_var: vault_bgp_password_edge1_mtwa_north}}}",
            )
        ],
        code="names.collision",
        at=("campus.yaml", "monitoring.receivers.wan.token_var"),
        says=["the webhook token of 'wan'", "the uplink of router 'edge1' on cable 'mtwa-north' (phase1.yaml:60"],
    ),
    dict(
        id="campus-name-too-long-for-its-buckets",
        edits=[("campus.yaml", "name: casablanca-ai", "name: " + "c" * 51)],
        code="names.too-long",
        at=("campus.yaml", "name"),
        says=["S3 bucket name '" + "c" * 51 + "-pulumi-state'", "is 64 characters", "at most 50 characters"],
    ),
    dict(
        id="campus-name-makes-an-invalid-bucket",
        edits=[("campus.yaml", "name: casablanca-ai", "name: xn--casablanca")],
        code="names.invalid",
        at=("campus.yaml", "name"),
        says=["S3 bucket name 'xn--casablanca-pulumi-state'", "may not start with 'xn--'", "not starting with 'xn--'"],
    ),
    dict(
        id="campus-name-ending-in-a-hyphen",
        edits=[("campus.yaml", "name: casablanca-ai", "name: casablanca-")],
        code="names.invalid",
        at=("campus.yaml", "name"),
        says=["the campus's internal DNS zone 'casablanca-.internal'", "has a label 'casablanca-'"],
    ),
    dict(
        id="hall-id-too-long-for-its-telemetry-name",
        edits=[("phase1.yaml", "  - id: h1\n", "  - id: " + "h" * 60 + "\n")],
        code="names.too-long",
        at=("phase1.yaml", "halls[0].id"),
        says=["facility-" + "h" * 60, "is 69 characters, over the 63"],
    ),
    dict(
        id="pod-id-too-long-for-its-trays",
        edits=[("phase1.yaml", POD1, POD1.replace("h1-su001", "p" * 56))],
        code="names.too-long",
        at=("phase1.yaml", "halls[0].pods[0].id"),
        says=["host name '" + "p" * 56 + "-r08-n18'", "shorten the pod id to at most 55 characters"],
    ),
    dict(
        id="router-ending-in-a-hyphen",
        edits=[("phase1.yaml", UPLINK_EDGE1, UPLINK_EDGE1.replace("edge1", "edge-"))],
        code="names.invalid",
        at=("phase1.yaml", "wan_uplinks[0].edge_router"),
        says=["host name 'edge-' of edge router 'edge-'", "is not a DNS label"],
    ),
]


@pytest.fixture
def in_stacks(stacks: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(stacks)
    return stacks


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("case", CASES, ids=[str(c["id"]) for c in CASES])
def test_review_examples_are_refused_naming_both_sources(in_stacks: Path, case: dict) -> None:
    for file, old, new in case["edits"]:
        edit(in_stacks / file, old, new)
    runner = CliRunner()
    result = runner.invoke(app, ["validate", "phase1.yaml", "--json"], env=ENV)
    assert result.exit_code == 1, result.output
    found = [f for f in json.loads(result.output)["findings"] if f["code"] == case["code"]]
    file, path = case["at"]
    located = [f for f in found if f["file"] == file and f["path"] == path]
    assert located, f"no {case['code']} at {file} {path}: {json.dumps(found, indent=1)}"
    f = located[0]
    assert f["level"] == "error" and f["line"] and f["column"] and f["hint"]
    for text in case["says"]:
        assert text in f["message"] + " " + f["hint"], f
    # the text report shows it too, and `kasbah render` writes nothing
    text = runner.invoke(app, ["validate", "phase1.yaml"], env=ENV)
    assert text.exit_code == 1 and f"error[{case['code']}]" in text.output and "Traceback" not in text.output
    before = _tree(in_stacks.parent)
    rendered = runner.invoke(app, ["render", "phase1.yaml", "--out", str(in_stacks.parent / "build")], env=ENV)
    assert rendered.exit_code == 1, rendered.output
    assert _tree(in_stacks.parent) == before and not (in_stacks.parent / "build").exists()


def test_two_uplinks_sharing_a_vault_variable(in_stacks: Path) -> None:
    """The review's example: router r on cable mtwa-north and router r-mtwa on cable north."""
    catalog_cables(in_stacks, ["north"])
    uplinks(in_stacks, [("r", "mtwa-north"), ("r-mtwa", "north")])
    result = CliRunner().invoke(app, ["validate", "phase1.yaml", "--json"], env=ENV)
    assert result.exit_code == 1, result.output
    found = [f for f in json.loads(result.output)["findings"] if f["code"] == "names.collision"]
    assert len(found) == 1, found
    f = found[0]
    assert (f["file"], f["path"]) == ("phase1.yaml", "wan_uplinks[1]")
    assert "vault variable 'vault_bgp_password_r_mtwa_north'" in f["message"]
    assert "router 'r' on cable 'mtwa-north' (phase1.yaml:60 wan_uplinks[0])" in f["message"]
    assert "router 'r-mtwa' on cable 'north' (phase1.yaml:61 wan_uplinks[1])" in f["message"]


@pytest.mark.parametrize("bad", ["a_b", "A-b", "a.b", "h1-SU001"])
def test_ids_that_would_map_onto_anothers_name_are_refused_by_the_schema(in_stacks: Path, bad: str) -> None:
    """Group names map '-' and '.' to '_' (and DNS ignores case): the id pattern keeps '_', '.' and upper case out,
    so `a-b` and `a_b` can never both reach the inventory. The plan checks the mapped names anyway (below)."""
    edit(in_stacks / "phase1.yaml", POD14, POD14.replace("h2-su014", bad))
    result = CliRunner().invoke(app, ["validate", "phase1.yaml", "--json"], env=ENV)
    assert result.exit_code == 1, result.output
    found = json.loads(result.output)["findings"]
    assert any(f["path"] == "halls[1].pods[13].id" and f["line"] for f in found), found


# --- generated variants ----------------------------------------------------------------------------------------------


@st.composite
def split_pairs(draw: st.DrawFn) -> tuple[tuple[str, str], tuple[str, str]]:
    """Two different (router, cable) pairs whose joined text is the same: `a` + `b-c` and `a-b` + `c`."""
    parts = draw(st.lists(ID, min_size=3, max_size=4, unique=True))
    i, j = draw(st.lists(st.integers(1, len(parts) - 1), min_size=2, max_size=2, unique=True))
    pair = lambda k: ("-".join(parts[:k]), "-".join(parts[k:]))  # noqa: E731
    return pair(i), pair(j)


@SETTINGS
@given(split_pairs())
def test_generated_vault_variable_collisions(pairs: tuple[tuple[str, str], tuple[str, str]]) -> None:
    (r1, c1), (r2, c2) = pairs
    with stacks_copy() as stacks:
        catalog_cables(stacks, sorted({c1, c2}))
        uplinks(stacks, [(r1, c1), (r2, c2)])
        found = [f for f in errors(stacks / "phase1.yaml") if "vault variable" in f.message]
        assert len(found) == 1, found
        assert f"router '{r1}' on cable '{c1}'" in found[0].message
        assert f"router '{r2}' on cable '{c2}'" in found[0].message


def _base_plan(phase: str = "phase1") -> Plan:
    plan, _ = plan_of(REPO / "stacks" / f"{phase}.yaml")
    assert plan is not None
    return plan


def _taken_host_and_group_names() -> list[str]:
    """Names a router may not take, drawn from what the example phase 1 generates (valid ids only)."""
    plan = _base_plan()
    pod = plan.pods[3]
    names = [s.name for s in plan.service_hosts] + [group for group in (*ROLE_GROUPS, *ANSIBLE_GROUPS)]
    names += [host_name(pod.id, r, t) for r in (1, pod.racks) for t in (1, 18)]
    names += ["campus", "hub-lisbon", "hub-dubai", "ls-seamewe-3"]
    return [n for n in names if re.fullmatch(r"[a-z0-9][a-z0-9-]{0,62}", n)]


@SETTINGS
@given(st.sampled_from(_taken_host_and_group_names()), st.integers(0, 3))
def test_generated_router_names_that_collide(name: str, which: int) -> None:
    with stacks_copy() as stacks:
        text = (stacks / "phase1.yaml").read_text()
        routers = re.findall(r"edge_router: (\w+)\}", text)
        uplink = re.findall(r"  - \{cable: [^\n]+\}\n", text)[which]
        edit(stacks / "phase1.yaml", uplink, uplink.replace(f"edge_router: {routers[which]}", f"edge_router: {name}"))
        found = [f for f in errors(stacks / "phase1.yaml") if f"edge router '{name}'" in f.message]
        assert found and all(f.code == "names.collision" for f in found), errors(stacks / "phase1.yaml")
        assert any(Path(f.file or "").name == "phase1.yaml" and f.path.startswith("wan_uplinks[") for f in found)


@SETTINGS
@given(ID.filter(lambda s: s not in {"edge", "mon", "sm", "hub", "ls", "all", "campus"}), st.integers(5, 999))
def test_generated_router_names_that_do_not_collide(stem: str, n: int) -> None:
    with stacks_copy() as stacks:
        edit(stacks / "phase1.yaml", UPLINK_EDGE1, UPLINK_EDGE1.replace("edge1", f"{stem}{n}"))
        assert errors(stacks / "phase1.yaml") == []


@SETTINGS
@given(st.sampled_from(["monitoring", "fabric-phase1"]), st.integers(0, 13))
def test_generated_pod_ids_that_take_a_step_name(name: str, index: int) -> None:
    with stacks_copy() as stacks:
        pod = f"{{id: h1-su{index + 1:03d}, sku: gb200-nvl72, count: 8}}"
        edit(stacks / "phase1.yaml", pod, pod.replace(f"h1-su{index + 1:03d}", name))
        found = [f for f in errors(stacks / "phase1.yaml") if "Pulumi step name" in f.message]
        assert len(found) == 1 and f"pod '{name}'" in found[0].message, found
        assert found[0].path == f"halls[0].pods[{index}].id"


@SETTINGS
@given(st.integers(40, 63), st.sampled_from("abcxyz"))
def test_generated_campus_name_lengths(length: int, letter: str) -> None:
    """Bucket names are the campus name plus '-pulumi-state' (the longest): at most 63 characters in all."""
    with stacks_copy() as stacks:
        edit(stacks / "campus.yaml", "name: casablanca-ai", "name: " + letter * length)
        long = [f for f in errors(stacks / "phase1.yaml") if f.code == "names.too-long"]
        assert len(long) == (length + len("-pulumi-state") > 63), long  # one finding, not one per bucket
        assert all(Path(f.file or "").name == "campus.yaml" and f.path == "name" for f in long)


@SETTINGS
@given(st.integers(45, 63))
def test_generated_hall_and_pod_id_lengths(length: int) -> None:
    """facility-<hall> is a DNS label; so is every tray name <pod>-rNN-nNN (8 racks of 18 trays here)."""
    with stacks_copy() as stacks:
        edit(stacks / "phase1.yaml", "  - id: h1\n", "  - id: " + "h" * length + "\n")
        edit(stacks / "phase1.yaml", POD14, POD14.replace("h2-su014", "p" * length))
        long = errors(stacks / "phase1.yaml")
        halls = [f for f in long if f.path == "halls[0].id"]
        pods = [f for f in long if f.path == "halls[1].pods[13].id"]
        assert bool(halls) == (len("facility-") + length > 63), long
        assert bool(pods) == (length + len("-r08-n18") > 63), long
        assert {f.code for f in long} <= {"names.too-long"}


MAPPINGS = [
    ("'-' and '_'", lambda s: s.replace("-", "_")),
    ("'-' and '.'", lambda s: s.replace("-", ".")),
    ("upper and lower case", str.upper),
]


@settings(max_examples=50, deadline=None)
@given(st.from_regex(r"[a-z][a-z0-9]{0,5}(-[a-z0-9]{1,5}){1,3}", fullmatch=True), st.sampled_from(MAPPINGS))
def test_ids_that_differ_only_by_a_mapped_character_collide(ident: str, mapping: tuple) -> None:
    """pod `a-b` and `a_b` (or `A-B`) would share group `pod_a_b` and its group_vars file: the space says so."""
    _, fn = mapping
    other = fn(ident)
    space = Space("inventory group", "merged")
    space.add(group_name("pod", ident), Source(f"pod '{ident}'"))
    space.add(group_name("pod", other), Source(f"pod '{other}'"))
    assert len(space.clashes) == 1
    files = Space("rendered file", "overwritten")
    files.add(f"gpu/pods/{ident}.yml", Source(f"pod '{ident}'"))
    files.add(f"gpu/pods/{other}.yml", Source(f"pod '{other}'"))
    assert len(files.clashes) == (1 if fn is str.upper else 0)


def test_an_exhausted_loopback_block_is_not_a_crash(in_stacks: Path) -> None:
    """Without a loopback block the Ethernet switches have no addresses: the names check skips them quietly."""
    edit(in_stacks / "phase1.yaml", "{kind: infiniband-ndr, switch: qm9700", "{kind: spectrum-x, switch: sn5600")
    edit(in_stacks / "campus.yaml", "loopbacks: 10.64.0.0/14", "loopbacks: 10.64.0.0/30")
    _, findings = plan_of(in_stacks / "phase1.yaml")
    assert "addresses.exhausted" in {f.code for f in findings}
    assert "internal.crash" not in {f.code for f in findings}


def test_a_clash_between_two_spec_objects_is_located_at_the_second(in_stacks: Path) -> None:
    """A host and a group that clash in different files: the finding names both files and lines."""
    edit(in_stacks / "phase1.yaml", UPLINK_EDGE1, UPLINK_EDGE1.replace("edge1", "ungrouped"))
    [f] = [f for f in errors(in_stacks / "phase1.yaml") if "ungrouped" in f.message]
    assert f.message.startswith("edge router 'ungrouped' (phase1.yaml:60 wan_uplinks[0].edge_router)")
    assert "rename edge router 'ungrouped'" in (f.hint or "")


# --- limits ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("abc", True),
        ("a" * 63, True),
        ("a" * 64, False),
        ("ab", False),
        ("casablanca-ai-checkpoints", True),
        ("my.bucket.name", True),
        ("my..bucket", False),
        ("my.-bucket", False),
        ("192.168.5.4", False),
        ("xn--bucket", False),
        ("sthree-bucket", False),
        ("bucket-s3alias", False),
        ("bucket--ol-s3", False),
        ("Bucket", False),
        ("-bucket", False),
        ("bucket-", False),
        ("bucket_name", False),
    ],
)
def test_bucket_rules(name: str, ok: bool) -> None:
    assert (bucket_problem(name) is None) == ok, bucket_problem(name)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="abz09-._A", min_size=0, max_size=70))
def test_a_label_that_passes_is_a_dns_label(label: str) -> None:
    if label_problem(label) is None:
        assert 1 <= len(label) <= 63 and re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?", label)
    if bucket_problem(label) is None:
        assert 3 <= len(label) <= 63 and label == label.lower() and ".." not in label and "_" not in label


# --- trigger scopes ---------------------------------------------------------------------------------------------------


def _pod_files(pod: str, racks: int = 12) -> list[str]:
    """The files a pod's own scope holds, built as the renderers and scopes build them."""
    return [
        f"inventory/hosts/{pod}.tsv",
        f"inventory/group_vars/{group_name('pod', pod)}.yml",
        f"gpu/pods/{pod}.yml",
        f"_plan/pods/{pod}.json",
        *(imex_path(pod, r) for r in range(1, racks + 1)),
    ]


def _router_files(router: str) -> list[str]:
    return [
        f"frr/{router}.conf.j2",
        f"frr/{router}.vars.yml",
        f"inventory/host_vars/{router}.yml",
        f"_plan/edge/{router}.json",
    ]


def _fabric_files(phase: str) -> list[str]:
    return [
        f"fabric/{phase}/qm9700-d0/opensm.conf.j2",
        f"fabric/{phase}/switches/{phase}-d0-leaf-001.conf",
        f"_plan/fabric/{phase}.json",
    ]


SCOPED = {"pod": _pod_files, "router": _router_files, "fabric": _fabric_files}


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(sorted(SCOPED)),
    ID,
    st.sampled_from(["-r01", "-r1", "-r", "-r01-n01", "0", "-x", "-1", "-su001", "-d0", "-conf"]),
)
def test_no_scope_takes_in_another_objects_files(kind: str, key: str, suffix: str) -> None:
    """Keys where one starts with the other (pod x and x-r01, router edge and edge-1): each scope holds its own
    files only (besides the files every step shares)."""
    shared = (*COMMON_PREFIXES, "gpu/dcgm-counters.csv", "playbooks/")
    files = SCOPED[kind]
    for a, b in ((key, key + suffix), (key + suffix, key)):
        own = tuple(p for p in scope_prefixes(kind, a) if not p.startswith(shared))  # type: ignore[arg-type]
        assert not [f for f in files(b) if f.startswith(own)], (kind, a, b)
        assert all(f.startswith(own) for f in files(a)), (kind, a)


def test_pod_x_and_pod_x_r01_have_independent_triggers(stacks: Path) -> None:
    """The review's example through the real renderers: a change to pod x-r01 leaves pod x's trigger alone."""
    edit(stacks / "phase1.yaml", POD1, POD1.replace("h1-su001", "x"))
    edit(stacks / "phase1.yaml", POD14, POD14.replace("h2-su014", "x-r01"))

    def triggers() -> dict[str, str]:
        plan, findings = plan_of(stacks / "phase1.yaml")
        assert plan is not None and not [f for f in findings if f.level.name == "ERROR"], findings
        return step_triggers(plan, scope_files(plan, renders.render(plan), REPO))

    before = triggers()
    edit(stacks / "phase1.yaml", "{id: x-r01, sku: gb200-nvl72, count: 8}", "{id: x-r01, sku: gb200-nvl72, count: 7}")
    after = triggers()
    assert before["x"] == after["x"]
    assert before["x-r01"] != after["x-r01"]


# --- the enumeration agrees with the real names ---------------------------------------------------------------------


@pytest.mark.parametrize("phase", ["phase1", "phase2", "phase3"])
def test_enumerated_names_are_the_rendered_ones(phase: str) -> None:
    spec = load_spec(REPO / "stacks" / f"{phase}.yaml")
    plan = _base_plan(phase)
    assert name_findings(spec, plan) == []
    files = renders.render(plan)
    inventory = json.loads(files["inventory/inventory.json"])
    # groups: every inventory group is one the check enumerates
    enumerated = {group_name("phase", p.id) for p in plan.phases} | {group_name("hall", h.id) for h in plan.halls}
    enumerated |= {group_name("pod", p.id) for p in plan.pods} | {group_name("sku", p.sku) for p in plan.pods}
    assert set(inventory["groups"]) <= enumerated | set(ROLE_GROUPS)
    assert {group_name("pod", p.id) for p in plan.pods} <= set(inventory["groups"])
    # every per-object rendered path the check enumerates exists, and IMEX files are exactly the pods' racks
    imex = {p for p in files if p.startswith("gpu/imex/")}
    assert imex == {imex_path(p.id, r) for p in plan.pods for r in range(1, p.racks + 1)}
    for pod in plan.pods:
        assert {f"inventory/hosts/{pod.id}.tsv", f"gpu/pods/{pod.id}.yml", f"monitoring/file_sd/{pod.id}.json"} <= set(
            files
        )
    for r in plan.edge.routers:
        assert {f"frr/{r.id}.conf.j2", f"frr/{r.id}.vars.yml"} <= set(files)
    # non-tray hosts of the inventory are the ones the check enumerates
    assert {h["name"] for h in inventory["hosts"]} == {r.id for r in plan.edge.routers} | {
        s.name for s in plan.service_hosts
    }
    # Pulumi: the stack's steps are the names the check enumerates
    triggers = step_triggers(plan, scope_files(plan, files, None))
    assert set(triggers) == {name for name, _, _ in step_names(plan, phase)}
    assert MONITORING_GROUP in ROLE_GROUPS


def test_a_large_phase_is_checked_without_enumerating_its_trays() -> None:
    """Trays are matched, not listed: the check stays cheap when a phase has tens of thousands of them."""
    plan = _base_plan("phase3")
    spec = load_spec(REPO / "stacks" / "phase3.yaml")
    trays = sum(p.nodes for p in plan.pods)
    assert trays > 1000
    import time

    start = time.perf_counter()
    assert name_findings(spec, plan) == []
    assert time.perf_counter() - start < 1.0


@pytest.mark.skipif(os.name != "posix", reason="case-sensitive path check")
def test_spaces_compare_names_ignoring_case() -> None:
    space = Space("rendered file", "overwritten")
    space.add("frr/edge1.conf.j2", Source("edge router 'edge1'"))
    space.add("frr/EDGE1.conf.j2", Source("edge router 'EDGE1'"))
    assert len(space.clashes) == 1
