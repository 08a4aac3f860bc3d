"""The built-in catalog: it loads, every entry is sourced, and the figures the planner relies on match the reference."""

from __future__ import annotations

import itertools
import re
from importlib import resources

import pytest

from kasbah.spec.campus import Campus  # noqa: F401  before the catalog: importing kasbah.catalog first is circular

# isort: split
from kasbah.catalog import builtin_catalog
from kasbah.catalog.models import Catalog, Sourced

DATA_FILES = ("catalog.yaml", "systems.yaml", "switches.yaml", "landing_stations.yaml", "hubs.yaml", "cables.yaml")
SECTIONS = ("systems", "switches", "landing_stations", "hubs", "cables")
TAG_AT_END = re.compile(r"\[(P|S|C|U)\]$")


@pytest.fixture(scope="module")
def cat() -> Catalog:
    return builtin_catalog()


def _entries(cat: Catalog) -> list[tuple[str, Sourced]]:
    return [(f"{section}.{key}", entry) for section in SECTIONS for key, entry in getattr(cat, section).items()]


# --- loading and shape -----------------------------------------------------------------------------------------------


def test_builtin_catalog_loads(cat: Catalog) -> None:
    assert isinstance(cat, Catalog)
    assert re.fullmatch(r"\d{4}\.\d{1,2}\.\d+", cat.version), f"catalog version {cat.version!r} is not YYYY.MM.PATCH"


def test_expected_ids_present(cat: Catalog) -> None:
    systems = {"gb200-nvl72", "gb300-nvl72", "dgx-b200", "dgx-b300", "hgx-h200", "mi355x", "mi300x"}
    switches = {"qm9700", "q3400", "sn5600", "sn5400", "sn4600c", "sn2201"}
    stations = {"casablanca", "tetouan", "asilah", "nador", "dakhla"}
    ix_hubs = {"marseille", "frankfurt", "madrid", "lagos", "dubai", "lisbon"}
    cables = {
        "atlas-offshore",
        "estepona-tetouan",
        "seamewe-3",
        "canalink",
        "loukkos",
        "mtwa-north",
        "mtwa-south",
        "medusa",
    }
    assert set(cat.systems) == systems, f"systems: {sorted(cat.systems)}"
    assert set(cat.switches) == switches, f"switches: {sorted(cat.switches)}"
    assert set(cat.landing_stations) == stations, f"landing stations: {sorted(cat.landing_stations)}"
    assert ix_hubs <= set(cat.hubs), f"IX hubs missing: {sorted(ix_hubs - set(cat.hubs))}"
    assert set(cat.cables) == cables, f"cables: {sorted(cat.cables)}"


def test_no_cable_without_a_moroccan_landing(cat: Catalog) -> None:
    for cid in ("2africa", "sat-2", "sat2"):
        assert cid not in cat.cables, f"{cid} has no Morocco landing in the reference and must not be in the catalog"


# --- sources, confidence, notes --------------------------------------------------------------------------------------


def test_every_entry_has_a_tagged_source(cat: Catalog) -> None:
    for where, entry in _entries(cat):
        assert entry.source, f"{where}: no source"
        assert any(TAG_AT_END.search(s) for s in entry.source), f"{where}: no source tagged [P], [S], [C] or [U]"
        untagged = [s for s in entry.source if not TAG_AT_END.search(s)]
        assert not untagged, f"{where}: every source must end with its tag [P]/[S]/[C]/[U]; untagged: {untagged}"


def test_low_confidence_entries_explain_themselves(cat: Catalog) -> None:
    for where, entry in _entries(cat):
        if entry.confidence == "low":
            assert entry.notes and entry.notes.strip(), f"{where}: confidence is low but there are no notes saying why"


def test_computed_or_unconfirmed_sources_come_with_notes(cat: Catalog) -> None:
    for where, entry in _entries(cat):
        tags = {m.group(1) for s in entry.source if (m := TAG_AT_END.search(s))}
        if tags & {"C", "U"}:
            assert entry.notes and entry.notes.strip(), f"{where}: a [C] or [U] source needs notes (formula or gap)"


