"""The loader: strict models, every error at once, each located at the offending key or value, with hints."""

from __future__ import annotations

from pathlib import Path

import pytest

from kasbah.findings import Level, SpecError
from kasbah.spec.load import load_spec
from kasbah.yamlsource import parse_text
from tests.conftest import STOCK_MONITORING, edit


def errors_of(path: Path) -> list:
    with pytest.raises(SpecError) as info:
        load_spec(path)
    return info.value.findings


def test_unknown_key_is_located_at_the_key_with_a_hint(stacks: Path) -> None:
    edit(stacks / "phase1.yaml", "  budget_mw: 40", "  budgte_mw: 40")
    (f,) = [f for f in errors_of(stacks / "phase1.yaml") if f.code == "spec.unknown-key"]
    assert (f.line, f.column, f.path) == (10, 3, "power.budgte_mw")
    assert f.hint == "did you mean 'budget_mw'?"


def test_missing_key_names_it_and_says_what_it_is(stacks: Path) -> None:
    edit(stacks / "phase1.yaml", "  basis: it_load\n", "")
    found = errors_of(stacks / "phase1.yaml")
    (f,) = [f for f in found if f.code == "spec.missing-key"]
    assert f.path == "power.basis" and "missing required key 'basis'" in f.message
    assert f.hint and "IT load or facility power" in f.hint
    assert (f.line, f.column) == (9, 1)  # the parent key, `power:`


def test_bad_literal_gets_a_did_you_mean(stacks: Path) -> None:
    edit(stacks / "phase1.yaml", "cooling: direct_liquid", "cooling: direct-liquid")
    (f,) = [f for f in errors_of(stacks / "phase1.yaml") if f.path == "halls[0].cooling"]
    assert f.hint == "did you mean 'direct_liquid'?"
    assert (f.line, f.column) == (19, 14)


def test_every_error_in_every_file_is_reported_at_once(stacks: Path) -> None:
    edit(stacks / "phase1.yaml", "budget_mw: 40", "budget_mw: -5")
    edit(stacks / "phase1.yaml", "ready_by: 2025-12-31", "ready_by: soon")
    edit(stacks / "phase1.yaml", "count: 8}", "count: 0}")
    edit(stacks / "campus.yaml", "design_pue: 1.2 ", "design_pue: .nan ")
    edit(stacks / "phase2.yaml", 'oversubscription: "1:1"', 'oversubscription: "1:0"')
    found = errors_of(stacks / "phase3.yaml")
    where = {(Path(f.file).name, f.path) for f in found}
    assert {
        ("phase1.yaml", "power.budget_mw"),
        ("phase1.yaml", "ready_by"),
        ("phase1.yaml", "halls[0].pods[0].count"),
        ("campus.yaml", "design_pue"),
        ("phase2.yaml", "networks.compute.oversubscription"),
    } <= where


def test_strict_types_refuse_quoted_numbers(stacks: Path) -> None:
    edit(stacks / "phase1.yaml", "budget_mw: 40", 'budget_mw: "40"')
    (f,) = [f for f in errors_of(stacks / "phase1.yaml") if f.level == Level.ERROR]
    assert f.path == "power.budget_mw" and f.hint == "write the number without quotes"


def test_follows_cycle_is_an_error(stacks: Path) -> None:
    edit(stacks / "phase1.yaml", "id: phase1\n", "id: phase1\nfollows: phase3.yaml\n")
    found = errors_of(stacks / "phase3.yaml")
    assert "phases.cycle" in {f.code for f in found}


def test_phases_must_share_one_campus(stacks: Path) -> None:
    (stacks / "other.yaml").write_text((stacks / "campus.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    edit(stacks / "phase2.yaml", "campus: campus.yaml", "campus: other.yaml")
    found = errors_of(stacks / "phase2.yaml")
    assert "phases.other-campus" in {f.code for f in found}


def test_missing_followed_phase_is_located_at_follows(stacks: Path) -> None:
    edit(stacks / "phase2.yaml", "follows: phase1.yaml", "follows: phase0.yaml")
    found = errors_of(stacks / "phase2.yaml")
    f = next(f for f in found if f.code == "phases.follows-unusable")
    assert f.path == "follows" and f.file and f.file.endswith("phase2.yaml")


def test_chain_is_loaded_earliest_first(stacks: Path) -> None:
    spec = load_spec(stacks / "phase3.yaml")
    assert [p.phase.id for p in spec.phases] == ["phase1", "phase2", "phase3"]
    assert spec.target.phase.id == "phase3"


@pytest.mark.parametrize(
    ("text", "path", "line", "column"),
    [
        ("a: 1\nb:\n  c: [1, 2]\n", ("b", "c", 1), 3, 10),
        ("a: 1\nb:\n  - x: 1\n    y: 2\n", ("b", 0, "y"), 4, 8),
        ("a: {k: v}\n", ("a", "k"), 1, 8),
    ],
)
def test_positions_are_one_based(text: str, path: tuple, line: int, column: int) -> None:
    doc = parse_text(text, "t.yaml")
    assert doc.locate(path) == (line, column)


def test_key_position_differs_from_value_position() -> None:
    doc = parse_text("outer:\n  key: value\n", "t.yaml")
    assert doc.locate(("outer", "key"), key=True) == (2, 3)
    assert doc.locate(("outer", "key")) == (2, 8)


def test_unlocated_path_falls_back_to_its_parent() -> None:
    doc = parse_text("outer:\n  key: value\n", "t.yaml")
    assert doc.locate(("outer", "missing")) == (2, 3)


def test_campus_given_as_phase_is_unusable(stacks: Path) -> None:
    (f,) = errors_of(stacks / "campus.yaml")
    assert f.code == "input.not-a-phase"


def test_missing_spec_file_is_unusable(stacks: Path) -> None:
    with pytest.raises(SpecError) as info:
        load_spec(stacks / "nope.yaml")
    assert info.value.exit_code == 2
    assert [f.code for f in info.value.findings] == ["input.unusable"]


def test_missing_campus_file(stacks: Path) -> None:
    (stacks / "campus.yaml").unlink()
    with pytest.raises(SpecError) as info:
        load_spec(stacks / "phase1.yaml")
    assert {"input.unusable", "phases.campus-unusable"} <= {f.code for f in info.value.findings}
    assert info.value.exit_code == 2


def test_follows_must_name_a_phase(stacks: Path) -> None:
    edit(stacks / "phase2.yaml", "follows: phase1.yaml", "follows: campus.yaml")
    assert "phases.follows-not-phase" in {f.code for f in errors_of(stacks / "phase2.yaml")}


def test_monitoring_thresholds_must_be_ordered(stacks: Path) -> None:
    edit(stacks / "campus.yaml", STOCK_MONITORING, "monitoring: {gpu_temp_warning_c: 90, gpu_temp_critical_c: 85}")
    (f,) = errors_of(stacks / "phase1.yaml")
    assert f.path == "monitoring" and "must be below gpu_temp_critical_c" in f.message
    assert f.file and f.file.endswith("campus.yaml") and f.line
