"""Issue 12, classes 5 and 6: valid but extreme specs give findings (never a crash), and nothing grows past linear.

Each block generates its cases (a table or a range) rather than pinning only the example the review found.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kasbah.catalog.models import Switch
from kasbah.findings import Level
from kasbah.plan import fabric as fab
from kasbah.plan.services import addresses_needed
from tests.conftest import codes, edit, plan_of

SRC: dict[str, Any] = {"source": ["[U] test fixture"], "confidence": "low"}
QM9700 = Switch(name="QM9700", protocol="infiniband", generation="ndr", ports={400: 64, 200: 128}, **SRC)


def _compute(nodes: int, switch: Switch = QM9700, **kw: Any) -> fab.ComputeFabricPlan:
    args: dict[str, Any] = {
        "nodes": nodes,
        "nics_per_node": 4,
        "nic_gbps": 400,
        "switch_id": "sw",
        "switch": switch,
        "kind": "infiniband-ndr",
        "rail_optimised": True,
        "oversubscription": 1.0,
        "nodes_per_scalable_unit": None,
    }
    return fab.plan_compute_fabric(**{**args, **kw})


# --- class 5: the fabric split of one huge pod --------------------------------------------------------------------


@pytest.mark.parametrize("racks", [228, 500, 950, 2000, 3700])
def test_one_pod_larger_than_a_domain_splits_into_few_domains(racks: int) -> None:
    """One pod = one SU of 18 trays per rack: when the SU outgrows a domain it is cut, not sized per one switch."""
    nodes = racks * 18
    plan = _compute(nodes, nodes_per_scalable_unit=nodes)
    unbounded = _compute(nodes)  # what the same nodes give with no SU at all
    assert len(plan.domains) == len(unbounded.domains)
    assert sum(d.nodes for d in plan.domains) == nodes
    assert all(d.endpoints <= 65_536 for d in plan.domains)
    assert plan.tiers_count == 3
    if len(plan.domains) > 1:
        assert plan.split_note is not None and "SUs are cut" in plan.split_note


@pytest.mark.parametrize("su", [1, 2, 16, 144, 16_384])
def test_an_su_that_fits_still_splits_on_its_boundaries(su: int) -> None:
    nodes = 40_000
    plan = _compute(nodes, nodes_per_scalable_unit=su)
    sizes = [d.nodes for d in plan.domains]
    assert sum(sizes) == nodes
    assert all(s % su == 0 for s in sizes[:-1])
    assert len(sizes) <= fab.MAX_DOMAINS


@pytest.mark.parametrize("ports", [2, 3, 4, 6, 8])
def test_tiny_switches_beyond_max_domains_raise_a_fabric_error(ports: int) -> None:
    tiny = Switch(name="Tiny", protocol="infiniband", generation="x", ports={400: ports}, **SRC)
    cap = _compute(ports**3, tiny, nics_per_node=1).capacity_per_domain  # k^3 nodes always need 3 tiers, so this is
    assert cap >= 1  # the 3-tier capacity
    nodes = cap * (fab.MAX_DOMAINS + 1)
    with pytest.raises(fab.FabricError, match="fabric domains"):
        _compute(nodes, tiny, nics_per_node=1)
    ok = _compute(cap * fab.MAX_DOMAINS, tiny, nics_per_node=1)
    assert len(ok.domains) <= fab.MAX_DOMAINS


# --- class 5: the same through derive, as findings ----------------------------------------------------------------

HUGE_POD = """
  - id: hx
    power_limit_mw: 400
    cooling: direct_liquid
    max_rack_kw: 140
    pods:
      - {{id: hx-su001, sku: gb200-nvl72, count: {count}}}
