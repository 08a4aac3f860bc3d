"""Service hosts: the monitoring server and each InfiniBand domain's pair of subnet managers, with addresses.

They take fixed offsets in their phase's services block (a Kasbah convention, so they never move while the block
stands): the monitoring server is .1 of the first phase's block; the subnet managers of a phase's domain d (its
InfiniBand domains counted in plan order) are .9+2d and .10+2d of that phase's block. OpenSM's highest priority is
15: the pair gets 14 and 13, so the first is master and the second takes over. A phase of many domains needs a
block larger than the usual one: `addresses_needed` says how large, so the planner allocates it (or reports the
services supernet exhausted) before any address is taken here.
"""

from __future__ import annotations

from ipaddress import IPv4Network
from typing import Literal

from kasbah.plan import fabric as fab
from kasbah.plan.addresses import Allocation
from kasbah.plan.model import PlanModel

MONITORING_HOST = "mon1"
SM_PRIORITIES = (14, 13)


class ServiceHost(PlanModel):
    name: str
    role: Literal["monitoring", "subnet_manager", "scheduler"]
    phase: str
    address: str
    fabric_switch: str | None = None
    fabric_domain: int | None = None
    priority: int | None = None


_SM_BASE = 8
"""Subnet manager n (1, 2) of domain j is host .(_SM_BASE + 2j + n) of the phase's services block."""


def _ib_domains(computes: list[fab.ComputeFabricPlan]) -> list[tuple[str, int]]:
    return [(c.switch, d.index) for c in computes if c.kind.startswith("infiniband") for d in c.domains]


def addresses_needed(computes: list[fab.ComputeFabricPlan]) -> int:
    """Host addresses a phase's services block must hold: up to its last subnet manager."""
    return _SM_BASE + len(SM_PRIORITIES) * len(_ib_domains(computes))


def plan_service_hosts(
    fabrics: list[tuple[str, list[fab.ComputeFabricPlan]]], allocations: list[Allocation]
) -> list[ServiceHost]:
    """`fabrics`: (phase, compute fabrics) in build order."""
    blocks = {a.phase: IPv4Network(a.cidr) for a in allocations if a.network == "services"}
    if not blocks:
        return []
    first = next(iter(blocks))
    hosts = [ServiceHost(name=MONITORING_HOST, role="monitoring", phase=first, address=str(blocks[first][1]))]
    for phase, computes in fabrics:
        if phase not in blocks:
            continue
        domains = _ib_domains(computes)
        if addresses_needed(computes) >= blocks[phase].num_addresses - 1:
            raise ValueError(f"the services block {blocks[phase]} of phase {phase} is smaller than its hosts need")
        for j, (switch, index) in enumerate(domains):
            for n, priority in enumerate(SM_PRIORITIES, start=1):
                hosts.append(
                    ServiceHost(
                        name=f"sm-{phase}-d{index}-{n}"
                        if len(domains) == len({i for _, i in domains})
                        else f"sm-{phase}-{switch}-d{index}-{n}",
                        role="subnet_manager",
                        phase=phase,
                        address=str(blocks[phase][_SM_BASE + 2 * j + n]),
                        fabric_switch=switch,
                        fabric_domain=index,
                        priority=priority,
                    )
                )
    return hosts
