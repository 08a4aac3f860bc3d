"""WAN planner: latency floors, shared-risk diversity, cut capacity, and one test per finding code."""

from __future__ import annotations

import copy
import io
import itertools
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from kasbah.catalog.models import CableSegment, CableSystem, Catalog, Hub, LandingStation
from kasbah.findings import Finding, Level
from kasbah.plan import wan
from kasbah.plan.wan import UplinkRef, WanPlan, great_circle_km, plan_wan, rtt_floor_ms
from kasbah.spec.campus import Campus
from kasbah.spec.phase import WanUplink
from kasbah.yamlsource import parse_text

SRC: dict[str, Any] = {"source": ["[P] test fixture, figures from domain.md section 1"], "confidence": "high"}


def _station(name: str, lat: float, lon: float) -> LandingStation:
    return LandingStation(name=name, city=name, country="MA", latitude=lat, longitude=lon, **SRC)


def _hub(name: str, country: str, lat: float, lon: float) -> Hub:
    return Hub(name=name, city=name, country=country, latitude=lat, longitude=lon, **SRC)


def _cable(name: str, *segments: tuple[str, str, float | None]) -> CableSystem:
    return CableSystem(
        name=name,
        segments=[CableSegment(landing_station=ls, far_end=fe, length_km=km) for ls, fe, km in segments],
        **SRC,
    )


CATALOG = Catalog(
    landing_stations={
        "casablanca": _station("Casablanca", 33.605388, -7.631939),
        "tetouan": _station("Tetouan", 35.565921, -5.391816),
        "nador": _station("Nador", 35.170020, -2.933035),
        "asilah": _station("Asilah", 35.470777, -6.035761),
    },
    hubs={
        "lisbon": _hub("Lisbon", "PT", 38.7257, -9.1502),
        "marseille": _hub("Marseille", "FR", 43.3109, 5.3729),
        "madrid": _hub("Madrid", "ES", 40.4391, -3.6215),
        "frankfurt": _hub("Frankfurt", "DE", 50.0987, 8.6323),
        "estepona": _hub("Estepona", "ES", 36.427102, -5.145869),
    },
    cables={
        "mtwa": _cable("MTWA north", ("casablanca", "lisbon", 814)),
        "medusa": _cable("Medusa", ("nador", "marseille", 1416)),
        "atlas-offshore": _cable("Atlas Offshore", ("asilah", "marseille", 1634)),
        "estepona-tetouan": _cable("Estepona-Tetouan", ("tetouan", "estepona", 113)),
        "test-unpublished": _cable("Test, no published length", ("casablanca", "marseille", None)),
    },
)


def good_campus() -> dict[str, Any]:
    """A campus whose WAN is clean: two diverse routes to Europe, enough capacity after one cut, SLO met."""
    return {
        "name": "kasbah-test",
        "site": {"city": "Benslimane", "country": "MA", "latitude": 33.6, "longitude": -7.4, "illustrative": True},
        "asns": {"edge": 64512, "fabric_base": 4200000000},
        "design_pue": 1.3,
        "addressing": {
            "compute_fabric": "10.0.0.0/10",
            "storage": "10.64.0.0/12",
            "oob": "10.80.0.0/12",
            "wan_links": "100.64.0.0/16",
            "loopbacks": "10.96.0.0/16",
            "services": "10.97.0.0/16",
        },
        "energy": {
            "ppa_supplier": "test",
            "declared_renewable_share": 0.8,
            "sources": [{"kind": "solar_pv", "share": 0.8}, {"kind": "grid", "share": 0.2}],
        },
        "wan": {
            "landing_stations": [
                {"id": "casablanca", "peer_asn": 6713, "backhaul_km": 30},
                {"id": "nador", "peer_asn": 36925, "backhaul_km": 600},
            ],
            "cables": [
                {"id": "mtwa", "landing_station": "casablanca", "far_end": "lisbon", "leased_gbps": 1000},
                {"id": "medusa", "landing_station": "nador", "far_end": "marseille", "leased_gbps": 1000},
            ],
            "hubs": ["lisbon", "marseille", "madrid"],
            "terrestrial": [
                {"a": "lisbon", "b": "madrid", "km": 625, "capacity_gbps": 100},
                {"a": "madrid", "b": "marseille", "km": 1000, "capacity_gbps": 100},
            ],
            "regions": [
                {
                    "id": "europe",
                    "name": "Europe",
                    "hubs": ["lisbon", "marseille"],
                    "committed_egress_gbps": 400,
                    "rtt_slo_ms": 30,
                }
            ],
        },
        "object_storage": {"endpoint": "http://minio.test:9000"},
    }