# --- figures the planner relies on -----------------------------------------------------------------------------------


def test_gb200_nvl72(cat: Catalog) -> None:
    s = cat.systems["gb200-nvl72"]
    assert (s.unit, s.units_per_rack) == ("rack", 1), "GB200 NVL72 is counted in whole racks"
    assert s.gpus_per_unit == 72 == s.compute_trays_per_unit * 4, "NVL72 = 18 compute trays x 4 GPUs"
    assert s.compute_trays_per_unit == 18, f"GB200 NVL72 has 18 compute trays, not {s.compute_trays_per_unit}"
    assert s.switch_trays_per_unit == 9, f"GB200 NVL72 has 9 NVLink switch trays, not {s.switch_trays_per_unit}"
    assert s.nvlink_domain_gpus == 72
    assert s.compute_nics_per_unit == 72 and s.compute_nic_gbps == 400, "1 x ConnectX-7 400G per GPU"
    assert s.oob_switches_per_rack == 2, "2 ToR management switches per rack"
    assert s.unit_power_kw == pytest.approx(18 * 6.667, abs=0.5), "18 trays x 6,667 W tray max = 120 kW [C]"
    assert 8 * s.unit_power_kw <= 1200, "8 racks must fit NVIDIA's 1.2 MW SU budget"
    assert 8 * s.budget_kw == pytest.approx(1200), "the facility budgets NVIDIA's 1.2 MW per 8-rack SU [P]"
    assert s.gpu_max_w == 1200, "DPS device specifications: GB200 GPU max 1,200 W [P]"


def test_gb300_nvl72(cat: Catalog) -> None:
    s = cat.systems["gb300-nvl72"]
    assert s.gpus_per_unit == 72 == s.compute_trays_per_unit * 4
    assert s.switch_trays_per_unit == 9
    assert s.compute_nics_per_unit == 72 and s.compute_nic_gbps == 800, "1 x ConnectX-8 800G per GPU"
    assert s.unit_power_kw == 142, "GB300 NVL72: up to 142 kW per rack [P]"
    assert s.cooling == "liquid"


def test_dgx_b200(cat: Catalog) -> None:
    s = cat.systems["dgx-b200"]
    assert (s.unit, s.gpus_per_unit, s.nvlink_domain_gpus) == ("node", 8, 8)
    assert s.unit_power_kw == 14.3, f"DGX B200 max is 14.3 kW [P], catalog says {s.unit_power_kw}"
    assert s.compute_nics_per_unit == 8 and s.compute_nic_gbps == 400, "8 x ConnectX-7 400G"
    assert s.cooling == "air"


def test_dgx_b300_and_h200(cat: Catalog) -> None:
    b300 = cat.systems["dgx-b300"]
    assert b300.unit_power_kw == pytest.approx(56 / 4), "DGX B300: 56 kW per 4-node rack -> 14 kW per node [C]"
    assert b300.units_per_rack == 4 and b300.compute_nic_gbps == 800
    h200 = cat.systems["hgx-h200"]
    assert h200.unit_power_kw == 10.2 and h200.compute_nic_gbps == 400


def test_amd_power_is_gpu_only_and_low_confidence(cat: Catalog) -> None:
    for sid, gpu_kw in (("mi355x", 1.4), ("mi300x", 0.75)):
        s = cat.systems[sid]
        assert s.vendor == "amd" and s.gpus_per_unit == 8
        assert s.unit_power_kw == pytest.approx(8 * gpu_kw), f"{sid}: unit power is 8 x {gpu_kw} kW GPU-only [C]"
        assert s.confidence == "low", f"{sid}: a GPU-only power figure must be low confidence"
    assert cat.systems["mi355x"].cooling == "liquid" and cat.systems["mi300x"].cooling == "air"


