"""AS numbers the plan hands out itself: the lab's far-end hubs (`lab.hub_asn_base` + index) and the Ethernet
fabric's switches (`asns.fabric_base` + index).

Each range must fit in 32 bits, skip the reserved numbers, stay clear of every AS the campus and its peers use
(a hub sharing a landing station's AS turns its eBGP session into iBGP; one sharing the edge's drops the campus's
routes as a loop), and should be private: a public AS belongs to a real network.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from kasbah.findings import Finding, Level
from kasbah.spec.base import RESERVED_ASNS
from kasbah.spec.campus import Campus
from kasbah.yamlsource import SourceDoc


class PhaseFabricLike(Protocol):
    """What is read of a phase's fabrics (kasbah.plan.derive.PhaseFabric, not imported: derive imports this)."""

    compute: list[Any]


LAST_USABLE_ASN = 4_294_967_294
"""4294967295 is reserved (RFC 7300)."""

PRIVATE_ASNS: tuple[tuple[int, int], ...] = ((64_512, 65_534), (4_200_000_000, 4_294_967_294))
"""Private-use AS numbers, 16- and 32-bit (RFC 6996)."""

PRIVATE_HINT = "private AS numbers are 64512-65534 and 4200000000-4294967294 (RFC 6996)"


def is_private(first: int, last: int) -> bool:
    """Whether every AS of first..last is private."""
    return any(lo <= first and last <= hi for lo, hi in PRIVATE_ASNS)


def _range_findings(
    doc: SourceDoc,
    path: tuple[str, str],
    what: str,
    first: int,
    count: int,
    others: Iterable[tuple[int, str]],
    *,
    assigned: bool = True,
) -> list[Finding]:
    """Findings about the AS range first..first+count-1 that the plan numbers `what` from."""
    out: list[Finding] = []
    where = ".".join(path)
    last = first + max(count, 1) - 1
    span = f"{first}-{last}" if last > first else str(first)
    if last > LAST_USABLE_ASN:
        out.append(
            doc.finding(
                Level.ERROR,
                "names.asn-range",
                path,
                f"{where} {first} numbers {count:,} {what} up to AS {last}, past {LAST_USABLE_ASN}, the last "
                "usable 32-bit AS number",
                f"lower {where} to at most {LAST_USABLE_ASN - max(count, 1) + 1}; {PRIVATE_HINT}",
            )
        )
        last = LAST_USABLE_ASN
    for asn, reason in sorted(RESERVED_ASNS.items()):
        if first <= asn <= last:
            out.append(
                doc.finding(
                    Level.ERROR,
                    "names.asn-reserved",
                    path,
                    f"the {what}' AS range {span} from {where} includes AS {asn}, {reason}",
                    f"move {where} so the range skips it; {PRIVATE_HINT}",
                )
            )
    for asn, owner in sorted(set(others)):
        if first <= asn <= last:
            out.append(
                doc.finding(
                    Level.ERROR,
                    "names.duplicate-asn",
                    path,
                    f"the {what}' AS range {span} from {where} includes AS {asn}, {owner}",
                    f"move {where} to a range no other AS of the campus or its peers uses",
                )
            )
    if assigned and not is_private(first, last):
        out.append(
            doc.finding(
                Level.WARNING,
                "names.asn-public",
                path,
                f"the {what}' AS range {span} from {where} is not all private: public AS numbers belong to real "
                "networks",
                PRIVATE_HINT,
            )
        )
    return out


def _peers(campus: Campus) -> list[tuple[int, str]]:
    out = [(campus.asns.edge, "the campus edge's AS")]
    out += [(s.peer_asn, f"the peer AS at landing station {s.id}") for s in campus.wan.landing_stations]
    return out


def hub_asn_findings(campus: Campus, doc: SourceDoc) -> list[Finding]:
    """The lab's hub AS range against 32 bits, the reserved numbers, the edge and peer ASes, private space."""
    hubs = len(campus.wan.hubs)
    if not hubs:
        return []  # no hub, no hub AS
    return _range_findings(doc, ("lab", "hub_asn_base"), "lab hubs", campus.lab.hub_asn_base, hubs, _peers(campus))


def fabric_asn_findings(campus: Campus, doc: SourceDoc, fabrics: Sequence[PhaseFabricLike]) -> list[Finding]:
    """The Ethernet fabric's AS range (numbered once the phases are planned) against the lab hubs' range, the reserved
    numbers and private space. Its overflow and clashes with the edge and peers are reported by the planner."""
    ethernet_switches = sum(sum(c.totals.values()) for pf in fabrics for c in pf.compute if c.kind == "spectrum-x")
    base = campus.lab.hub_asn_base
    hub_asns = [(base + i, f"the AS of lab hub {h}") for i, h in enumerate(campus.wan.hubs)]
    found = _range_findings(
        doc,
        ("asns", "fabric_base"),
        "fabric switches",
        campus.asns.fabric_base,
        ethernet_switches,
        hub_asns,
        assigned=ethernet_switches > 0,
    )
    return [f for f in found if f.code != "names.asn-range"]
