"""Energy, hour by hour: an 8,760-hour supply and load model of the campus, CFE scores, storage sizing and a GPU
power-following schedule (issue 15). `model_for_spec` is the one entry point other parts (the report) call."""

from __future__ import annotations

from pathlib import Path

from kasbah.energy.model import STEPS, EnergyResult, Progress, run_model
from kasbah.findings import Finding, Findings, Level

__all__ = ["STEPS", "EnergyResult", "model_for_spec", "model_with_findings"]


def model_with_findings(spec_path: Path, progress: Progress | None = None) -> tuple[EnergyResult | None, list[Finding]]:
    """Load and plan the spec, then model its year. Raises SpecError when a file is unusable (as `load_spec`)."""
    from kasbah.plan.derive import derive
    from kasbah.spec.load import load_spec

    loaded = load_spec(spec_path)
    plan, findings = derive(loaded)
    if plan is None or any(f.level >= Level.ERROR for f in findings):
        return None, findings
    result, more = run_model(loaded, plan, progress)
    merged = Findings()
    merged.extend(findings)
    merged.extend(more)
    return result, merged.sorted()


def model_for_spec(spec_path: Path) -> EnergyResult | None:
    """The year's figures for a phase spec, or None when the campus has no hourly energy inputs (or the spec has
    errors: `kasbah energy` reports those)."""
    result, _ = model_with_findings(spec_path)
    return result
