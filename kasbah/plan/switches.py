"""Switches of the Ethernet (Spectrum-X) compute fabrics, generated on demand from the plan like hosts.

Each switch gets its own private AS, counted from `asns.fabric_base` over the Ethernet fabrics in build order (the
range the planner checks against the edge and peer AS numbers), and a loopback from its phase's loopback block.
Numbering is positional, so it is stable while the phases before it stand.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network

from kasbah.plan.derive import Plan


@dataclass(frozen=True, slots=True)
class FabricSwitch:
    name: str
    phase: str
    model: str
    domain: int
    tier: str
    index: int
    asn: int
    loopback: str
    ports_down: int
    ports_up: int


def ethernet_switches(plan: Plan) -> Iterator[FabricSwitch]:
    blocks = {
        a.phase: IPv4Network(a.cidr)
        for a in plan.addresses.allocations
        if a.network == "loopbacks" and a.scope == "phase"
    }
    asn = plan.fabric_asn_base
    for fabric in plan.fabrics:
        offset = 0
        for compute in fabric.compute:
            if compute.kind != "spectrum-x":
                continue
            for domain in compute.domains:
                for tier in domain.tiers:
                    for i in range(tier.switches):
                        block = blocks[fabric.phase]
                        yield FabricSwitch(
                            name=f"{fabric.phase}-d{domain.index}-{tier.name}-{i + 1:03d}",
                            phase=fabric.phase,
                            model=compute.switch,
                            domain=domain.index,
                            tier=tier.name,
                            index=i,
                            asn=asn,
                            loopback=str(IPv4Address(int(block.network_address) + offset)),
                            ports_down=tier.ports_down,
                            ports_up=tier.ports_up,
                        )
                        asn += 1
                        offset += 1