def good_uplinks() -> list[dict[str, Any]]:
    return [{"cable": "mtwa", "gbps": 400}, {"cable": "medusa", "gbps": 400}]


def _dump(data: dict[str, Any]) -> str:
    out = io.StringIO()
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.dump(data, out)
    return out.getvalue()


def run(
    campus: dict[str, Any] | None = None, uplinks: list[dict[str, Any]] | None = None, catalog: Catalog = CATALOG
) -> tuple[WanPlan, list[Finding]]:
    """Plan from plain data, going through YAML text so findings carry real line numbers."""
    doc = parse_text(_dump(good_campus() if campus is None else campus), "campus.yaml")
    spec = Campus.model_validate(doc.data)
    phase_doc = parse_text(
        _dump({"id": "p1", "wan_uplinks": good_uplinks() if uplinks is None else uplinks}), "p1.yaml"
    )
    refs = [
        UplinkRef("p1", phase_doc, ("wan_uplinks", i), WanUplink.model_validate(u))
        for i, u in enumerate(phase_doc.data["wan_uplinks"])
    ]
    return plan_wan(campus=spec, campus_doc=doc, catalog=catalog, uplinks=refs)


def codes(findings: list[Finding]) -> set[str]:
    return {f.code for f in findings}


# --- physics -------------------------------------------------------------------------------------------------------


def test_rtt_floor_mtwa_north() -> None:
    assert rtt_floor_ms(814) == pytest.approx(7.977)
    assert rtt_floor_ms(814) == round(2 * 814 * 0.0049, 3)


@pytest.mark.parametrize(
    ("station", "hub", "expected_km"),
    [("casablanca", "lisbon", 585), ("casablanca", "madrid", 839), ("casablanca", "marseille", 1561)],
)
def test_great_circle_matches_domain_table(station: str, hub: str, expected_km: float) -> None:
    s, h = CATALOG.landing_stations[station], CATALOG.hubs[hub]
    assert abs(great_circle_km(s.latitude, s.longitude, h.latitude, h.longitude) - expected_km) < 1


def test_cable_route_rtt_uses_published_length() -> None:
    campus = good_campus()
    campus["wan"]["landing_stations"][0]["backhaul_km"] = 0
    plan, _ = run(campus)
    europe = plan.regions[0]
    assert europe.preferred is not None
    assert europe.preferred.hops == ["edge", "ls:casablanca", "hub:lisbon", "region:europe"]
    assert europe.preferred.cables == ["mtwa"]
    assert europe.preferred.km == 814
    assert europe.preferred.rtt_floor_ms == pytest.approx(7.977)
    assert plan.cables[0].km_source == "published"


def test_a_backhaul_without_length_is_the_great_circle_times_the_route_factor_and_counted_estimated() -> None:
    """A terrestrial route is no straighter than a subsea one: a backhaul the spec does not measure is estimated like
    any other unpublished leg, so its share of the floor is named and the pessimistic SLO check covers it."""
    campus = good_campus()
    del campus["wan"]["landing_stations"][0]["backhaul_km"]
    plan, findings = run(campus)
    europe = plan.regions[0].preferred
    assert europe is not None and europe.cables == ["mtwa"]
    site, station = campus["site"], CATALOG.landing_stations["casablanca"]
    backhaul = great_circle_km(site["latitude"], site["longitude"], station.latitude, station.longitude)
    assert europe.km == pytest.approx(814 + backhaul * wan.ROUTE_FACTOR, abs=0.001)
    assert europe.estimated_km == pytest.approx(backhaul * wan.ROUTE_FACTOR, abs=0.001)
    assert europe.estimated_legs == ["backhaul campus -> casablanca"]
    (note,) = [f for f in findings if f.code == "wan.estimated-route"]
    assert "backhaul campus -> casablanca" in note.message and note.level == Level.INFO
    # measured (declared) backhaul: nothing estimated
    campus["wan"]["landing_stations"][0]["backhaul_km"] = 41
    plan, findings = run(campus)
    assert plan.regions[0].preferred is not None and plan.regions[0].preferred.estimated_km == 0
    assert plan.regions[0].preferred.km == 814 + 41
    assert "wan.estimated-route" not in codes(findings)