def test_one_compute_nic_per_gpu_on_nvidia(cat: Catalog) -> None:
    for sid, s in cat.systems.items():
        if s.vendor == "nvidia":
            assert s.compute_nics_per_unit == s.gpus_per_unit, f"{sid}: the norm is 1 compute NIC per GPU"


def test_nvl72_fits_the_fat_tree_note(cat: Catalog) -> None:
    for sid in ("gb200-nvl72", "gb300-nvl72"):
        s = cat.systems[sid]
        assert s.switch_trays_per_unit * 2 == 18, f"{sid}: 9 switch trays x 2 chips = 18 NVSwitch chips"


def test_switch_ports(cat: Catalog) -> None:
    assert cat.switches["qm9700"].ports[400] == 64, "QM9700: 64 x 400G"
    assert cat.switches["qm9700"].ports[200] == 128, "QM9700: split to 128 x 200G"
    assert cat.switches["q3400"].ports == {800: 144}, "Q3400: 144 x 800G"
    assert cat.switches["sn5600"].ports[800] == 64, "SN5600: 64 x 800G"
    assert cat.switches["sn5600"].ports[400] == 128, "SN5600: 128 x 400G"
    assert cat.switches["sn5400"].ports == {400: 64}, "SN5400: 64 x 400G"
    assert cat.switches["sn2201"].ports == {1: 48, 100: 4}, "SN2201: 48 x 1G + 4 x 100G"
    protocols = {sid: sw.protocol for sid, sw in cat.switches.items()}
    assert protocols["qm9700"] == protocols["q3400"] == "infiniband"
    assert {protocols[s] for s in ("sn5600", "sn5400", "sn4600c", "sn2201")} == {"ethernet"}


def test_split_ports_keep_the_same_bandwidth(cat: Catalog) -> None:
    for sid in ("qm9700", "sn5600"):
        totals = {speed * count for speed, count in cat.switches[sid].ports.items()}
        assert len(totals) == 1, f"{sid}: port splits should carry the same total bandwidth, got {sorted(totals)}"


@pytest.mark.parametrize(
    ("cable", "station", "far_end", "km"),
    [
        ("mtwa-north", "casablanca", "lisbon", 814),
        ("mtwa-south", "casablanca", "abidjan", 8200),
        ("medusa", "nador", "marseille", 1416),
        ("atlas-offshore", "asilah", "marseille", 1634),
        ("estepona-tetouan", "tetouan", "estepona", 113),
        ("loukkos", "asilah", "rota", 187),
    ],
)
def test_published_route_lengths(cat: Catalog, cable: str, station: str, far_end: str, km: float) -> None:
    segs = [s for s in cat.cables[cable].segments if (s.landing_station, s.far_end) == (station, far_end)]
    assert len(segs) == 1, f"{cable}: expected one segment {station} -> {far_end}, found {len(segs)}"
    assert segs[0].length_km == km, f"{cable} {station} -> {far_end}: {segs[0].length_km} km, reference says {km}"


def test_unpublished_lengths_are_null(cat: Catalog) -> None:
    for cid in ("seamewe-3", "canalink"):
        for seg in cat.cables[cid].segments:
            assert seg.length_km is None, f"{cid}: only the system total is published; segment lengths must be null"


def test_conflicting_capacity_is_not_hard_coded(cat: Catalog) -> None:
    medusa = cat.cables["medusa"]
    assert medusa.design_capacity_tbps is None, "Medusa capacity is in conflict (24 x 20 Tb/s vs 24 Tb/s)"
    assert medusa.confidence == "low"
    assert "24" in (medusa.notes or ""), "Medusa notes must state the capacity conflict"
    mtwa = cat.cables["mtwa-south"]
    assert "8,600" in (mtwa.notes or ""), "MTWA notes must mention Maroc Telecom's 8,600 km figure"


# --- referential integrity -------------------------------------------------------------------------------------------


