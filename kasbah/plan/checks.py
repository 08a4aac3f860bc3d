"""The campus-wide semantic checks, run when the campus file is loaded (so `kasbah validate campus.yaml` runs them
too): what the schema cannot say about one field alone. Each returns findings; an error stops every command."""

from __future__ import annotations

from collections.abc import Callable

from kasbah.findings import Finding
from kasbah.plan.asns import hub_asn_findings
from kasbah.plan.prefixes import prefix_findings
from kasbah.spec.campus import Campus
from kasbah.yamlsource import SourceDoc

CAMPUS_CHECKS: tuple[Callable[[Campus, SourceDoc], list[Finding]], ...] = (prefix_findings, hub_asn_findings)


def campus_findings(campus: Campus, doc: SourceDoc) -> list[Finding]:
    """Every campus check's findings, in the order of CAMPUS_CHECKS."""
    return [f for check in CAMPUS_CHECKS for f in check(campus, doc)]