# --- the good campus -------------------------------------------------------------------------------------------------


def test_good_campus_is_clean() -> None:
    plan, findings = run()
    assert findings == []
    europe = plan.regions[0]
    assert europe.meets_slo
    assert europe.capacity_gbps == 800
    assert europe.capacity_after_worst_cut_gbps == 400
    assert europe.worst_cut_cable == "medusa"  # both cuts leave 400; the first in id order is named
    assert europe.diverse_pair is not None
    assert [p.cables for p in europe.diverse_pair] == [["mtwa"], ["medusa"]]
    assert [p.rtt_floor_ms for p in europe.paths] == sorted(p.rtt_floor_ms for p in europe.paths)
    assert {c.id: c.lit_gbps for c in plan.cables} == {"mtwa": 400, "medusa": 400}
    assert all(c.uplinks == ["p1"] for c in plan.cables)


def test_deterministic() -> None:
    a, fa = run()
    b, fb = run()
    assert a == b
    assert a.model_dump_json() == b.model_dump_json()
    assert fa == fb


# --- diversity -----------------------------------------------------------------------------------------------------


def _two_cables(second: dict[str, Any], second_station: dict[str, Any] | None) -> dict[str, Any]:
    campus = good_campus()
    wan = campus["wan"]
    wan["landing_stations"] = [wan["landing_stations"][0]] + ([second_station] if second_station else [])
    wan["cables"] = [wan["cables"][0], second]
    wan["terrestrial"] = []
    return campus


def test_two_cables_at_same_station_are_not_diverse() -> None:
    campus = _two_cables(
        {"id": "test-unpublished", "landing_station": "casablanca", "far_end": "marseille", "leased_gbps": 1000}, None
    )
    plan, findings = run(campus, [{"cable": "mtwa", "gbps": 400}, {"cable": "test-unpublished", "gbps": 400}])
    europe = plan.regions[0]
    assert len(europe.paths) == 2
    assert europe.diverse_pair is None
    assert "wan.not-diverse" in codes(findings)


def test_two_cables_at_different_stations_are_diverse() -> None:
    campus = _two_cables(
        {"id": "atlas-offshore", "landing_station": "asilah", "far_end": "marseille", "leased_gbps": 1000},
        {"id": "asilah", "peer_asn": 6714, "backhaul_km": 300},
    )
    plan, findings = run(campus, [{"cable": "mtwa", "gbps": 400}, {"cable": "atlas-offshore", "gbps": 400}])
    pair = plan.regions[0].diverse_pair
    assert pair is not None
    assert {tuple(p.landing_stations) for p in pair} == {("casablanca",), ("asilah",)}
    assert "wan.not-diverse" not in codes(findings)


# --- capacity ------------------------------------------------------------------------------------------------------


def test_one_cut_capacity_names_the_worst_cable() -> None:
    plan, findings = run(uplinks=[{"cable": "mtwa", "gbps": 700}, {"cable": "medusa", "gbps": 300}])
    europe = plan.regions[0]
    assert europe.capacity_gbps == 1000
    assert europe.worst_cut_cable == "mtwa"
    assert europe.capacity_after_worst_cut_gbps == 300
    cut = [f for f in findings if f.code == "wan.cut-capacity"]
    assert len(cut) == 1 and "'mtwa'" in cut[0].message


def test_uplinks_accumulate_across_phases() -> None:
    plan, _ = run(
        uplinks=[{"cable": "mtwa", "gbps": 200}, {"cable": "mtwa", "gbps": 200}, {"cable": "medusa", "gbps": 1}]
    )
    assert next(c for c in plan.cables if c.id == "mtwa").lit_gbps == 400


# --- SLO -----------------------------------------------------------------------------------------------------------


def test_slo_below_floor_is_impossible() -> None:
    campus = good_campus()
    campus["wan"]["regions"][0]["rtt_slo_ms"] = 5
    plan, findings = run(campus)
    assert not plan.regions[0].meets_slo
    bad = [f for f in findings if f.code == "wan.slo-below-floor"]
    assert len(bad) == 1 and bad[0].level == Level.ERROR
    assert bad[0].path == "wan.regions[0].rtt_slo_ms" and bad[0].line is not None


