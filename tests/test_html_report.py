"""`kasbah report` without a browser: the page holds the plan's numbers, is self-contained and stable, the map's
projection is what it says, the energy slot and findings behave, and the CLI writes nothing on failure."""

from __future__ import annotations

import html
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pyproj
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from kasbah.cli import app
from kasbah.html_report import EnergyCharts, geo, render_page
from kasbah.html_report.page import SECTIONS
from kasbah.html_report.svg import PATTERNS, fill, num
from kasbah.plan.derive import Plan, catalog_for, derive
from kasbah.plan.fabric import FabricGrowth
from kasbah.report import render_finding
from kasbah.spec.load import LoadedSpec, load_spec
from tests.conftest import REPO, edit

runner = CliRunner()
PHASES = ("phase1", "phase2", "phase3")


class _Tags(HTMLParser):
    """Every start tag with its attributes, and the text inside each <pre> (the findings)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.pre: list[str] = []
        self._in_pre = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "pre":
            self._in_pre = True
            self.pre.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "pre":
            self._in_pre = False

    def handle_data(self, data: str) -> None:
        if self._in_pre:
            self.pre[-1] += data

    def with_attr(self, name: str, value: str | None = None) -> list[dict[str, str | None]]:
        return [a for _, a in self.tags if name in a and (value is None or a[name] == value)]


def _page(spec: LoadedSpec, out_dir: Path = Path("build/x"), energy: EnergyCharts | None = None) -> tuple[Plan, str]:
    plan, findings = derive(spec)
    assert plan is not None
    return plan, render_page(plan, spec.campus, catalog_for(spec), findings, out_dir=out_dir, energy=energy)


@pytest.fixture(scope="module", params=PHASES)
def page(request: pytest.FixtureRequest) -> tuple[Plan, str, _Tags]:
    spec = load_spec(REPO / "stacks" / f"{request.param}.yaml")
    plan, text = _page(spec)
    tags = _Tags()
    tags.feed(text)
    return plan, text, tags


def test_every_section_and_figure_is_there_and_accessible(page: tuple[Plan, str, _Tags]) -> None:
    plan, text, tags = page
    assert [a["id"] for a in tags.with_attr("id") if a["id"] in SECTIONS] == list(SECTIONS)
    figs = [a for t, a in tags.tags if t == "svg" and a.get("class") == "kb-fig"]
    ids = {a["id"] for a in figs}
    assert {"fig-growth", "fig-halls", "fig-racks", "fig-wan"} <= ids
    assert sum(1 for i in ids if i and i.startswith("fig-fabric-")) == sum(len(pf.compute) for pf in plan.fabrics)
    for a in figs:
        assert a["role"] == "img" and a["aria-labelledby"] == f"{a['id']}-t {a['id']}-d"
        assert f'<title id="{a["id"]}-t">' in text and f'<desc id="{a["id"]}-d">' in text


def test_self_contained_no_script_no_remote_reference(page: tuple[Plan, str, _Tags]) -> None:
    _, text, tags = page
    assert "<script" not in text.lower() and "@import" not in text and "@font-face" not in text
    # The only absolute URL is the SVG namespace, which a browser never fetches.
    assert set(re.findall(r"https?://[^\s\"'<>)]+", text)) == {"http://www.w3.org/2000/svg"}
    for _, attrs in tags.tags:
        for key in ("src", "href", "xlink:href", "action", "poster"):
            value = attrs.get(key)
            if value is not None:
                assert key == "href" and (value.startswith("#") or value.endswith(".yaml")), (key, value)
    assert all(u.startswith("#") for u in re.findall(r"url\(([^)]*)\)", text))


def test_desc_and_data_carry_the_plan_numbers(page: tuple[Plan, str, _Tags]) -> None:
    plan, text, tags = page
    desc = dict(re.findall(r'<desc id="([^"]+)-d">([^<]*)</desc>', text))
    growth = html.unescape(desc["fig-growth"])
    assert (
        f"{num(plan.cumulative.gpus)} GPUs" in growth
        and f"facility {num(plan.power.cumulative_facility_mw)} MW" in growth
    )
    for s in plan.phases:
        assert f"{s.id} ready by {s.ready_by.isoformat()}: facility {num(s.facility_mw)} MW" in growth
        cells = tags.with_attr("data-phase", s.id)
        assert {float(a["data-value"]) for a in cells if a.get("data-metric") == "gpus"} == {float(s.gpus)}
    for h in plan.halls:
        (cell,) = tags.with_attr("data-hall", h.id)
        assert float(cell["data-it-load-mw"]) == h.it_load_mw and int(cell["data-racks"]) == h.racks
        assert f"hall {h.id} (built in {h.built_in}): {num(h.it_load_mw)} MW IT" in html.unescape(desc["fig-halls"])
    assert len(tags.with_attr("data-pod")) == len(plan.pods)
    for pf in plan.fabrics:
        for n, cf in enumerate(pf.compute):
            key = f"{pf.phase}-{n}"
            drawn = [a for a in tags.with_attr("data-fabric", key) if "data-switches" in a]
            expect = [t.switches for d in cf.domains[:6] for t in d.tiers]
            assert [int(a["data-switches"]) for a in drawn] == expect
    for r in plan.wan.regions:
        (row,) = [a for t, a in tags.tags if t == "tr" and a.get("data-region") == r.id]
        after = [a for a in tags.with_attr("data-after-cut")]
        assert str(r.capacity_after_worst_cut_gbps) in {a["data-after-cut"] for a in after}
        assert r.preferred is not None
        drawn = {float(a["data-rtt-floor-ms"]) for a in tags.with_attr("data-region", r.id) if "data-rtt-floor-ms" in a}
        assert r.preferred.rtt_floor_ms in drawn
        assert row is not None
    for c in plan.wan.cables:
        assert any(float(a["data-km"]) == c.km for a in tags.with_attr("data-cable", c.id))


def test_rack_elevation_has_the_trays_of_each_kind(page: tuple[Plan, str, _Tags]) -> None:
    plan, _, tags = page
    for sku in {p.sku for p in plan.pods}:
        pod = next(p for p in plan.pods if p.sku == sku)
        (kw,) = [a for a in tags.with_attr("data-sku", sku) if "data-rack-kw" in a]
        assert float(kw["data-rack-kw"]) == pod.rack_kw
    # NVL72 (both GB200 and GB300): 18 compute trays and 9 NVLink switch trays a rack, from the plan's counts.
    assert {a["data-compute-trays"] for a in tags.with_attr("data-compute-trays")} == {"18"}
    assert {a["data-switch-trays"] for a in tags.with_attr("data-switch-trays")} == {"9"}


def test_phases_are_told_apart_without_colour(page: tuple[Plan, str, _Tags]) -> None:
    plan, text, tags = page
    fills = [fill(i) for i in range(len(plan.phases))]
    assert len(set(fills)) == len(fills) and len({f.split("-")[1] for f in fills}) == len(fills), "one pattern each"
    for i, s in enumerate(plan.phases):
        assert f'id="{fills[i][5:-1]}"' in text
        assert all(a.get("fill") == fills[i] for a in tags.with_attr("data-pod") if a.get("data-phase") == s.id)
    assert len(PATTERNS) >= 3


@pytest.mark.parametrize("phase", PHASES)
def test_same_spec_same_bytes(phase: str) -> None:
    spec = load_spec(REPO / "stacks" / f"{phase}.yaml")
    assert _page(spec)[1] == _page(load_spec(REPO / "stacks" / f"{phase}.yaml"))[1]


@settings(max_examples=15, deadline=None)
@given(
    planned=st.integers(min_value=1, max_value=10_000_000),
    spine=st.integers(min_value=0, max_value=5_000_000),
    core=st.integers(min_value=0, max_value=5_000_000),
    extends=st.sampled_from([None, "phase1"]),
)
def test_fabric_growth_box_shows_the_plans_reserve(planned: int, spine: int, core: int, extends: str | None) -> None:
    from kasbah.html_report.fabric import fabric_figures

    plan = _phase2_plan()
    pf = plan.fabrics[-1]
    cf = pf.compute[0]
    growth = FabricGrowth(
        planned_nodes=planned,
        nodes_before=0,
        nodes_after=cf.domains[0].nodes,
        extends=extends,
        spine_ports_reserved=spine,
        core_ports_reserved=core,
    )
    grown = plan.model_copy(
        update={
            "fabrics": [
                *plan.fabrics[:-1],
                pf.model_copy(update={"compute": [cf.model_copy(update={"growth": growth})]}),
            ]
        }
    )
    fig = fabric_figures(grown)[-1]
    tags = _Tags()
    tags.feed(fig)
    (box,) = tags.with_attr("data-growth", "reserved")
    assert (
        int(box["data-planned-nodes"]),
        int(box["data-spine-ports-reserved"]),
        int(box["data-core-ports-reserved"]),
    ) == (planned, spine, core)
    assert f"{num(spine)} spine ports and {num(core)} core ports stay reserved" in html.unescape(fig)
    assert ("extending phase1" in fig) == (extends is not None)


_CACHE: dict[str, Plan] = {}


def _phase2_plan() -> Plan:
    if "p2" not in _CACHE:
        plan, _ = derive(load_spec(REPO / "stacks" / "phase2.yaml"))
        assert plan is not None
        _CACHE["p2"] = plan
    return _CACHE["p2"]


@pytest.mark.parametrize(
    ("heatmap", "monthly", "drawn"),
    [
        (None, None, 0),
        ("<svg id='hm'></svg>", None, 1),
        (None, "<svg id='mo'></svg>", 1),
        ("<svg id='hm'></svg>", "<svg id='mo'></svg>", 2),
    ],
)
def test_energy_section_takes_the_models_svgs_or_says_there_is_none(
    heatmap: str | None, monthly: str | None, drawn: int
) -> None:
    _, text = _page(load_spec(REPO / "stacks" / "phase1.yaml"), energy=EnergyCharts(heatmap, monthly))
    section = text[text.index('<section id="energy"') : text.index('<section id="findings"')]
    assert section.count('<div class="kb-chart">') == drawn
    assert ('data-energy="none"' in section) == (drawn == 0)
    for svg in (heatmap, monthly):
        if svg:
            assert svg in section, "the model's SVG goes in verbatim"
    assert "TAQA Morocco" in section


def test_findings_read_as_the_cli_prints_them_with_relative_links(stacks: Path) -> None:
    edit(stacks / "phase1.yaml", "design_pue: 1.2      #", "design_pue: 1.6      #")
    spec = load_spec(stacks / "phase1.yaml")
    out_dir = stacks.parent / "build" / "phase1"
    _, text = _page(spec, out_dir=out_dir)
    _, findings = derive(spec)
    assert any(f.code == "power.pue-far-from-design" for f in findings)
    tags = _Tags()
    tags.feed(text)
    assert tags.pre == [render_finding(f).plain.rstrip("\n") for f in findings]
    links = [a for t, a in tags.tags if t == "a" and "data-line" in a]
    assert len(links) == sum(1 for f in findings if f.file)
    for a in links:
        target = (out_dir / str(a["href"])).resolve()
        assert target.is_file() and target.parent == stacks.resolve()


@pytest.mark.parametrize("hub", ["lisbon", "marseille", "abidjan", "fujairah", "frankfurt", "lagos"])
def test_map_projection_keeps_distances_from_the_campus_true(hub: str) -> None:
    """Azimuthal equidistant centred on the campus: a hub's projected radius is its geodesic distance."""
    spec = load_spec(REPO / "stacks" / "phase1.yaml")
    site = spec.campus.site
    h = catalog_for(spec).hubs[hub]
    here = (site.longitude, site.latitude)
    fr = geo.frame_for([here, (h.longitude, h.latitude)], here, px=0, py=0, width=900, height=500)
    x, y = fr.project([h.longitude], [h.latitude])
    _, _, metres = pyproj.Geod(ellps="WGS84").inv(site.longitude, site.latitude, h.longitude, h.latitude)
    assert abs((float(x[0]) ** 2 + float(y[0]) ** 2) ** 0.5 - metres) < 1.0
    for lon, lat in (here, (h.longitude, h.latitude)):
        px, py = fr.point(lon, lat)
        assert 0 <= px <= 900 and 0 <= py <= 500, "both inside the frame"


