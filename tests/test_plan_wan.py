"""WAN planner: latency floors, shared-risk diversity, cut capacity, and one test per finding code."""

from __future__ import annotations

import copy
import io
import itertools
from collections.abc import Callable
from typing import Any

import pytest
from ruamel.yaml import YAML

from kasbah.catalog.models import CableSegment, CableSystem, Catalog, Hub, LandingStation
from kasbah.findings import Finding, Level
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
            "terrestrial": [{"a": "lisbon", "b": "madrid", "km": 625}, {"a": "madrid", "b": "marseille", "km": 1000}],
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
    assert use.km_source == "great-circle"
    assert abs(use.km - 1561) < 1
    gc = [f for f in findings if f.code == "wan.great-circle"]
    assert gc and gc[0].level == Level.INFO and "great-circle lower bound used" in gc[0].message


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
