"""The CLI: exit codes, the exact shape of a located error, JSON stability, --diff, schema."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kasbah.cli import app
from tests.conftest import REPO, edit

runner = CliRunner()
ENV = {"KASBAH_WIDTH": "120", "NO_COLOR": "1"}


@pytest.fixture(autouse=True)
def _at_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)


def run(*args: str):
    return runner.invoke(app, list(args), env=ENV)


def test_plan_phase1_prints_every_table() -> None:
    result = run("plan", "stacks/phase1.yaml")
    assert result.exit_code == 0, result.output
    for title in ("Power", "Halls", "Compute", "Fabric bill of materials", "Address space", "WAN paths by region"):
        assert title in result.output
    assert "16,128" in result.output  # GPUs of 224 NVL72 racks
    assert "0 error(s), 0 warning(s)" in result.output


def test_validate_clean_phase_exits_zero() -> None:
    result = run("validate", "stacks/phase3.yaml")
    assert result.exit_code == 0, result.output
    assert "phase phase3, 0 error(s), 0 warning(s)" in result.output


def test_validate_accepts_the_campus_file() -> None:
    result = run("validate", "stacks/campus.yaml")
    assert result.exit_code == 0, result.output
    assert "campus spec" in result.output


def test_readme_error_example_is_what_kasbah_prints(stacks: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README shows this block; keep them the same."""
    edit(stacks / "phase1.yaml", "sku: gb200-nvl72", "sku: gb200-nvl27")
    monkeypatch.chdir(stacks.parent)
    result = run("validate", "stacks/phase1.yaml")
    assert result.exit_code == 1
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```\n(error\[catalog\.unknown-sku\].*?)\n```", readme, re.S)
    assert block, "README lost its error example"
    assert block.group(1) in result.output


def test_plan_json_is_stable_and_parseable() -> None:
    a = run("plan", "stacks/phase2.yaml", "--json")
    b = run("plan", "stacks/phase2.yaml", "--json")
    assert a.exit_code == 0
    assert a.output == b.output
    data = json.loads(a.output)
    assert list(data) == ["plan", "findings"]
    assert data["plan"]["phase"] == "phase2"
    assert [p["id"] for p in data["plan"]["phases"]] == ["phase1", "phase2"]


def test_plan_diff_shows_what_a_phase_adds() -> None:
    result = run("plan", "stacks/phase2.yaml", "--diff", "stacks/phase1.yaml", "--json")
    assert result.exit_code == 0, result.output
    diff = json.loads(result.output)["diff"]
    assert diff["base"] == "phase1" and diff["target"] == "phase2"
    racks = next(c for c in diff["changes"] if c["item"] == "racks")
    assert racks["before"] == 224 and racks["after"] == 224 + 800 and racks["delta"] == 800
    assert set(diff["cables_lit"]) == {"medusa", "estepona-tetouan"}
    assert "h3-su001" in diff["pods_added"] and not diff["pods_removed"]
    text = run("plan", "stacks/phase2.yaml", "--diff", "stacks/phase1.yaml")
    assert "What phase2 adds to phase1" in text.output
    assert "cables lit: " in text.output


def test_errors_exit_one_and_json_lists_them(stacks: Path) -> None:
    edit(stacks / "phase1.yaml", "budget_mw: 40", "budget_mw: 20")
    result = run("validate", str(stacks / "phase1.yaml"), "--json")
    assert result.exit_code == 1
    data = json.loads(result.output)
    over = [f for f in data["findings"] if f["code"] == "power.over-budget"]
    assert over and over[0]["line"] == 10 and over[0]["path"] == "power.budget_mw"


def test_missing_file_exits_two() -> None:
    result = run("plan", "stacks/no-such-phase.yaml")
    assert result.exit_code == 2
    assert "no such file: stacks/no-such-phase.yaml" in result.output


def test_campus_file_given_to_plan_exits_two() -> None:
    result = run("plan", "stacks/campus.yaml")
    assert result.exit_code == 2
    assert "is not a phase spec" in result.output


def test_schema_written_matches_committed(tmp_path: Path) -> None:
    result = run("schema", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    for kind in ("phase", "campus"):
        fresh = (tmp_path / f"{kind}.schema.json").read_text(encoding="utf-8")
        committed = (REPO / "schema" / f"{kind}.schema.json").read_text(encoding="utf-8")
        assert fresh == committed, f"schema/{kind}.schema.json is stale: run `kasbah schema --out schema`"


def test_schema_to_stdout_needs_a_kind() -> None:
    assert run("schema").exit_code == 2
    one = run("schema", "phase")
    assert one.exit_code == 0
    assert json.loads(one.output)["title"] == "Phase"


def test_stacks_carry_the_schema_modeline() -> None:
    for path in sorted((REPO / "stacks").glob("*.yaml")):
        first = path.read_text(encoding="utf-8").splitlines()[0]
        kind = "campus" if path.name == "campus.yaml" else "phase"
        assert first == f"# yaml-language-server: $schema=../schema/{kind}.schema.json", path.name


def test_examples_validate_against_the_json_schema() -> None:
    """The editor schema and the models agree on the examples."""
    import jsonschema

    from kasbah.yamlsource import load_file

    for path in sorted((REPO / "stacks").glob("*.yaml")):
        kind = "campus" if path.name == "campus.yaml" else "phase"
        schema = json.loads((REPO / "schema" / f"{kind}.schema.json").read_text(encoding="utf-8"))
        data = json.loads(json.dumps(load_file(path).data, default=str))
        jsonschema.validate(data, schema)
