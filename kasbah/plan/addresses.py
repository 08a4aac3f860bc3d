"""Addresses: blocks per phase, hall, pod and network, carved in build order so earlier phases never renumber.

Each network's supernet is handed out by a cursor that only moves forward, in the order phases, halls and pods
are built. Phase N's blocks depend only on phases 1..N, so adding phase N+1 never moves them; a decommissioned
pod's block stays reserved rather than being reused under a live config.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from ipaddress import IPv4Network

from kasbah.plan.model import PlanModel

NETWORKS = ("compute_fabric", "storage", "oob", "loopbacks", "services", "wan_links")
SERVICES_PER_PHASE = 256
"""Addresses reserved per phase for its services (monitoring, storage gateways, provisioning): a policy."""


class Allocation(PlanModel):
    network: str
    phase: str
    scope: str
    hall: str | None = None
    pod: str | None = None
    cidr: str
    needed: int


class SupernetUse(PlanModel):
    network: str
    cidr: str
    size: int
    allocated: int
    utilisation: float


class AddressPlan(PlanModel):
    supernets: list[SupernetUse]
    allocations: list[Allocation]


def block_for(needed: int, network: str) -> int:
    """Prefix length for `needed` hosts: /31 point-to-point for WAN links, else hosts + network + broadcast."""
    if network == "wan_links":
        return 32 - max(1, math.ceil(math.log2(max(needed, 2))))
    if network == "loopbacks" and needed == 1:
        return 32
    return 32 - max(2, math.ceil(math.log2(needed + 2)))


@dataclass
class Allocator:
    """A forward-only cursor over one supernet."""

    network: str
    supernet: IPv4Network
    cursor: int = -1
    allocated: int = 0

    def __post_init__(self) -> None:
        self.cursor = int(self.supernet.network_address)

    def allocate(self, needed: int) -> IPv4Network | None:
        prefix = block_for(needed, self.network)
        if prefix < self.supernet.prefixlen:
            return None
        size = 1 << (32 - prefix)
        start = -(-self.cursor // size) * size  # align up
        if start + size > int(self.supernet.broadcast_address) + 1:
            return None
        self.cursor = start + size
        self.allocated += size
        return IPv4Network((start, prefix))

    def left(self) -> int:
        return int(self.supernet.broadcast_address) + 1 - self.cursor

    def use(self) -> SupernetUse:
        return SupernetUse(
            network=self.network,
            cidr=str(self.supernet),
            size=self.supernet.num_addresses,
            allocated=self.allocated,
            utilisation=round(self.allocated / self.supernet.num_addresses, 4),
        )


def overlapping(supernets: dict[str, IPv4Network]) -> list[tuple[str, str]]:
    """Pairs of networks whose supernets overlap, in declaration order."""
    names = list(supernets)
    return [(a, b) for i, a in enumerate(names) for b in names[i + 1 :] if supernets[a].overlaps(supernets[b])]