"""


def _big_phase(stacks: Path, count: int) -> Path:
    phase = stacks / "phase1.yaml"
    edit(phase, "budget_mw: 40", "budget_mw: 2000")
    edit(phase, "halls:\n", "halls:" + HUGE_POD.format(count=count))
    return phase


@pytest.mark.parametrize("count", [300, 950, 1500])
def test_derive_plans_a_huge_pod_without_crashing(stacks: Path, count: int) -> None:
    plan, findings = plan_of(_big_phase(stacks, count))
    assert "internal.crash" not in codes(findings), [f.message for f in findings]
    assert plan is not None
    ib = [d for c in plan.fabrics[0].compute for d in c.domains]
    sms = [h for h in plan.service_hosts if h.role == "subnet_manager"]
    assert len(sms) == 2 * len(ib)
    assert len({h.address for h in plan.service_hosts}) == len(plan.service_hosts)


def test_services_block_grows_with_the_domains_and_exhaustion_is_located(stacks: Path) -> None:
    """Many IB domains need more than the usual services block: it grows, and a small supernet is a finding."""
    phase = _big_phase(stacks, 3700)
    tiny = (
        "    tinyib: {name: Tiny IB, protocol: infiniband, generation: ndr, ports: {400: 16}, "
        "source: ['[U] t'], confidence: low}\n"
    )
    campus = stacks / "campus.yaml"
    campus.write_text(campus.read_text(encoding="utf-8") + "catalog:\n  switches:\n" + tiny, encoding="utf-8")
    edit(phase, "switch: qm9700", "switch: tinyib")
    plan, findings = plan_of(phase)
    assert "internal.crash" not in codes(findings), [f.message for f in findings]
    assert plan is not None
    domains = sum(len(c.domains) for c in plan.fabrics[0].compute)
    assert 2 * domains + 8 > 512  # more subnet managers than the usual services block holds
    block = next(a for a in plan.addresses.allocations if a.network == "services")
    assert block.needed == 2 * domains + 8
    # monitoring, two subnet managers per domain, the Slurm controller pair
    assert len({h.address for h in plan.service_hosts}) == len(plan.service_hosts) == 1 + 2 * domains + 2

    edit(campus, "services: 10.68.0.0/16", "services: 10.68.0.0/23")
    plan, findings = plan_of(phase)
    assert "internal.crash" not in codes(findings), [f.message for f in findings]
    exhausted = [f for f in findings if f.code == "addresses.exhausted"]
    assert exhausted and exhausted[0].level == Level.ERROR and exhausted[0].line
    assert f"needs {2 * domains + 8:,} addresses" in exhausted[0].message
    assert "services" in exhausted[0].message and "larger supernet" in (exhausted[0].hint or "")


@pytest.mark.parametrize("ports", [1, 2, 3])
@pytest.mark.parametrize("network", ["compute", "storage", "oob"])
def test_custom_switches_of_one_to_three_ports_are_findings(stacks: Path, ports: int, network: str) -> None:
    protocol = "infiniband" if network == "compute" else "ethernet"
    speeds = {"compute": 400, "storage": 400, "oob": 1}
    entry = (
        f"    tiny: {{name: Tiny, protocol: {protocol}, generation: x, ports: {{{speeds[network]}: {ports}}}, "
        "source: ['[U] t'], confidence: low}\n"
    )
    campus = stacks / "campus.yaml"
    campus.write_text(campus.read_text(encoding="utf-8") + "catalog:\n  switches:\n" + entry, encoding="utf-8")
    phase = stacks / "phase1.yaml"
    old = {
        "compute": "switch: qm9700",
        "storage": "storage: {switch: sn5600}",
        "oob": "oob: {switch: sn2201, aggregation: sn4600c}",
    }
    new = {"compute": "switch: tiny", "storage": "storage: {switch: tiny}", "oob": "oob: {switch: tiny}"}
    edit(phase, old[network], new[network])
    plan, findings = plan_of(phase)
    assert "internal.crash" not in codes(findings), [f.message for f in findings]
    errors = [f for f in findings if f.level == Level.ERROR]
    if network == "oob" and ports == 3:  # one access port and two uplinks per switch: absurd, but it adds up
        assert plan is not None and plan.fabrics[0].oob is not None
        leaf = plan.fabrics[0].oob.tiers[0]
        assert leaf.switches >= leaf.cables_down
        return
    assert errors, "a network of 1-3 port switches for 224 racks must not pass"
    impossible = [f for f in errors if f.code in ("fabric.impossible", "fabric.port-speed")]
    assert impossible and all(f.file and f.line for f in impossible)


def test_addresses_needed_counts_two_per_ib_domain() -> None:
    plan = _compute(100_000)
    assert addresses_needed([plan]) == 8 + 2 * len(plan.domains)
    eth = _compute(100_000, kind="spectrum-x")
    assert addresses_needed([eth]) == 8


# --- class 5: user text is printed literally ----------------------------------------------------------------------

MARKUP = ["[/]", "[red]", "[bold]x[/bold]", "[/red]", "[link=file:///etc/passwd]a[/link]", ":smile:", "\\[b]", "[[x]]"]
ENV = {"KASBAH_WIDTH": "200", "NO_COLOR": "1"}


def _cli(*args: str) -> tuple[int, str]:
    from typer.testing import CliRunner

    from kasbah.cli import app

    result = CliRunner().invoke(app, list(args), env=ENV)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    return result.exit_code, result.output


@pytest.mark.parametrize("text", MARKUP)
def test_markup_in_spec_text_prints_literally(stacks: Path, text: str) -> None:
    campus = stacks / "campus.yaml"
    edit(campus, "ppa_supplier: TAQA Morocco", f"ppa_supplier: {json_str(text)}")
    campus.write_text(campus.read_text(encoding="utf-8") + f"catalog:\n  version: {json_str(text)}\n", encoding="utf-8")
    code, out = _cli("plan", str(stacks / "phase1.yaml"))
    assert code == 0, out
    assert f"renewable share ({text})" in out
    assert f"+{text})" in out  # the catalog version in the header line


@pytest.mark.parametrize("text", MARKUP)
def test_markup_in_paths_and_finding_messages_prints_literally(tmp_path: Path, stacks: Path, text: str) -> None:
    folder = tmp_path / f"a{text.replace('/', '_')}b"
    stacks.rename(folder)
    phase = folder / "phase1.yaml"
    key = f"k{text}".replace(":", "_")
    edit(phase, "ready_by:", f"{json_str(key)}: 1\nready_by:")
    code, out = _cli("validate", str(phase))
    assert code == 1, out
    assert f"--> {phase}:" in out
    assert key in out  # the unknown key, named in the finding
    edit(phase, f"{json_str(key)}: 1\n", "")
    code, out = _cli("validate", str(phase))
    assert code == 0 and f"{phase}: phase phase1, 0 error(s)" in out, out
    for command in ("plan", "render"):
        code, out = _cli(command, str(folder / "missing[/].yaml"))
        assert code == 2 and "missing[/].yaml" in out, out


@pytest.mark.parametrize("control", ["\x1b[2J", "\x07", "\u202e", "\x9b31m", "\r"])
def test_control_characters_are_shown_as_escapes(stacks: Path, control: str) -> None:
    edit(stacks / "campus.yaml", "ppa_supplier: TAQA Morocco", f"ppa_supplier: {json_str('x' + control + 'y')}")
    code, out = _cli("plan", str(stacks / "phase1.yaml"))
    assert code == 0, out
    assert control not in out
    assert "x" + control.encode("unicode_escape").decode("ascii") in out


def json_str(text: str) -> str:
    """A YAML double-quoted scalar of `text` (JSON strings are YAML)."""
    import json

    return json.dumps(text)


# --- class 6: the WAN route search is bounded, and the bound changes nothing it should not ---------------------------


@st.composite
def wan_graphs(draw: st.DrawFn) -> tuple[Any, str, list[str]]:
    """A routing graph shaped like `wan._build_graph`'s: edge -> stations -> cables -> hubs <-> hubs -> region."""
    import networkx as nx

    from kasbah.plan import wan

    km = st.integers(min_value=1, max_value=40)  # small integers: many ties in km and in rounded RTT
    hubs = [f"h{i}" for i in range(draw(st.integers(min_value=1, max_value=7)))]
    stations = [f"s{i}" for i in range(draw(st.integers(min_value=1, max_value=3)))]
    g = nx.DiGraph()
    g.add_node(wan.EDGE)
    for s in stations:
        g.add_edge(wan.EDGE, wan._ls(s), km=float(draw(km)))
    cables = []
    for i in range(draw(st.integers(min_value=1, max_value=5))):
        cid = f"c{i}"
        cables.append(cid)
        g.add_edge(wan._ls(draw(st.sampled_from(stations))), wan._cable(cid), km=0.0, capacity=100.0)
        g.add_edge(wan._cable(cid), wan._hub(draw(st.sampled_from(hubs))), km=float(draw(km)))
    pairs = [(a, b) for i, a in enumerate(hubs) for b in hubs[i + 1 :]]
    for a, b in draw(st.lists(st.sampled_from(pairs), unique=True)) if pairs else []:
        d = float(draw(km))
        g.add_edge(wan._hub(a), wan._hub(b), km=d)
        g.add_edge(wan._hub(b), wan._hub(a), km=d)
    target = wan._region("r")
    for h in draw(st.lists(st.sampled_from(hubs), min_size=1, unique=True)):
        g.add_edge(wan._hub(h), target, km=0.0)
    return g, target, cables


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(wan_graphs(), st.integers(min_value=1, max_value=6))
def test_bounded_route_search_matches_full_enumeration(case: tuple[Any, str, list[str]], limit: int) -> None:
    """Against every simple path (the old search): the same shortest routes, preferred route and diverse pair."""
    import networkx as nx

    from kasbah.plan import wan

    g, target, cables = case
    cutoff = 4 + wan.MAX_TERRESTRIAL_HOPS
    every = wan._sorted([wan._to_path(g, p) for p in nx.all_simple_paths(g, wan.EDGE, target, cutoff=cutoff)])
    paths, cut = wan._routes(g, target, cutoff, 10**6)
    assert paths == every and not cut
    some, cut = wan._routes(g, target, cutoff, limit)
    assert some == every[: len(some)]
    assert cut == (len(some) < len(every))
    assert len(some) >= min(limit, len(every))
    pair = wan._best_diverse_pair(wan._cable_best(g, target, cutoff, cables))
    assert pair == wan._best_diverse_pair(every)


