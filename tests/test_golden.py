"""Golden files of `kasbah plan --json` for the example phases: any change to a derived figure shows up in review.

Regenerate after an intended change with `KASBAH_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_golden.py`.
"""

from __future__ import annotations

import os

import pytest
from typer.testing import CliRunner

from kasbah.cli import app
from tests.conftest import REPO

GOLDEN = REPO / "tests" / "golden"


@pytest.mark.parametrize("phase", ["phase1", "phase2", "phase3"])
def test_plan_json_matches_golden(phase: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    result = CliRunner().invoke(app, ["plan", f"stacks/{phase}.yaml", "--json"], env={"KASBAH_WIDTH": "120"})
    assert result.exit_code == 0, result.output
    golden = GOLDEN / f"{phase}.plan.json"
    if os.environ.get("KASBAH_UPDATE_GOLDEN"):
        golden.write_text(result.output, encoding="utf-8")
    expected = golden.read_text(encoding="utf-8")
    assert result.output == expected, f"plan of {phase} changed; review and regenerate {golden.name} if intended"