def test_every_segment_points_at_known_places(cat: Catalog) -> None:
    for cid, cable in cat.cables.items():
        assert cable.segments, f"{cid}: no segments"
        for seg in cable.segments:
            assert seg.landing_station in cat.landing_stations, (
                f"{cid}: landing station '{seg.landing_station}' is not in landing_stations.yaml"
            )
            assert seg.far_end in cat.hubs, f"{cid}: far end '{seg.far_end}' is not in hubs.yaml"
            for hub in seg.via:
                assert hub in cat.hubs, f"{cid}: via hub '{hub}' is not in hubs.yaml"
            assert not seg.via or seg.length_km is None, f"{cid}: via is only read when the length is unpublished"


def test_every_landing_station_has_a_cable(cat: Catalog) -> None:
    landed = {seg.landing_station for cable in cat.cables.values() for seg in cable.segments}
    assert set(cat.landing_stations) <= landed, f"stations with no cable: {sorted(set(cat.landing_stations) - landed)}"


@pytest.mark.parametrize(
    ("station", "lat", "lon"),
    [
        ("casablanca", 33.605388, -7.631939),
        ("tetouan", 35.565921, -5.391816),
        ("asilah", 35.470777, -6.035761),
        ("nador", 35.170020, -2.933035),
        ("dakhla", 23.721081, -15.934426),
    ],
)
def test_landing_station_coordinates(cat: Catalog, station: str, lat: float, lon: float) -> None:
    ls = cat.landing_stations[station]
    assert ls.country == "MA"
    assert (ls.latitude, ls.longitude) == pytest.approx((lat, lon), abs=1e-6), f"{station}: coordinates drifted"


@pytest.mark.parametrize(
    ("hub", "lat", "lon"),
    [
        ("marseille", 43.3109, 5.3729),
        ("frankfurt", 50.0987, 8.6323),
        ("madrid", 40.4391, -3.6215),
        ("lagos", 6.4270, 3.4212),
        ("dubai", 25.0325, 55.1713),
        ("lisbon", 38.7257, -9.1502),
        ("estepona", 36.427102, -5.145869),
    ],
)
def test_hub_coordinates(cat: Catalog, hub: str, lat: float, lon: float) -> None:
    h = cat.hubs[hub]
    assert (h.latitude, h.longitude) == pytest.approx((lat, lon), abs=1e-6), f"{hub}: coordinates drifted"


def test_nador_operator(cat: Catalog) -> None:
    assert cat.landing_stations["nador"].operator == "Orange Morocco"


# --- stability of the data files -------------------------------------------------------------------------------------


def test_loading_twice_gives_equal_catalogs() -> None:
    builtin_catalog.cache_clear()
    first = builtin_catalog()
    builtin_catalog.cache_clear()
    second = builtin_catalog()
    assert first is not second, "the cache was not cleared; the test would compare an object with itself"
    assert first == second, "two loads of the built-in catalog differ"
    assert first.model_dump_json() == second.model_dump_json(), "two loads serialise differently"


@pytest.mark.parametrize("name", DATA_FILES)
def test_data_file_is_clean_text(name: str) -> None:
    raw = (resources.files("kasbah.catalog") / "data" / name).read_bytes()
    text = raw.decode("utf-8")  # raises if the file is not UTF-8
    assert raw == (resources.files("kasbah.catalog") / "data" / name).read_bytes(), f"{name}: reads differ"
    assert "\r" not in text, f"{name}: use LF line endings"
    assert "\t" not in text, f"{name}: tabs in YAML"
    assert text.endswith("\n") and not text.endswith("\n\n"), f"{name}: must end with exactly one newline"
    trailing = [i for i, line in enumerate(text.splitlines(), 1) if line != line.rstrip()]
    assert not trailing, f"{name}: trailing whitespace on lines {trailing}"


# --- the planner's route factor is held against the catalog's published lengths -------------------------------------

POINT_TO_POINT = [
    ("estepona-tetouan", "tetouan", "estepona"),
    ("medusa", "nador", "marseille"),
    ("atlas-offshore", "asilah", "marseille"),
    ("mtwa-north", "casablanca", "lisbon"),
    ("loukkos", "asilah", "rota"),
]
"""Published single-hop segments (no landing in between); MTWA South is left out: it calls at Dakhla and more."""


