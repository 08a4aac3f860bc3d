"""Hosts of a pod, generated on demand from the pod's plan: the plan never holds per-node objects.

A 500 MW phase has about 66,000 compute trays; the renderers stream them from here. Names and addresses are pure
functions of the pod's plan and its out-of-band block, so they never change while the pod lives.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network

from kasbah.plan.addresses import Allocation
from kasbah.plan.compute import PodPlan


@dataclass(frozen=True, slots=True)
class Host:
    name: str
    pod: str
    hall: str
    phase: str
    rack: int
    tray: int
    address: str


def nodes_per_rack(pod: PodPlan) -> int:
    return pod.units_per_rack * (pod.nodes // pod.units) if pod.units else 0


def host_name(pod: str, rack: int, tray: int) -> str:
    """`h1-su001-r03-n07`: pod, rack within the pod, tray within the rack (both from 1)."""
    return f"{pod}-r{rack:02d}-n{tray:02d}"


def pod_hosts(pod: PodPlan, oob_cidr: str) -> Iterator[Host]:
    """The pod's compute trays in rack order; each takes the next management address of the pod's OOB block.

    The block's first addresses go to the hosts' own management ports, the rest to BMCs and OOB switches
    (the planner sized the block for all of them).
    """
    per_rack = nodes_per_rack(pod)
    base = int(IPv4Network(oob_cidr).network_address) + 1
    for i in range(pod.nodes):
        rack, tray = divmod(i, per_rack)
        yield Host(
            name=host_name(pod.id, rack + 1, tray + 1),
            pod=pod.id,
            hall=pod.hall,
            phase=pod.phase,
            rack=rack + 1,
            tray=tray + 1,
            address=str(IPv4Address(base + i)),
        )


def oob_blocks(allocations: Iterable[Allocation]) -> dict[str, str]:
    """pod id -> its OOB block."""
    return {a.pod: a.cidr for a in allocations if a.network == "oob" and a.pod}