def test_coastlines_come_from_the_installed_package_with_no_network(tmp_path: Path) -> None:
    """The map renders inside a network namespace with no interface up: nothing is fetched."""
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is not installed")
    code = (
        "from kasbah.html_report import geo\n"
        "fr = geo.frame_for([(-9.1, 38.7), (5.4, 43.3)], (-7.58, 33.37), px=0, py=0, width=400, height=300)\n"
        "d = geo.land_path(fr)\n"
        "assert d.count('M') > 5, d[:80]\n"
        "import socket\n"
        "try:\n"
        "    socket.create_connection(('1.1.1.1', 443), timeout=1)\n"
        "    raise SystemExit('network reachable: the test proves nothing')\n"
        "except OSError:\n"
        "    print('ok', len(d))\n"
    )
    done = subprocess.run(
        ["unshare", "-n", sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        check=False,
    )
    if done.returncode != 0 and "unshare failed" in done.stderr:
        pytest.skip(f"no network namespaces here: {done.stderr.strip()}")
    assert done.returncode == 0 and done.stdout.startswith("ok"), done.stderr


def test_land_polygons_are_real_coastlines() -> None:
    """Casablanca is on land, the Atlantic west of it is not; Africa's outline is the biggest near Morocco."""
    from shapely.geometry import Point, Polygon

    land = [Polygon(p[4]) for p in geo.land_polygons("l") if p[0] < -7.6 < p[1] and p[2] < 33.6 < p[3]]
    assert any(p.contains(Point(-7.4, 33.5)) for p in land)
    assert not any(p.contains(Point(-9.5, 33.5)) for p in land)


def _cli(*args: str):
    return runner.invoke(app, list(args), env={"KASBAH_WIDTH": "120", "NO_COLOR": "1"})


def test_cli_writes_default_path_and_is_byte_identical(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(REPO / "stacks", tmp_path / "stacks")
    monkeypatch.chdir(tmp_path)
    first = _cli("report", "stacks/phase1.yaml")
    assert first.exit_code == 0, first.output
    written = tmp_path / "build" / "phase1.html"
    before = written.read_bytes()
    again = _cli("report", "stacks/phase1.yaml", "--out", "elsewhere")
    assert again.exit_code == 0, again.output
    assert (tmp_path / "elsewhere" / "phase1.html").is_file()
    assert _cli("report", "stacks/phase1.yaml").exit_code == 0
    assert written.read_bytes() == before
    assert [p.name for p in written.parent.iterdir()] == ["phase1.html"], "no temporary file is left"
    # `kasbah render` replaces build/phase1/ whole; the report beside it survives, byte for byte.
    rendered = _cli("render", "stacks/phase1.yaml")
    assert rendered.exit_code == 0, rendered.output
    assert (tmp_path / "build" / "phase1" / "plan.json").is_file()
    assert written.read_bytes() == before


@pytest.mark.parametrize(
    ("old", "new", "code"),
    [
        ("budget_mw: 40 ", "budget_mw: 10 ", 1),  # over budget: an error finding
        ("id: phase1", "id: [phase1", 2),  # not YAML: unusable
    ],
)
def test_cli_writes_nothing_on_bad_input(
    stacks: Path, monkeypatch: pytest.MonkeyPatch, old: str, new: str, code: int
) -> None:
    edit(stacks / "phase1.yaml", old, new)
    monkeypatch.chdir(stacks.parent)
    result = _cli("report", "stacks/phase1.yaml", "--out", "out")
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    assert not (stacks.parent / "out").exists() and not (stacks.parent / "build").exists()


def test_cli_out_that_is_a_file_is_unusable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    target = tmp_path / "a-file"
    target.write_text("x", encoding="utf-8")
    result = _cli("report", "stacks/phase1.yaml", "--out", str(target))
    assert result.exit_code == 2 and "is a file, not a directory" in result.output
    assert target.read_text(encoding="utf-8") == "x"


def _staged(stacks: Path) -> LoadedSpec:
    """Phases 1 and 2 rebuilt as 8 DGX B200 SUs each on one QM9700 fabric planned for 512 nodes, built in 2 stages
    (as tests/test_plan_fabric.py does): phase 1 builds the spines and cores, phase 2 only leaves."""
    for name, hall, extra in (("phase1", "h1", ", planned_nodes: 512"), ("phase2", "h3", ", extends: phase1")):
        pods = "".join(f"      - {{id: {hall}-su{i:03d}, sku: dgx-b200, count: 32}}\n" for i in range(1, 9))
        block = f"halls:\n  - id: {hall}\n    power_limit_mw: 16\n    cooling: direct_liquid\n    max_rack_kw: 140\n"
        path = stacks / f"{name}.yaml"
        text = re.sub(r"(?ms)^halls:\n.*?^(?=networks:)", block + "    pods:\n" + pods, path.read_text("utf-8"))
        compute = f'  compute: {{kind: infiniband-ndr, switch: qm9700, oversubscription: "1:1"{extra}}}'
        path.write_text(re.sub(r"(?m)^  compute: \{.*\}$", compute, text), encoding="utf-8")
    return load_spec(stacks / "phase2.yaml")


def test_staged_fabric_shows_reserve_then_the_earlier_phases_switches(stacks: Path) -> None:
    plan, text = _page(_staged(stacks))
    first, second = (pf.compute[0] for pf in plan.fabrics)
    assert first.growth and second.growth and second.growth.extends == "phase1"
    tags = _Tags()
    tags.feed(text)
    boxes = tags.with_attr("data-growth", "reserved")
    assert [int(b["data-spine-ports-reserved"]) for b in boxes] == [
        first.growth.spine_ports_reserved,
        second.growth.spine_ports_reserved,
    ]
    assert "next phase plugs in here" in text and "last stage: the planned fabric is complete" in text
    inherited = [t.name for t in second.domains[0].tiers if t.switches == 0]
    assert inherited, "phase 2 adds no spines or cores"
    for name in inherited:
        assert f"{name}: phase1&#x27;s, none added" in text


@settings(max_examples=8, deadline=None)
@given(lat=st.floats(min_value=27.7, max_value=35.8), lon=st.floats(min_value=-13.0, max_value=-1.2))
def test_wan_map_follows_the_site_wherever_it_is_in_morocco(lat: float, lon: float) -> None:
    """The projection is centred on the campus: the site is drawn inside the map, the backhaul lines start there."""
    from kasbah.html_report.wan import MAP_H, WIDTH, wan_figure

    spec = _phase1_spec()
    site = spec.campus.site.model_copy(update={"latitude": round(lat, 4), "longitude": round(lon, 4)})
    campus = spec.campus.model_copy(update={"site": site})
    plan = _phase2_plan()
    fig = wan_figure(plan, campus, catalog_for(spec))
    xy = re.search(r'<path d="M([\d.]+) ([\d.]+)l6 11h-12z" fill="#c00"', fig)
    assert xy is not None, "the campus marker is drawn"
    x, y = float(xy.group(1)), float(xy.group(2)) + 7
    assert 0 < x < WIDTH and 0 < y < MAP_H
    assert f"WAN routes from {site.city}" in fig


def _phase1_spec() -> LoadedSpec:
    if "s1" not in _SPECS:
        _SPECS["s1"] = load_spec(REPO / "stacks" / "phase1.yaml")
    return _SPECS["s1"]


_SPECS: dict[str, LoadedSpec] = {}


@pytest.mark.parametrize(
    "hostile",
    ["</title><script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "a & b < c", "\u202egnp.exe", "x]]>-->"],
)
def test_spec_text_is_escaped_everywhere(stacks: Path, hostile: str) -> None:
    """Free text of a spec (the site's city, region names) is shown as typed and never becomes markup."""
    campus = stacks / "campus.yaml"
    escaped = hostile.replace('"', '\\"')
    edit(campus, "city: Nouaceur", f'city: "{escaped}"')
    edit(campus, "name: Europe,", f'name: "{escaped}",')
    spec = load_spec(stacks / "phase1.yaml")
    plan, text = _page(spec)
    assert plan.wan.regions[0].name == hostile
    assert "<script" not in text and "<img" not in text
    tags = _Tags()
    tags.feed(text)
    assert [t for t, _ in tags.tags if t in ("script", "img", "iframe", "object")] == []
    assert html.escape(hostile, quote=True) in text