def test_dense_mesh_is_bounded_with_a_warning(stacks: Path) -> None:
    """Every pair of the example's nine hubs linked: thousands of routes, a warning, the same preferred routes."""
    import yaml

    from kasbah.plan import wan

    before, _ = plan_of(stacks / "phase1.yaml")
    campus = stacks / "campus.yaml"
    data = yaml.safe_load(campus.read_text(encoding="utf-8"))
    hubs = data["wan"]["hubs"]
    data["wan"]["terrestrial"] = [{"a": a, "b": b} for i, a in enumerate(hubs) for b in hubs[i + 1 :]]
    campus.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    plan, findings = plan_of(stacks / "phase1.yaml")
    assert plan is not None and before is not None
    bounded = [f for f in findings if f.code == "wan.paths-bounded"]
    assert bounded and all(f.level == Level.WARNING and f.line and f.path.startswith("wan.regions[") for f in bounded)
    for region in plan.wan.regions:
        assert len(region.paths) == wan.MAX_REPORTED_PATHS
        assert region.preferred is not None and region.preferred == region.paths[0]
        old = next(r for r in before.wan.regions if r.id == region.id)
        assert region.preferred.rtt_floor_ms <= old.preferred.rtt_floor_ms  # more links can only shorten it


# --- class 6: loading is linear and refuses early, with the true reason ---------------------------------------------