def _ratios(cat: Catalog) -> list[float]:
    from kasbah.plan.wan import great_circle_km

    out = []
    for cid, station, far_end in POINT_TO_POINT:
        (seg,) = [s for s in cat.cables[cid].segments if (s.landing_station, s.far_end) == (station, far_end)]
        ls, hub = cat.landing_stations[station], cat.hubs[far_end]
        assert seg.length_km is not None
        out.append(seg.length_km / great_circle_km(ls.latitude, ls.longitude, hub.latitude, hub.longitude))
    return out


def test_route_factor_is_the_median_published_ratio(cat: Catalog) -> None:
    import statistics

    from kasbah.plan import wan

    ratios = _ratios(cat)
    assert round(statistics.median(ratios), 2) == wan.ROUTE_FACTOR
    assert round(max(ratios), 2) == wan.PESSIMISTIC_ROUTE_FACTOR
    assert all(r > 1 for r in ratios), "a published route shorter than its great circle is a data error"


def test_seamewe3_gulf_segment_is_estimated_through_suez(cat: Catalog) -> None:
    from kasbah.plan.wan import great_circle_km

    (seg,) = [s for s in cat.cables["seamewe-3"].segments if s.far_end == "fujairah"]
    assert seg.via == ["alexandria", "suez", "djibouti"]
    points = [cat.landing_stations["tetouan"], *(cat.hubs[h] for h in seg.via), cat.hubs["fujairah"]]
    through = sum(
        great_circle_km(a.latitude, a.longitude, b.latitude, b.longitude) for a, b in itertools.pairwise(points)
    )
    direct = great_circle_km(points[0].latitude, points[0].longitude, points[-1].latitude, points[-1].longitude)
    assert round(through) == 7946 and "7,946" in (cat.cables["seamewe-3"].notes or "")
    assert through > 1.3 * direct  # the direct great circle (across the Sahara and Arabia) understates it by a third


@pytest.mark.parametrize(
    ("hub", "lat", "lon"),
    [("alexandria", 31.191886, 29.889799), ("suez", 29.972553, 32.530032), ("djibouti", 11.598739, 43.145833)],
)
def test_via_hub_coordinates(cat: Catalog, hub: str, lat: float, lon: float) -> None:
    """TeleGeography landing-point-geo.json (hasan-soliman/CABLE at 380d2c7), rounded to 6 decimals."""
    assert (cat.hubs[hub].latitude, cat.hubs[hub].longitude) == (lat, lon)


@pytest.mark.parametrize(("sid", "watts"), [("dgx-b200", 1000), ("dgx-b300", 1400), ("gb300-nvl72", 1400)])
def test_blackwell_systems_publish_a_gpu_max(cat: Catalog, sid: str, watts: int) -> None:
    """Their phases get GPU power limits too (issue 13, item 6); each figure is [S], so its source must say so."""
    s = cat.systems[sid]
    assert s.gpu_max_w == watts
    assert any("[S]" in src and ("1000" in src or "1,000" in src or "1400" in src or "1.4" in src) for src in s.source)


def test_gpus_and_budgets_are_consistent_with_the_unit(cat: Catalog) -> None:
    """No unit's GPUs may draw more than the unit, and no budget may be below what the unit draws."""
    for sid, s in cat.systems.items():
        if s.gpu_max_w is not None:
            gpus_kw = s.gpus_per_unit * s.gpu_max_w / 1000
            assert gpus_kw <= s.unit_power_kw + 1e-9, f"{sid}: {gpus_kw} kW of GPUs > {s.unit_power_kw} kW unit"
        assert s.budget_kw >= s.unit_power_kw, f"{sid}: a budget below the unit's own maximum"
        if s.unit_budget_kw is not None:
            assert s.notes and "unit_budget_kw" in s.notes, f"{sid}: a budget needs notes that explain it"
