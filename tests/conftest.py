"""Shared fixtures: a private copy of the example stacks to edit, and shortcuts to plan a spec."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from kasbah.findings import Finding
from kasbah.plan.derive import Plan, derive
from kasbah.spec.load import load_spec

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def stacks(tmp_path: Path) -> Path:
    """A copy of stacks/ that a test may edit."""
    dest = tmp_path / "stacks"
    shutil.copytree(REPO / "stacks", dest)
    return dest


def edit(path: Path, old: str, new: str, count: int = 1) -> None:
    """Replace text that must be there; a test edit that silently misses would test nothing."""
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not found in {path.name}"
    path.write_text(text.replace(old, new, count), encoding="utf-8")


def plan_of(path: Path) -> tuple[Plan | None, list[Finding]]:
    return derive(load_spec(path))


def codes(findings: list[Finding]) -> set[str]:
    return {f.code for f in findings}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    """With KASBAH_NO_SKIPS=1 (CI sets it) a skipped test fails: a live test must not vanish because FRR,
    Prometheus or root went missing on the machine."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get("KASBAH_NO_SKIPS") == "1":
        report.outcome = "failed"
        report.longrepr = f"skipped where skips are not allowed (KASBAH_NO_SKIPS=1): {report.longrepr}"


def phase_guard_vars(plan: Plan, state_dir: Path) -> dict[str, object]:
    """What kasbah's inventory plugin sets for the phase guard, for tests that run a play on their own inventory."""
    return {
        "kasbah_campus": plan.campus,
        "kasbah_phase": plan.phase,
        "kasbah_phase_order": [p.id for p in plan.phases].index(plan.phase) + 1,
        "phase_guard_state_dir": str(state_dir),
    }


CAMPUS_TEXT_STOCK = (REPO / "stacks" / "campus.yaml").read_text(encoding="utf-8")
STOCK_MONITORING = CAMPUS_TEXT_STOCK[CAMPUS_TEXT_STOCK.index("\nmonitoring:") + 1 :].rstrip("\n")
"""The example campus's monitoring section (its last), so a test can replace it whole or append after it."""
assert all(line[:1] in (" ", "#") for line in STOCK_MONITORING.splitlines()[1:]), "monitoring must be the last section"
