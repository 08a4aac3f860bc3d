"""The planner on VALID specs with extreme values: `derive` only ever returns findings, the CLI exits 0, 1 or 2.

test_fuzz.py feeds broken YAML; this file builds specs that pass the schema but push every count, size and name to
its bounds (a pod of 100,000 racks, 1-port custom switches, hundreds of pods, 63-character ids, tiny supernets, a
hub clique, markup in free text), which is where the review found crashes (exit 70) and blow-ups. Derandomized,
no example database: the same cases on every run.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from kasbah.catalog import builtin_catalog
from kasbah.cli import app
from kasbah.findings import Level
from kasbah.plan.derive import derive
from kasbah.spec.load import load_spec
from tests.conftest import REPO

ENV = {"KASBAH_WIDTH": "160", "NO_COLOR": "1"}
CAMPUS = yaml.safe_load((REPO / "stacks" / "campus.yaml").read_text(encoding="utf-8"))
PHASE = yaml.safe_load((REPO / "stacks" / "phase1.yaml").read_text(encoding="utf-8"))
CATALOG = builtin_catalog()
SPEEDS = [1, 10, 25, 100, 200, 400, 800, 1600, 3200]
TEXT = st.sampled_from(["", "x", "[/]", "[red]x[/red]", ":smile:", "\\", "é" * 3, "a\x1bb", "{{ x }}", "%s"]) | st.text(
    max_size=30
).filter(lambda s: "\x00" not in s)


def fuzz(max_examples: int) -> settings:
    return settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def ids(prefix: str) -> st.SearchStrategy[str]:
    """Valid ids from short to the 63-character limit, all starting with `prefix` (so they stay distinct)."""
    tail = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=0, max_size=63 - len(prefix))
    return tail.map(lambda t: (prefix + t)[:63])


COUNTS = st.sampled_from([1, 2, 3, 7, 8, 16, 17, 144, 228, 950, 3700, 10_000, 100_000]) | st.integers(1, 100_000)

switches = st.fixed_dictionaries(
    {
        "name": TEXT,
        "protocol": st.sampled_from(["infiniband", "ethernet"]),
        "generation": st.sampled_from(["ndr", "xdr", "x"]),
        "ports": st.dictionaries(
            st.sampled_from(SPEEDS), st.sampled_from([1, 2, 3, 4, 5, 7, 8, 48, 64, 129, 4096]), min_size=1, max_size=3
        ),
        "source": st.just(["[U] fuzz"]),
        "confidence": st.just("low"),
    }
)

systems = st.fixed_dictionaries(
    {
        "name": TEXT,
        "vendor": st.sampled_from(["nvidia", "amd"]),
        "unit": st.sampled_from(["rack", "node"]),
        "gpus_per_unit": st.sampled_from([1, 8, 72, 1024]),
        "compute_trays_per_unit": st.sampled_from([1, 18, 256]),
        "switch_trays_per_unit": st.sampled_from([0, 9, 64]),
        "nvlink_domain_gpus": st.sampled_from([1, 8, 72, 1024]),
        "unit_power_kw": st.sampled_from([0.001, 1.0, 132.0, 5000.0]),
        "cooling": st.sampled_from(["air", "liquid"]),
        "units_per_rack": st.sampled_from([1, 4, 64]),
        "compute_nics_per_unit": st.sampled_from([0, 1, 4, 72, 1024]),
        "compute_nic_gbps": st.sampled_from(SPEEDS),
        "compute_nic": st.just("fuzz-nic"),
        "storage_ports_per_unit": st.sampled_from([0, 1, 18, 1024]),
        "storage_port_gbps": st.sampled_from(SPEEDS),
        "oob_ports_per_unit": st.sampled_from([0, 1, 27, 1024]),
        "oob_switches_per_rack": st.sampled_from([0, 1, 8]),
        "source": st.just(["[U] fuzz"]),
        "confidence": st.just("low"),
    }
)


@st.composite
def addressing(draw: st.DrawFn) -> dict[str, str]:
    """Each supernet from a /8 to a /30 at its own base, so they never overlap (overlap is a separate check)."""
    names = ["compute_fabric", "storage", "oob", "loopbacks", "services", "wan_links"]
    return {n: f"10.{16 * i}.0.0/{draw(st.integers(12, 30))}" for i, n in enumerate(names)}


@st.composite
def specs(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any], bool]:
    """(campus, phase, small): a valid campus and phase; `small` when the plan is cheap enough to render."""
    campus = copy.deepcopy(CAMPUS)
    phase = copy.deepcopy(PHASE)
    custom_switches = draw(st.dictionaries(ids("fz-sw-"), switches, max_size=3))
    custom_systems = draw(st.dictionaries(ids("fz-sys-"), systems, max_size=2))
    catalog: dict[str, Any] = {"switches": custom_switches, "systems": custom_systems}
    if draw(st.booleans()):
        catalog["version"] = draw(TEXT)
    campus["catalog"] = catalog
    campus["energy"]["ppa_supplier"] = draw(TEXT)
    if draw(st.booleans()):
        campus["addressing"] = draw(addressing())
    if draw(st.booleans()):  # every pair of hubs linked
        hubs = campus["wan"]["hubs"]
        campus["wan"]["terrestrial"] = [{"a": a, "b": b} for i, a in enumerate(hubs) for b in hubs[i + 1 :]]

    sku_ids = sorted(CATALOG.systems) + sorted(custom_systems)
    switch_ids = sorted(CATALOG.switches) + sorted(custom_switches)
    small = draw(st.booleans())
    halls = []
    n_halls = draw(st.integers(1, 3 if small else 30))
    for h in range(n_halls):
        hall_id = draw(ids(f"h{h}-"))
        n_pods = draw(st.integers(0, 3 if small else 40))
        pods = []
        for p in range(n_pods):
            pod: dict[str, Any] = {
                "id": f"{hall_id[:50]}-p{p}",
                "sku": draw(st.sampled_from(sku_ids)),
                "count": draw(st.integers(1, 16)) if small else draw(COUNTS),
            }
            if draw(st.booleans()):
                pod["units_per_rack"] = draw(st.sampled_from([1, 2, 64]))
            pods.append(pod)
        hall: dict[str, Any] = {"id": hall_id, "pods": pods}
        if draw(st.booleans()):
            hall.update(
                power_limit_mw=draw(st.sampled_from([0.001, 16, 5000])),
                cooling=draw(st.sampled_from(["air", "direct_liquid"])),
                max_rack_kw=draw(st.sampled_from([0.001, 140, 5000])),
            )
        halls.append(hall)
    phase["halls"] = halls
    phase["power"] = {
        "budget_mw": draw(st.sampled_from([0.001, 1, 40, 500, 5000])),
        "basis": draw(st.sampled_from(["it_load", "facility"])),
        "design_pue": draw(st.sampled_from([0.01, 1.0, 1.2, 10.0])),
        "redundancy": draw(st.sampled_from(["N", "N+1", "2N", "2N+1"])),
        "other_it_mw": draw(st.sampled_from([0, 1.5, 5000])),
    }
    ratio = st.sampled_from(["1:1", "2:1", "1.5:1", "3:1", "99:1", "1.0001:1"])
    phase["networks"] = {
        "compute": {
            "kind": draw(st.sampled_from(["infiniband-ndr", "infiniband-xdr", "spectrum-x"])),
            "switch": draw(st.sampled_from(switch_ids)),
            "rail_optimised": draw(st.booleans()),
            "oversubscription": draw(ratio),
        },
        "storage": {"switch": draw(st.sampled_from(switch_ids)), "oversubscription": draw(ratio)},
        "oob": {"switch": draw(st.sampled_from(switch_ids))},
    }
    if draw(st.booleans()):
        phase["networks"]["oob"]["aggregation"] = draw(st.sampled_from(switch_ids))
    for uplink in phase["wan_uplinks"]:
        uplink["gbps"] = draw(st.sampled_from([0.001, 1, 800, 10_000_000]))
    if draw(st.booleans()):  # any number of uplinks, on any leased cable, from routers of any valid name
        cables = [c["id"] for c in campus["wan"]["cables"]]
        routers = st.sampled_from(["edge1", "edge2", "mon1", "r", "x" * 63]) | ids("e")
        uplinks = st.fixed_dictionaries(
            {"cable": st.sampled_from(cables), "gbps": st.sampled_from([1, 100, 400]), "edge_router": routers}
        )
        found = draw(st.lists(uplinks, max_size=12, unique_by=lambda u: (u["cable"], u["edge_router"])))
        phase["wan_uplinks"] = found
    if draw(st.booleans()):  # regions over any hubs, with any SLO and commitment
        hubs = campus["wan"]["hubs"]
        for region in campus["wan"]["regions"]:
            region["hubs"] = draw(st.lists(st.sampled_from(hubs), min_size=1, max_size=len(hubs), unique=True))
            region["rtt_slo_ms"] = draw(st.sampled_from([0.001, 30, 1000]))
            region["committed_egress_gbps"] = draw(st.sampled_from([0.001, 400, 10_000_000]))
    return campus, phase, small


def write(tmp: Path, campus: dict[str, Any], phase: dict[str, Any]) -> Path:
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "campus.yaml").write_text(yaml.safe_dump(campus, sort_keys=False, allow_unicode=True), encoding="utf-8")
    path = tmp / "phase1.yaml"
    path.write_text(yaml.safe_dump(phase, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def check_spec(path: Path, small: bool, out: Path) -> None:
    loaded = load_spec(path)  # a valid spec: the generator must not produce schema errors
    plan, findings = derive(loaded)
    crashes = [f.message for f in findings if f.code == "internal.crash"]
    assert not crashes, crashes
    assert all(f.file and f.message for f in findings)
    errors = any(f.level >= Level.ERROR for f in findings)
    assert plan is not None
    runner = CliRunner()
    for args in (["plan", str(path)], ["plan", str(path), "--json"]):
        result = runner.invoke(app, args, env=ENV)
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
        assert result.exit_code == (1 if errors else 0), result.output[-2000:]
        assert "Traceback" not in result.output and "internal error" not in result.output
        if "--json" in args:
            assert json.loads(result.stdout)["plan"] is not None
    if small:
        result = runner.invoke(app, ["render", str(path), "--out", str(out)], env=ENV)
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
        assert result.exit_code == (1 if errors else 0), result.output[-2000:]
        assert "Traceback" not in result.output and "internal error" not in result.output


@fuzz(60)
@given(specs())
def test_valid_extreme_specs_give_findings_never_a_crash(tmp_path_factory: pytest.TempPathFactory, case: Any) -> None:
    campus, phase, small = case
    tmp = tmp_path_factory.mktemp("fuzz")
    check_spec(write(tmp / "spec", campus, phase), small, tmp / "build")


@pytest.mark.parametrize(
    ("count", "sku"), [(950, "gb200-nvl72"), (3700, "gb200-nvl72"), (100_000, "gb200-nvl72"), (100_000, "dgx-b200")]
)
def test_review_examples(tmp_path: Path, count: int, sku: str) -> None:
    """The review's one pod of 950 GB200 racks, and the largest pods the schema allows."""
    phase = copy.deepcopy(PHASE)
    phase["halls"] = [{"id": "h1", "pods": [{"id": "h1-big", "sku": sku, "count": count}]}]
    check_spec(write(tmp_path / "spec", copy.deepcopy(CAMPUS), phase), False, tmp_path / "build")