# --- every finding code: fires on a minimal bad input, not on the good one ------------------------------------------

Mutation = Callable[[dict[str, Any], list[dict[str, Any]]], None]


def _set(path: tuple[Any, ...], value: Any) -> Mutation:
    def mutate(campus: dict[str, Any], _uplinks: list[dict[str, Any]]) -> None:
        node: Any = campus
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value

    return mutate


def _append(path: tuple[Any, ...], value: Any) -> Mutation:
    def mutate(campus: dict[str, Any], _uplinks: list[dict[str, Any]]) -> None:
        node: Any = campus
        for part in path:
            node = node[part]
        node.append(copy.deepcopy(value))

    return mutate


def _uplink(value: dict[str, Any]) -> Mutation:
    def mutate(_campus: dict[str, Any], uplinks: list[dict[str, Any]]) -> None:
        uplinks.append(value)

    return mutate


def _same_station_only(campus: dict[str, Any], uplinks: list[dict[str, Any]]) -> None:
    wan = campus["wan"]
    wan["landing_stations"].pop()
    wan["cables"][1] = {
        "id": "test-unpublished",
        "landing_station": "casablanca",
        "far_end": "marseille",
        "leased_gbps": 1000,
    }
    uplinks[1]["cable"] = "test-unpublished"


def _unreachable(campus: dict[str, Any], _uplinks: list[dict[str, Any]]) -> None:
    campus["wan"]["regions"][0]["hubs"] = ["madrid"]
    campus["wan"]["terrestrial"] = []


LS0 = ("wan", "landing_stations", 0)
C0 = ("wan", "cables", 0)
R0 = ("wan", "regions", 0)

CASES: list[tuple[str, Level, Mutation]] = [
    ("wan.unknown-landing-station", Level.ERROR, _set((*LS0, "id"), "casablanka")),
    ("wan.unknown-landing-station", Level.ERROR, _set((*C0, "landing_station"), "casablanka")),
    ("wan.unknown-cable", Level.ERROR, _set((*C0, "id"), "mtwb")),
    ("wan.unknown-hub", Level.ERROR, _append(("wan", "hubs"), "marsielle")),
    ("wan.unknown-hub", Level.ERROR, _set((*R0, "hubs"), ["lisbon", "paris"])),
    ("wan.unknown-hub", Level.ERROR, _set((*R0, "hubs"), ["lisbon", "frankfurt"])),
    ("wan.unknown-hub", Level.ERROR, _append(("wan", "terrestrial"), {"a": "madrid", "b": "frankfurt", "km": 1800})),
    ("wan.unknown-hub", Level.ERROR, _set((*C0, "far_end"), "lisboa")),
    ("wan.no-such-segment", Level.ERROR, _set((*C0, "far_end"), "marseille")),
    ("wan.station-not-used", Level.ERROR, _set(("wan", "landing_stations"), [{"id": "casablanca", "peer_asn": 1}])),
    ("wan.uplink-not-leased", Level.ERROR, _uplink({"cable": "atlas-offshore", "gbps": 10})),
    ("wan.uplink-not-leased", Level.ERROR, _uplink({"cable": "no-such-cable", "gbps": 10})),
    ("wan.over-lease", Level.ERROR, _uplink({"cable": "mtwa", "gbps": 601})),
    ("wan.duplicate-id", Level.ERROR, _append(("wan", "landing_stations"), {"id": "casablanca", "peer_asn": 1})),
    ("wan.duplicate-id", Level.ERROR, _append(("wan", "cables"), good_campus()["wan"]["cables"][0])),
    ("wan.duplicate-id", Level.ERROR, _append(("wan", "hubs"), "madrid")),
    ("wan.duplicate-id", Level.ERROR, _append(("wan", "regions"), good_campus()["wan"]["regions"][0])),
    ("wan.duplicate-asn", Level.WARNING, _set((*LS0, "peer_asn"), 36925)),
    ("wan.duplicate-asn", Level.ERROR, _set((*LS0, "peer_asn"), 64512)),
    ("wan.not-diverse", Level.ERROR, _same_station_only),
    ("wan.cut-capacity", Level.ERROR, _set((*R0, "committed_egress_gbps"), 500)),
    ("wan.capacity", Level.ERROR, _set((*R0, "committed_egress_gbps"), 801)),
    ("wan.slo-below-floor", Level.ERROR, _set((*R0, "rtt_slo_ms"), 8)),
    ("wan.backup-over-slo", Level.WARNING, _set((*R0, "rtt_slo_ms"), 15)),
    ("wan.unreachable", Level.ERROR, _unreachable),
    ("wan.leg-no-capacity", Level.INFO, _set(("wan", "terrestrial", 1, "capacity_gbps"), 0)),
]


