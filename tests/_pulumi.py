"""Shared by the Pulumi tests: each example phase previewed once per session under the SDK's mocks."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from kasbah.plan.derive import Plan, derive
from kasbah.preview import PreviewResult, preview
from kasbah.spec.load import load_spec
from tests.conftest import REPO

PHASES = ("phase1", "phase2", "phase3")


@cache
def previewed(phase: str) -> PreviewResult:
    return preview(REPO / "stacks" / f"{phase}.yaml")


@cache
def planned(phase: str) -> Plan:
    plan, _ = derive(load_spec(REPO / "stacks" / f"{phase}.yaml"))
    assert plan is not None
    return plan


def of_type(result: PreviewResult, type_: str) -> list:
    return [r for r in result.resources if r.type == type_]


def children(result: PreviewResult, parent_name: str) -> list:
    parent = result.named(parent_name)
    return [r for r in result.resources if r.parent == parent.urn]


def provider_inputs(inputs: dict[str, Any]) -> dict[str, Any]:
    """A provider's inputs arrive JSON-encoded under mocks; decode what is."""
    out = {}
    for k, v in inputs.items():
        try:
            out[k] = json.loads(v) if isinstance(v, str) and v[:1] in "[{tf" else v
        except json.JSONDecodeError:
            out[k] = v
    return out


def spec_path(phase: str) -> Path:
    return REPO / "stacks" / f"{phase}.yaml"