@st.composite
def renderable(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    """Phase 1 as shipped, with long ids, other small pod counts and odd free text: specs that plan clean."""
    campus = copy.deepcopy(CAMPUS)
    phase = copy.deepcopy(PHASE)
    campus["energy"]["ppa_supplier"] = draw(TEXT)
    campus["catalog"] = {"version": draw(TEXT)}
    for h, hall in enumerate(phase["halls"]):
        hall["id"] = draw(ids(f"h{h}"))
        keep = draw(st.integers(1, len(hall["pods"])))
        hall["pods"] = [
            {"id": f"{hall['id'][:56]}-p{p}", "sku": "gb200-nvl72", "count": draw(st.integers(1, 8))}
            for p in range(keep)
        ]
    return campus, phase


@fuzz(15)
@given(renderable())
def test_clean_specs_with_odd_ids_and_text_render(tmp_path_factory: pytest.TempPathFactory, case: Any) -> None:
    campus, phase = case
    tmp = tmp_path_factory.mktemp("render")
    path = write(tmp / "spec", campus, phase)
    _, findings = derive(load_spec(path))
    errors = [f for f in findings if f.level >= Level.ERROR]
    result = CliRunner().invoke(app, ["render", str(path), "--out", str(tmp / "build")], env=ENV)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    assert result.exit_code == (1 if errors else 0), result.output[-2000:]
    if not errors:
        assert (tmp / "build" / "phase1").is_dir()