@pytest.mark.parametrize(("code", "level", "mutate"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_finding_fires_on_bad_input(code: str, level: Level, mutate: Mutation) -> None:
    campus, uplinks = good_campus(), good_uplinks()
    mutate(campus, uplinks)
    _, findings = run(campus, uplinks)
    hits = [f for f in findings if f.code == code]
    assert hits, f"{code} did not fire; got {sorted(codes(findings))}"
    assert all(f.level == level for f in hits)
    assert all(f.file in ("campus.yaml", "p1.yaml") and f.line is not None for f in hits)
    assert all(f.message for f in hits)


def test_no_finding_code_fires_on_good_input() -> None:
    _, findings = run()
    assert codes(findings).isdisjoint({c for c, _, _ in CASES})


def test_unknown_ids_get_a_did_you_mean_hint() -> None:
    campus = good_campus()
    campus["wan"]["landing_stations"][0]["id"] = "casablanka"
    _, findings = run(campus)
    hit = next(f for f in findings if f.code == "wan.unknown-landing-station")
    assert hit.path == "wan.landing_stations[0].id"
    assert hit.hint is not None and "'casablanca'" in hit.hint


def test_uplink_findings_are_located_in_the_phase_file() -> None:
    uplinks = [*good_uplinks(), {"cable": "mtwb", "gbps": 1}]
    _, findings = run(uplinks=uplinks)
    hit = next(f for f in findings if f.code == "wan.uplink-not-leased")
    assert (hit.file, hit.path) == ("p1.yaml", "wan_uplinks[2].cable")
    assert hit.line is not None and "mtwb" in _dump({"id": "p1", "wan_uplinks": uplinks}).splitlines()[hit.line - 1]
    assert hit.hint is not None and "'mtwa'" in hit.hint


def test_unpublished_cable_length_uses_great_circle() -> None:
    campus = good_campus()
    campus["wan"]["cables"][1] = {
        "id": "test-unpublished",
        "landing_station": "casablanca",
        "far_end": "marseille",
        "leased_gbps": 100,
    }
    plan, findings = run(campus, [{"cable": "test-unpublished", "gbps": 100}])
    use = next(c for c in plan.cables if c.id == "test-unpublished")
    assert use.km_source == "estimated"
    assert use.great_circle_km is not None and abs(use.great_circle_km - 1561) < 1
    assert use.km == pytest.approx(use.great_circle_km * wan.ROUTE_FACTOR, abs=0.01)
    gc = [f for f in findings if f.code == "wan.great-circle"]
    assert gc and gc[0].level == Level.INFO and "1561 km great circle x 1.25" in gc[0].message


# --- robustness: no combination of unknown ids raises -----------------------------------------------------------------

BREAKERS: list[Mutation] = [
    _set((*LS0, "id"), "zz-station"),
    _set((*C0, "id"), "zz-cable"),
    _set((*C0, "landing_station"), "zz-station"),
    _set((*C0, "far_end"), "zz-hub"),
    _set(("wan", "hubs"), ["zz-hub", "lisbon"]),
    _set(("wan", "terrestrial", 0, "a"), "zz-hub"),
    _set((*R0, "hubs"), ["zz-hub"]),
    _uplink({"cable": "zz-cable", "gbps": 5}),
]


@pytest.mark.parametrize("n", range(len(BREAKERS) + 1))
def test_unknown_ids_never_raise(n: int) -> None:
    for combo in itertools.combinations(BREAKERS, n):
        campus, uplinks = good_campus(), good_uplinks()
        for mutate in combo:
            mutate(campus, uplinks)
        plan, findings = run(campus, uplinks)
        assert isinstance(plan, WanPlan)
        if combo:
            assert any(f.level == Level.ERROR for f in findings)


def test_empty_wan_does_not_raise() -> None:
    campus = good_campus()
    campus["wan"] = {"regions": good_campus()["wan"]["regions"]}
    plan, findings = run(campus, [])
    assert plan.regions[0].preferred is None
    assert "wan.unreachable" in codes(findings)


# --- capacity that exists: terrestrial legs carry only the transit contracted on them ---------------------------------

Leg = tuple[float, str]


def _iberia(lisbon_madrid: Leg, madrid_marseille: Leg, uplinks: tuple[float, float] = (400, 400)) -> dict[str, Any]:
    """The good campus plus a region at Madrid, which only the two terrestrial legs reach."""
    campus = good_campus()
    legs = campus["wan"]["terrestrial"]
    for leg, (cap, direction) in zip(legs, (lisbon_madrid, madrid_marseille), strict=True):
        leg["capacity_gbps"] = cap
        leg["direction"] = direction
    campus["wan"]["regions"].append(
        {"id": "iberia", "name": "Iberia", "hubs": ["madrid"], "committed_egress_gbps": 1, "rtt_slo_ms": 100}
    )
    return campus


def _uplinks(mtwa: float, medusa: float) -> list[dict[str, Any]]:
    return [{"cable": "mtwa", "gbps": mtwa}, {"cable": "medusa", "gbps": medusa}]


@pytest.mark.parametrize(
    ("lisbon_madrid", "madrid_marseille", "capacity", "after_cut", "worst"),
    [
        ((0, "both"), (0, "both"), 0, 0, None),  # no transit contracted: routes exist, capacity does not
        ((100, "both"), (100, "both"), 200, 100, "medusa"),
        ((1000, "both"), (0, "both"), 400, 0, "mtwa"),  # the leg carries no more than the cable lights
        ((300, "a-to-b"), (300, "b-to-a"), 600, 300, "medusa"),  # contracted away from the campus: counted
        ((300, "b-to-a"), (300, "a-to-b"), 0, 0, None),  # contracted towards the campus only: not counted
        ((50, "both"), (250, "both"), 300, 50, "medusa"),
    ],
)
def test_leg_capacity_bounds_a_region_reached_over_it(
    lisbon_madrid: Leg, madrid_marseille: Leg, capacity: float, after_cut: float, worst: str | None
) -> None:
    plan, findings = run(_iberia(lisbon_madrid, madrid_marseille), _uplinks(400, 400))
    iberia = next(r for r in plan.regions if r.id == "iberia")
    assert iberia.preferred is not None  # the route is there for latency either way
    assert (iberia.capacity_gbps, iberia.capacity_after_worst_cut_gbps, iberia.worst_cut_cable) == (
        capacity,
        after_cut,
        worst,
    )
    europe = next(r for r in plan.regions if r.id == "europe")
    assert europe.capacity_gbps == 800  # cables ending at Europe's own hubs need no leg
    unpaid = [f for f in findings if f.code == "wan.leg-no-capacity"]
    assert len(unpaid) == [lisbon_madrid[0], madrid_marseille[0]].count(0)
    assert all(f.level == Level.INFO and f.path.endswith(".capacity_gbps") and f.line for f in unpaid)


def test_transit_back_through_a_far_hub_is_not_counted() -> None:
    """The issue's case: Europe must not count a cable to another region's hub unless a leg back is contracted."""
    campus = good_campus()
    campus["wan"]["regions"][0]["hubs"] = ["lisbon"]  # Medusa lands at Marseille, outside this region
    plan, _ = run(campus, _uplinks(400, 400))
    # medusa -> marseille -> madrid (100) -> lisbon (100): 100 Gb/s of contracted transit, not Medusa's 400
    assert plan.regions[0].capacity_gbps == 500
    campus["wan"]["terrestrial"][0]["capacity_gbps"] = 0
    plan, findings = run(campus, _uplinks(400, 400))
    assert plan.regions[0].capacity_gbps == 400
    assert plan.regions[0].capacity_after_worst_cut_gbps == 0 and plan.regions[0].worst_cut_cable == "mtwa"
    assert "wan.cut-capacity" in codes(findings) or "wan.capacity" in codes(findings)


_DIRECTIONS = st.sampled_from(["both", "a-to-b", "b-to-a"])
_CAPS = st.integers(min_value=0, max_value=1500)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    caps=st.tuples(_CAPS, _CAPS),
    dirs=st.tuples(_DIRECTIONS, _DIRECTIONS),
    lit=st.tuples(st.integers(1, 1000), st.integers(1, 1000)),
    which=st.integers(0, 1),
    extra=st.integers(1, 1500),
)
def test_more_leg_capacity_never_lowers_a_region_and_less_never_raises_it(
    caps: tuple[int, int], dirs: tuple[str, str], lit: tuple[int, int], which: int, extra: int
) -> None:
    def figures(c: tuple[int, int]) -> list[tuple[float, float]]:
        plan, _ = run(_iberia((c[0], dirs[0]), (c[1], dirs[1])), _uplinks(*lit))
        return [(r.capacity_gbps, r.capacity_after_worst_cut_gbps) for r in plan.regions]

    base = figures(caps)
    more = list(caps)
    more[which] += extra
    less = list(caps)
    less[which] = max(0, less[which] - extra)
    for (b, b_cut), (m, m_cut), (lo, lo_cut) in zip(
        base, figures((more[0], more[1])), figures((less[0], less[1])), strict=True
    ):
        assert m >= b and m_cut >= b_cut
        assert lo <= b and lo_cut <= b_cut


# --- lengths that are not published: the route factor, and the doubt named --------------------------------------------


def test_rtt_floor_of_a_leg_without_km_uses_the_route_factor() -> None:
    campus = _iberia((100, "both"), (100, "both"))
    campus["wan"]["terrestrial"][0].pop("km")
    plan, findings = run(campus)
    iberia = next(r for r in plan.regions if r.id == "iberia")
    lis, mad = CATALOG.hubs["lisbon"], CATALOG.hubs["madrid"]
    leg = great_circle_km(lis.latitude, lis.longitude, mad.latitude, mad.longitude) * wan.ROUTE_FACTOR
    assert iberia.preferred is not None and iberia.preferred.hops[2] == "hub:lisbon"
    assert iberia.preferred.km == pytest.approx(30 + 814 + leg, abs=0.01)
    assert iberia.preferred.rtt_floor_ms == rtt_floor_ms(30 + 814 + leg)
    assert iberia.preferred.estimated_km == pytest.approx(leg, abs=0.01)
    assert iberia.preferred.estimated_legs == ["terrestrial lisbon -> madrid"]
    notes = [f for f in findings if f.code == "wan.estimated-route"]
    assert [f.level for f in notes] == [Level.INFO] and "'iberia'" in notes[0].message


def _only_unpublished(slo: float) -> dict[str, Any]:
    campus = good_campus()
    wan_ = campus["wan"]
    wan_["landing_stations"] = [wan_["landing_stations"][0]]
    wan_["cables"] = [
        {"id": "test-unpublished", "landing_station": "casablanca", "far_end": "marseille", "leased_gbps": 1000}
    ]
    wan_["terrestrial"] = []
    wan_["regions"][0].update(hubs=["marseille"], committed_egress_gbps=100, rtt_slo_ms=slo)
    return campus


def _floors() -> tuple[float, float]:
    s, h = CATALOG.landing_stations["casablanca"], CATALOG.hubs["marseille"]
    gc = great_circle_km(s.latitude, s.longitude, h.latitude, h.longitude)
    return rtt_floor_ms(30 + gc * wan.ROUTE_FACTOR), rtt_floor_ms(30 + gc * wan.PESSIMISTIC_ROUTE_FACTOR)


@pytest.mark.parametrize(
    ("where", "level"),
    [(-0.5, Level.INFO), (0.0, Level.WARNING), (0.5, Level.WARNING), (0.99, Level.WARNING), (1.5, Level.INFO)],
)
def test_a_region_whose_only_long_path_is_great_circle_only_is_warned(where: float, level: Level) -> None:
    """SLO between the estimate and the pessimistic estimate: the SLO rests on the route factor, so a warning.
    Below the floor the SLO is already an error (wan.slo-below-floor); above the pessimistic figure it holds anyway."""
    floor, pessimistic = _floors()
    slo = round(floor + where * (pessimistic - floor), 3)
    plan, findings = run(_only_unpublished(slo), [{"cable": "test-unpublished", "gbps": 200}])
    assert plan.regions[0].preferred is not None and plan.regions[0].preferred.rtt_floor_ms == floor
    hits = [f for f in findings if f.code == "wan.estimated-route"]
    assert [f.level for f in hits] == [level]
    assert "cable test-unpublished casablanca -> marseille" in hits[0].message and hits[0].line
    if level == Level.WARNING:
        assert hits[0].path == "wan.regions[0].rtt_slo_ms" and f"{wan.PESSIMISTIC_ROUTE_FACTOR:g}" in hits[0].message


def test_a_published_route_meeting_the_slo_removes_the_doubt() -> None:
    floor, pessimistic = _floors()
    campus = _only_unpublished((floor + pessimistic) / 2)
    campus["wan"]["cables"].append(good_campus()["wan"]["cables"][0])  # mtwa to lisbon, published 814 km
    campus["wan"]["regions"][0]["hubs"] = ["marseille", "lisbon"]
    _, findings = run(campus, [{"cable": "test-unpublished", "gbps": 200}, {"cable": "mtwa", "gbps": 200}])
    assert "wan.estimated-route" not in codes(findings)  # mtwa is preferred, and published


def test_an_understated_great_circle_is_not_preferred() -> None:
    """Raw great circles would prefer the unpublished cable; with the route factor the published one wins."""
    campus = good_campus()
    campus["wan"]["landing_stations"][1]["backhaul_km"] = 400
    campus["wan"]["cables"][0] = {
        "id": "test-unpublished",
        "landing_station": "casablanca",
        "far_end": "marseille",
        "leased_gbps": 1000,
    }
    campus["wan"]["regions"][0]["hubs"] = ["marseille"]
    plan, _ = run(campus, [{"cable": "test-unpublished", "gbps": 100}, {"cable": "medusa", "gbps": 100}])
    s, h = CATALOG.landing_stations["casablanca"], CATALOG.hubs["marseille"]
    assert 30 + great_circle_km(s.latitude, s.longitude, h.latitude, h.longitude) < 400 + 1416
    europe = plan.regions[0]
    assert europe.preferred is not None and europe.preferred.cables == ["medusa"]
    assert europe.preferred.estimated_km == 0


def _via_catalog(*via: str) -> Catalog:
    seg = CableSegment(landing_station="casablanca", far_end="marseille", length_km=None, via=list(via))
    return CATALOG.model_copy(
        update={"cables": {**CATALOG.cables, "test-unpublished": CableSystem(name="via", segments=[seg], **SRC)}}
    )


@pytest.mark.parametrize("via", [(), ("madrid",), ("lisbon", "madrid"), ("frankfurt",)])
def test_via_hubs_lengthen_the_great_circle(via: tuple[str, ...]) -> None:
    campus = _only_unpublished(200)
    plan, findings = run(campus, [{"cable": "test-unpublished", "gbps": 200}], catalog=_via_catalog(*via))
    s = CATALOG.landing_stations["casablanca"]
    points = [(s.latitude, s.longitude)] + [(CATALOG.hubs[v].latitude, CATALOG.hubs[v].longitude) for v in via]
    points.append((CATALOG.hubs["marseille"].latitude, CATALOG.hubs["marseille"].longitude))
    gc = sum(great_circle_km(*p, *q) for p, q in itertools.pairwise(points))
    (use,) = plan.cables
    assert use.great_circle_km == pytest.approx(gc, abs=0.001)
    assert use.km == pytest.approx(gc * wan.ROUTE_FACTOR, abs=0.001)
    note = next(f for f in findings if f.code == "wan.great-circle")
    assert ("through " + ", ".join(via)) in note.message if via else "through" not in note.message


def test_an_unknown_via_hub_is_reported_not_raised() -> None:
    plan, findings = run(
        _only_unpublished(200), [{"cable": "test-unpublished", "gbps": 200}], catalog=_via_catalog("atlantis")
    )
    assert plan.cables[0].km_source == "estimated"
    bad = [f for f in findings if f.code == "wan.unknown-hub"]
    assert bad and "atlantis" in bad[0].message and bad[0].level == Level.ERROR
