"""Every finding code the planner can emit is exercised by at least one test (a validator nobody tests is not wired)."""

from __future__ import annotations

import re

from tests.conftest import REPO

AREAS = "power|energy|wan|fabric|addresses|names|lifecycle|hall|phases|catalog|input|spec|internal"
FILE_SUFFIXES = {"yml", "yaml", "json", "conf", "cfg", "py", "j2"}
"""`"wan.yml"` is a file name (a rules file), not a finding code."""
CODE = re.compile(rf'"((?:{AREAS})\.[a-z][a-z-]*)"')


def emitted_codes() -> set[str]:
    codes: set[str] = set()
    for path in (REPO / "kasbah").rglob("*.py"):
        codes |= set(CODE.findall(path.read_text(encoding="utf-8")))
    return {c for c in codes if c.rsplit(".", 1)[1] not in FILE_SUFFIXES}


def test_codes_are_found() -> None:
    codes = emitted_codes()
    assert {"power.over-budget", "wan.not-diverse", "addresses.exhausted"} <= codes, sorted(codes)


def test_every_code_is_tested() -> None:
    tests = "\n".join(p.read_text(encoding="utf-8") for p in (REPO / "tests").glob("test_*.py"))
    missing = sorted(c for c in emitted_codes() if f'"{c}"' not in tests)
    assert not missing, f"finding codes no test exercises: {missing}"