def _load_bytes(tmp_path: Path, data: bytes) -> Any:
    from kasbah.findings import SpecError
    from kasbah.yamlsource import load_file

    path = tmp_path / "spec.yaml"
    path.write_bytes(data)
    with pytest.raises(SpecError) as info:
        load_file(path, "spec.yaml")
    assert info.value.exit_code == 2
    (finding,) = info.value.findings
    return finding


@pytest.mark.parametrize("extra", [1, 1000, 7_000_000])
def test_a_file_over_the_size_limit_is_refused_by_its_size(tmp_path: Path, extra: int) -> None:
    from kasbah.yamlsource import MAX_BYTES

    size = MAX_BYTES + extra
    finding = _load_bytes(tmp_path, b"a: 1\n" + b"# x\n" * ((size - 5) // 4) + b"\n" * ((size - 5) % 4))
    assert f"is {size:,} bytes; a spec is at most {MAX_BYTES:,}" in finding.message
    assert "alias" not in finding.message


@pytest.mark.parametrize(
    "shape",
    [
        lambda n: "a: [" + "0," * n + "0]\n",
        lambda n: "a:\n" + "- 0\n" * (n + 1),
        lambda n: "".join(f"k{i}: 0\n" for i in range(n // 2 + 1)),  # keys count as nodes too
        lambda n: "a: {" + ", ".join(f"k{i}: 0" for i in range(n // 2 + 1)) + "}\n",
    ],
    ids=["flow-list", "block-list", "top-keys", "flow-map"],
)
@pytest.mark.parametrize("times", [1, 2])
def test_too_many_nodes_is_refused_as_such_not_as_an_alias_bomb(tmp_path: Path, shape: Any, times: int) -> None:
    from kasbah.findings import SpecError
    from kasbah.yamlsource import MAX_NODES, parse_text

    with pytest.raises(SpecError) as info:  # parse_text: the node count, whatever the file size limit
        parse_text(shape(MAX_NODES * times), "spec.yaml")
    (finding,) = info.value.findings
    assert f"the YAML has more than {MAX_NODES:,} nodes" in finding.message
    assert "alias" not in finding.message and "alias" not in (finding.hint or "")
    assert finding.line is not None and finding.column is not None


@pytest.mark.parametrize(("width", "depth"), [(9, 10), (2, 20), (50, 4), (1000, 2)])
def test_alias_bombs_are_still_refused_as_alias_bombs(tmp_path: Path, width: int, depth: int) -> None:
    lines = [f"l0: &l0 [{', '.join(['x'] * width)}]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * width)}]" for i in range(1, depth)]
    finding = _load_bytes(tmp_path, ("\n".join(lines) + "\n").encode())
    assert "expands to more than 200,000 nodes through anchors and aliases" in finding.message
    assert "alias bomb" in (finding.hint or "") and finding.line is not None


def _tree_yaml(draw: st.DrawFn, anchors: list[str], depth: int) -> str:
    kind = draw(st.sampled_from(["scalar", "alias", "list", "map"] if depth < 4 else ["scalar", "alias"]))
    if kind == "alias" and anchors:
        return "*" + draw(st.sampled_from(anchors))
    if kind in ("scalar", "alias"):
        return draw(st.sampled_from(["1", "x", "''", "null"]))
    items = [_tree_yaml(draw, anchors, depth + 1) for _ in range(draw(st.integers(0, 4)))]
    if kind == "list":
        body = "[" + ", ".join(items) + "]"
    else:
        body = "{" + ", ".join(f"k{i}: {v}" for i, v in enumerate(items)) + "}"
    if draw(st.booleans()):
        name = f"a{len(anchors)}"
        anchors.append(name)  # defined after its body: no recursive aliases
        return f"&{name} {body}"
    return body


@st.composite
def anchored_docs(draw: st.DrawFn) -> str:
    anchors: list[str] = []
    return "".join(f"t{i}: {_tree_yaml(draw, anchors, 0)}\n" for i in range(draw(st.integers(1, 5))))


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(anchored_docs())
def test_node_count_matches_the_composed_tree(text: str) -> None:
    """The event count equals the size of PyYAML's composed node graph with every alias expanded."""
    import yaml

    from kasbah.yamlsource import _count_nodes

    def size(node: Any) -> int:
        if isinstance(node, yaml.MappingNode):
            return 1 + sum(size(k) + size(v) for k, v in node.value)
        if isinstance(node, yaml.SequenceNode):
            return 1 + sum(size(v) for v in node.value)
        return 1

    count = _count_nodes(text)
    assert count is not None and count.at is None
    assert count.expanded == size(yaml.compose(text, Loader=yaml.SafeLoader))
    assert count.aliases == text.count("*")


# --- class 6: printing many findings ------------------------------------------------------------------------------


def _findings(src: Path, n: int) -> list[Any]:
    from kasbah.findings import Finding

    lines = src.read_text(encoding="utf-8").splitlines()
    return [
        Finding(
            Level.ERROR,
            "spec.unknown-key",
            f"k{i}",
            f"unknown key [red]'k{i}'[/]",
            "hint [bold]x",
            str(src),
            i % len(lines) + 1,
            1 + i % 3,
        )
        for i in range(n)
    ]


@pytest.mark.parametrize("n", [1, 10, 500])
def test_each_file_is_read_once_per_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, n: int) -> None:
    import io

    from kasbah import report

    src = tmp_path / "spec.yaml"
    src.write_text("a: 1\n\tb: [x]\nc: 'é'\n", encoding="utf-8")
    findings = _findings(src, n)
    reads: list[Path] = []
    real = Path.read_text

    def counting(self: Path, *args: Any, **kw: Any) -> str:
        reads.append(self)
        return real(self, *args, **kw)

    monkeypatch.setattr(Path, "read_text", counting)
    report.print_findings(report.LiteralConsole(file=io.StringIO(), width=100), findings)
    assert reads == [src]


def test_direct_output_is_what_rich_prints(tmp_path: Path) -> None:
    """Without colour the findings are written directly; the text is the same as Rich's own printing."""
    import io

    from kasbah import report

    src = tmp_path / "spec.yaml"
    src.write_text("a: 1\n\tb: [x]\nc: 'é'\n  d: \x1b[2J\n", encoding="utf-8")
    findings = _findings(src, 12)
    direct, rich = io.StringIO(), io.StringIO()
    report.print_findings(report.LiteralConsole(file=direct, width=60), findings)
    recording = report.LiteralConsole(file=rich, width=60, record=True)  # record: forces Rich's own path
    report.print_findings(recording, findings)
    assert direct.getvalue() == rich.getvalue()
    assert "[red]'k0'[/]" in direct.getvalue() and "\\x1b[2J" in direct.getvalue()


# --- class 5/7: `kasbah preview` leaves nothing on stderr ----------------------------------------------------------


def test_preview_settles_what_a_program_leaves_on_the_event_loop(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """A program that leaves a task running and a failed future unread: nothing reaches stderr, then or at GC."""
    import asyncio
    import gc
    import logging

    from kasbah import preview, pulumi_program

    leaks: list[Any] = []
    failing: list[Any] = []

    def leaky(root: Path) -> dict[str, Any]:
        loop = asyncio.get_event_loop()
        leaks.append(loop.create_task(asyncio.sleep(3600)))
        failed = loop.create_future()
        failed.set_exception(RuntimeError("nobody reads this"))

        async def boom() -> None:
            raise RuntimeError("nor this")

        failing.append(loop.create_task(boom()))
        return {}

    monkeypatch.setattr(pulumi_program, "run", leaky)
    monkeypatch.setattr(preview, "SETTLE_S", 0.05, raising=False)
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logging.getLogger("asyncio").addHandler(handler)
    try:
        for _ in range(3):
            preview.run_program({}, "leaky")
        gc.collect()
    finally:
        logging.getLogger("asyncio").removeHandler(handler)
    assert leaks and all(t.cancelled() for t in leaks)
    assert failing and all(t.done() and not t.cancelled() for t in failing)
    assert records == []
    assert capfd.readouterr().err == ""


def test_preview_closes_every_event_loop_the_run_made(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK's mock monitor makes a loop per executor thread; one left open was destroyed at exit after its
    self-pipe and printed "Exception ignored in BaseEventLoop.__del__" on stderr (seen once in CI)."""
    import asyncio
    import threading
    import weakref

    from kasbah import preview
    from tests.conftest import REPO

    made: list[weakref.ref[asyncio.AbstractEventLoop]] = []
    threads: set[str] = set()
    init = asyncio.BaseEventLoop.__init__

    def recording(self: asyncio.BaseEventLoop) -> None:
        init(self)
        made.append(weakref.ref(self))
        threads.add(threading.current_thread().name)

    monkeypatch.setattr(asyncio.BaseEventLoop, "__init__", recording)
    preview.preview(REPO / "stacks/phase2.yaml")
    assert len(threads) > 1, "the run made loops on its worker threads too"
    alive = [ref() for ref in made if ref() is not None]
    assert alive and all(loop.is_closed() for loop in alive)


@pytest.mark.parametrize("phase", ["phase1", "phase2", "phase3"])
def test_cli_preview_writes_nothing_on_stderr(phase: str) -> None:
    import os
    import subprocess
    import sys

    from tests.conftest import REPO

    env = {**os.environ, "PYTHONPATH": str(REPO), "KASBAH_WIDTH": "120", "NO_COLOR": "1"}
    for _ in range(2):
        run = subprocess.run(
            [sys.executable, "-c", "from kasbah.cli import main; main()", "preview", f"stacks/{phase}.yaml"],
            cwd=REPO,
            env=env,
            capture_output=True,
            timeout=300,
        )
        assert run.returncode == 0, run.stderr.decode()
        assert run.stderr == b""
        assert f"stack {phase}:" in run.stdout.decode()


# --- class 5: the fat-tree arithmetic holds for every radix, down to 2 ports -----------------------------------------


@settings(max_examples=400, deadline=None, derandomize=True, database=None)
@given(
    st.integers(min_value=1, max_value=300),  # ports at the speed
    st.integers(min_value=1, max_value=20_000),  # nodes
    st.integers(min_value=1, max_value=16),  # NICs per node
    st.booleans(),
    st.sampled_from([1.0, 1.5, 2.0, 3.0, 99.0]),
    st.none() | st.integers(min_value=1, max_value=5_000),
)
def test_fabric_sizing_holds_or_says_why(
    ports: int, nodes: int, nics: int, rails: bool, ratio: float, su: int | None
) -> None:
    switch = Switch(name="S", protocol="infiniband", generation="x", ports={400: ports}, **SRC)
    try:
        plan = _compute(
            nodes, switch, nics_per_node=nics, rail_optimised=rails, oversubscription=ratio, nodes_per_scalable_unit=su
        )
    except fab.FabricError as exc:
        assert ports < 2 or "fabric domains" in str(exc) or "does not fit" in str(exc)
        return
    assert ports >= 2
    assert sum(d.nodes for d in plan.domains) == nodes
    assert 1 <= len(plan.domains) <= fab.MAX_DOMAINS
    for domain in plan.domains:
        assert domain.endpoints == domain.nodes * nics <= plan.capacity_per_domain
        leaf = domain.tiers[0]
        assert leaf.name == "leaf" and leaf.cables_down == domain.endpoints
        assert leaf.switches * leaf.ports_down >= domain.endpoints
        for below, above in zip(domain.tiers, domain.tiers[1:], strict=False):
            assert 0 < above.cables_down <= below.switches * below.ports_up  # odd radix: a spine port idles
            assert above.switches * above.ports_down >= above.cables_down
