"""Network fabric sizing: fat-tree arithmetic for the compute, storage and out-of-band networks.

Pure and deterministic, and counts only: a 500 MW phase has ~266,000 GPU NICs, so nothing here builds an object per
endpoint, port or cable: a plan is a few dozen integer steps (one binary search of ~20), i.e. microseconds.

The rules, and why (k = ports of the switch at the NIC's speed):

- A leaf splits its k ports into d down and u up with d + u = k and d/u = the oversubscription, d rounded down (so
  the taper is never worse than asked): 1:1 -> d = u = k/2; 2:1 -> d = floor(2k/3), u = k - d.
- Only the leaf tapers. Spines of a three-tier fabric are non-blocking (k/2 down, k/2 up) and the top tier uses all
  k ports downwards. So two tiers serve up to k * d endpoints and three tiers k * (k/2) * d; at 1:1 these are the
  textbook k^2/2 and k^3/4 (domain.md section 3, fat-tree note).
- Rail-optimised: NIC i of every node goes to the rail-i leaves (rails = NICs per node). With a scalable unit (SU)
  size, every SU gets its own ceil(SU nodes / d) leaves per rail, so a leaf never straddles two SUs and an SU can be
  added in a later phase without recabling earlier leaves. NVIDIA: "the fabric should be designed to support the
  full SU, including leaf switches and leaf-spine cables" (DGX SuperPOD RA, network-fabrics). Leaf uplinks are
  therefore cabled for every leaf port, used or not (the H100 RA's 31-node SU: 248 node cables, 256 leaf-spine).
- Spines: each leaf spreads its u uplinks evenly over the spines it reaches, so the spine count is the smallest
  divisor of u that gives enough spine ports. This is what NVIDIA's tables do: 24 H100 leaves x 32 uplinks need 12
  NDR spines but get 16; 32 B300 leaves x 72 uplinks need 16 XDR spines but get 18. (Unless that would double the
  count, see `_spine_count`.)
- Three tiers: leaves form spine groups of at most k/2 leaves, one set of groups per rail ("spine groups"), each
  group with its own spines; cores = ceil(spine uplinks / k).
- A fabric whose endpoints fit on one switch (E <= k) is a single switch, one tier: every endpoint is then one hop
  from every other, which is all rail optimisation buys. NVIDIA's designs never get there (8 rails x 32 nodes).
- Beyond three tiers the nodes are split into the fewest fabric domains that each fit, equal-ish, on SU boundaries
  when an SU size is given; `split_note` says so, and the planner turns it into a finding. An SU too large for one
  domain cannot keep its boundary, so it is then ignored (leaves sized by nodes, SUs cut); sizing such a domain as
  a full SU would leave only the one-switch tier and split into thousands of tiny domains.
- At most MAX_DOMAINS domains: past that the switch is too small for the phase (a 2- or 4-port custom switch), and
  the caller gets a `FabricError` saying so rather than a plan of millions of objects.

Cables and transceivers: cables_down of a tier are the cables to the tier below (leaf: node -> leaf). One
transceiver per cable end. Twin-port OSFP cages (QM9700, XDR: two logical ports per cage) would halve the
switch-side count, but the catalog has no cage field, so it is not modelled: the count is an upper bound on
optics. Links at <= 1 Gb/s are taken as RJ45 copper (BASE-T) and need none.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import TYPE_CHECKING, Literal

from kasbah.plan.model import PlanModel

if TYPE_CHECKING:  # annotations only: keeps this module importable on its own (no catalog -> spec import cycle)
    from kasbah.catalog.models import Switch

TierName = Literal["leaf", "spine", "core"]
_TIER_NAMES: tuple[TierName, ...] = ("leaf", "spine", "core")
_MAX_TIERS = 3
_COPPER_MAX_GBPS = 1  # BASE-T RJ45 links: no transceivers
_OOB_UPLINKS_SINGLE_SPEED = 2  # a single-speed OOB switch keeps 2 ports up (dual-homed) and the rest for access

MAX_DOMAINS = 1024
"""Most fabric domains one network of a phase may split into: a policy (NVIDIA's largest designs use a handful)."""


class FabricError(ValueError):
    """A fabric no switch arrangement can give (no port at the speed, too few ports): the planner's finding."""


PARTITION_KEY_BASE = 0x1000
"""First P_Key given to a phase's InfiniBand partition (0x7fff is the default partition): a Kasbah policy."""


class FabricTier(PlanModel):
    """One switch tier. Ports are per switch, by role; cables_down and transceivers_down are to the tier below."""

    name: TierName
    switches: int
    ports_down: int
    ports_up: int
    cables_down: int
    transceivers_down: int


class FabricDomain(PlanModel):
    """One independently sized fabric (a fat tree of its own)."""

    index: int
    nodes: int
    endpoints: int
    tiers: list[FabricTier]


class FabricGrowth(PlanModel):
    """A fabric built in stages toward a planned final size: what this stage adds and what stays reserved.

    The first stage builds the final design's spines (for every spine group it opens) and cores, so later stages
    only add leaves (and new spine groups) and cable their own SUs in: no built cable is ever moved. The reserved
    ports are the empty spine down-ports and core ports the later stages will fill.
    """

    planned_nodes: int
    nodes_before: int
    nodes_after: int
    extends: str | None
    spine_ports_reserved: int
    core_ports_reserved: int


class ComputeFabricPlan(PlanModel):
    """The compute (east-west) fabric of one node type: totals over its domains. Field order is the JSON order."""

    kind: str
    switch: str
    port_gbps: int
    radix: int
    rails: int
    oversubscription: str
    tiers_count: int
    capacity_per_domain: int
    domains: list[FabricDomain]
    totals: dict[str, int]
    cables: dict[str, int]
    transceivers: int
    split_note: str | None
    growth: FabricGrowth | None = None


class NetworkPlan(PlanModel):
    """A storage or OOB network. `note` explains a split into several fabrics (summed here), else None."""

    switch: str
    port_gbps: int
    tiers: list[FabricTier]
    switches: int
    cables: int
    transceivers: int
    note: str | None = None
    aggregation_switch: str | None = None


def _port_at(switch: Switch, gbps: int) -> tuple[int, int] | None:
    """(speed, count) of the ports a `gbps` link uses: exact speed, else the slowest faster one, else None."""
    if gbps in switch.ports:
        return gbps, switch.ports[gbps]
    faster = sorted(s for s in switch.ports if s >= gbps)
    return (faster[0], switch.ports[faster[0]]) if faster else None


def radix_at(switch: Switch, gbps: int) -> int | None:
    """Ports of `switch` a `gbps` NIC can use, or None.

    Exact speed first (SN5600: 128 at 400, 64 at 800; QM9700: 64 at 400). Otherwise a slower NIC takes one faster
    port each (a 400G NIC on a Q3400's 800G port), so the count at the smallest speed >= gbps. A slower port is
    never used for a faster NIC. The catalog lists breakouts as separate speeds, so they are not inferred here.
    """
    port = _port_at(switch, gbps)
    return None if port is None else port[1]


def _transceivers(cables: int, gbps: int) -> int:
    """One per cable end; none for BASE-T copper."""
    return 0 if gbps <= _COPPER_MAX_GBPS else 2 * cables


def _ratio(oversubscription: float) -> Fraction:
    """The down:up ratio as an exact fraction of its decimal text (2.0 -> 2, 1.1 -> 11/10), so rounding is stable."""
    if isinstance(oversubscription, bool) or not math.isfinite(oversubscription) or oversubscription < 1:
        raise ValueError(f"oversubscription must be a finite ratio >= 1 (1.0 means 1:1), got {oversubscription!r}")
    return Fraction(repr(float(oversubscription)))


def _ratio_text(r: Fraction) -> str:
    return f"{float(r):g}:1"


def _split(k: int, r: Fraction) -> tuple[int, int]:
    """Leaf (down, up) ports: d/u = r and d + u = k, d rounded down so the taper never exceeds r."""
    down = (k * r.numerator) // (r.numerator + r.denominator)
    return down, k - down


def _spine_count(uplinks: int, needed: int) -> int:
    """Spines for leaves of `uplinks` up ports when `needed` spines' worth of ports are enough.

    Rounded up to a divisor of the uplinks, so every leaf has the same number of links to every spine (NVIDIA's
    tables do this). When no divisor lies below twice the need (a prime uplink count from an oversubscribed split,
    e.g. 43), the need itself is kept and links spread unevenly by one.
    """
    needed = max(needed, 1)
    for x in range(needed, min(2 * needed, uplinks + 1)):
        if uplinks % x == 0:
            return x
    return needed


@dataclass(frozen=True)
class _Shape:
    """Everything that sizes a domain except its node count."""

    k: int
    d: int  # leaf down
    u: int  # leaf up
    d_s: int  # spine down (three tiers)
    u_s: int  # spine up (three tiers)
    groups: int  # rails, or 1 when not rail-optimised
    per_node: int  # endpoints one node puts on one group's leaves
    nics: int
    gbps: int
    su: int | None

    def leaves_per_group(self, nodes: int) -> int:
        if self.su:
            return math.ceil(nodes / self.su) * math.ceil(self.su * self.per_node / self.d)
        return math.ceil(nodes * self.per_node / self.d)

    def tiers(self, nodes: int) -> int | None:
        """Fewest tiers that hold `nodes` (monotone in nodes), or None past three."""
        if nodes * self.nics <= self.k:
            return 1
        leaves = self.leaves_per_group(nodes)
        if self.groups * leaves <= self.k:  # every spine reaches every leaf
            return 2
        if self.groups * math.ceil(leaves / self.d_s) <= self.k:  # every core reaches every spine group
            return 3
        return None

    def max_nodes(self, max_tiers: int) -> int:
        """Largest node count that fits in `max_tiers` tiers (binary search on the monotone `tiers`)."""

        def fits(n: int) -> bool:
            t = self.tiers(n)
            return t is not None and t <= max_tiers

        lo, hi = 0, self.k**3 + (self.su or 0) + 1  # hi never fits: it needs more than k^2 leaves per group
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if fits(mid) else (lo, mid)
        return lo

    def spines_for_group(self, leaves: int, down: int) -> int:
        return _spine_count(self.u, math.ceil(leaves * self.u / down))

    def domain(self, index: int, nodes: int) -> FabricDomain:
        endpoints = nodes * self.nics
        tiers = self.tiers(nodes)
        if tiers is None:  # pragma: no cover - callers split first
            raise AssertionError(f"{nodes} nodes do not fit three tiers")
        if tiers == 1:
            leaf = FabricTier(
                name="leaf",
                switches=1,
                ports_down=self.k,
                ports_up=0,
                cables_down=endpoints,
                transceivers_down=_transceivers(endpoints, self.gbps),
            )
            return FabricDomain(index=index, nodes=nodes, endpoints=endpoints, tiers=[leaf])
        per_group = self.leaves_per_group(nodes)
        leaves = self.groups * per_group
        up = leaves * self.u
        out = [
            FabricTier(
                name="leaf",
                switches=leaves,
                ports_down=self.d,
                ports_up=self.u,
                cables_down=endpoints,
                transceivers_down=_transceivers(endpoints, self.gbps),
            )
        ]
        if tiers == 2:
            spines = self.spines_for_group(leaves, self.k)
            out.append(
                FabricTier(
                    name="spine",
                    switches=spines,
                    ports_down=self.k,
                    ports_up=0,
                    cables_down=up,
                    transceivers_down=_transceivers(up, self.gbps),
                )
            )
        else:
            # Full spine groups of d_s leaves first, then one partial group with only the spines it needs; spines
            # do not taper, so they send up to the cores exactly the links that come up from the leaves.
            full, rest = divmod(per_group, self.d_s)
            per_rail = full * self.spines_for_group(self.d_s, self.d_s)
            per_rail += self.spines_for_group(rest, self.d_s) if rest else 0
            spines = self.groups * per_rail
            spine_up = up
            out.append(
                FabricTier(
                    name="spine",
                    switches=spines,
                    ports_down=self.d_s,
                    ports_up=self.u_s,
                    cables_down=up,
                    transceivers_down=_transceivers(up, self.gbps),
                )
            )
            out.append(
                FabricTier(
                    name="core",
                    switches=math.ceil(spine_up / self.k),
                    ports_down=self.k,
                    ports_up=0,
                    cables_down=spine_up,
                    transceivers_down=_transceivers(spine_up, self.gbps),
                )
            )
        return FabricDomain(index=index, nodes=nodes, endpoints=endpoints, tiers=out)


def scalable_unit_nodes(pod_nodes: Iterable[int]) -> int | None:
    """The SU size of a fabric built for pods of these node counts: the largest pod, whatever the listing order.

    A fabric must be a function of the set of pods it serves: taking the first pod made 16, 32, 32 DGX B200 nodes
    need 40 leaves / 32 spines but 32, 32, 16 only 24 / 16. The largest pod is the scalable unit NVIDIA sizes leaves
    and leaf-spine cables for ("the full SU"); a smaller pod is a partial SU, as the RA's 31-node H100 SU is. None
    when there are no pods (or none with nodes).
    """
    largest = max((n for n in pod_nodes if n > 0), default=0)
    return largest or None


def _even(total: int, parts: int) -> list[int]:
    """`total` in `parts` shares differing by at most one, larger first."""
    base, extra = divmod(total, parts)
    return [base + 1] * extra + [base] * (parts - extra)


def _split_nodes(shape: _Shape, nodes: int, switch_id: str) -> tuple[list[int], str | None]:
    """Node counts per domain, and the explanation when there is more than one (`shape` already fits its SU)."""
    if shape.tiers(nodes) is not None:
        return [nodes], None
    cap_nodes = shape.max_nodes(_MAX_TIERS)
    if cap_nodes == 0:
        raise FabricError(
            f"one node with {shape.nics} NICs does not fit a three-tier fabric of {shape.k}-port switches"
            + (f" with {shape.groups} rails" if shape.groups > 1 else "")
        )
    how = ""
    if shape.su and cap_nodes >= shape.su:
        sus = math.ceil(nodes / shape.su)
        parts = math.ceil(sus / (cap_nodes // shape.su))
        sizes, left = [], nodes
        for count in _even(sus, parts) if parts <= MAX_DOMAINS else []:
            sizes.append(min(count * shape.su, left))
            left -= sizes[-1]
        how = f" on scalable-unit boundaries ({shape.su:,} nodes each)"
    else:
        parts = math.ceil(nodes / cap_nodes)
        sizes = _even(nodes, parts) if parts <= MAX_DOMAINS else []
    if parts > MAX_DOMAINS:
        raise FabricError(
            f"{nodes * shape.nics:,} endpoints would need {parts:,} fabric domains of {cap_nodes * shape.nics:,} "
            f"on '{switch_id}' ({shape.k} ports at {shape.gbps} Gb/s); at most {MAX_DOMAINS:,} are planned"
        )
    endpoints, cap = nodes * shape.nics, cap_nodes * shape.nics
    textbook = shape.k * shape.d_s * shape.d
    idle = f" ({textbook:,} if every leaf port were used)" if cap < textbook else ""
    note = (
        f"{endpoints:,} endpoints exceed the {cap:,} a 3-tier fabric of {shape.k}-port switches serves{idle}; "
        f"split into {len(sizes)} fabric domains of {max(sizes):,} nodes or fewer{how}"
    )
    return sizes, note


def _sum_by_tier(domains: list[FabricDomain], attr: str) -> dict[str, int]:
    sums: dict[str, int] = {}
    for name in _TIER_NAMES:
        values = [getattr(t, attr) for dom in domains for t in dom.tiers if t.name == name]
        if values:
            sums[name] = sum(values)
    return sums


def _shape(
    *,
    nics_per_node: int,
    gbps: int,
    switch_id: str,
    switch: Switch,
    rail_optimised: bool,
    oversubscription: float,
    nodes_per_scalable_unit: int | None,
) -> tuple[_Shape, int, Fraction]:
    if gbps < 1:
        raise ValueError(f"port speed must be >= 1 Gb/s, got {gbps}")
    if nics_per_node < 0:
        raise ValueError(f"NICs per node must be >= 0, got {nics_per_node}")
    if nodes_per_scalable_unit is not None and nodes_per_scalable_unit < 1:
        raise ValueError(f"nodes per scalable unit must be >= 1, got {nodes_per_scalable_unit}")
    port = _port_at(switch, gbps)
    if port is None:
        have = ", ".join(f"{n} x {s}G" for s, n in sorted(switch.ports.items()))
        raise FabricError(f"switch '{switch_id}' ({switch.name}) has no port at {gbps} Gb/s or faster; it has {have}")
    speed, k = port
    if k < 2:
        raise FabricError(f"switch '{switch_id}' has {k} port at {speed} Gb/s; a fabric needs at least 2")
    r = _ratio(oversubscription)
    d, u = _split(k, r)
    rails = nics_per_node if rail_optimised else 1
    shape = _Shape(
        k=k,
        d=d,
        u=u,
        d_s=k // 2,
        u_s=k - k // 2,
        groups=max(rails, 1),
        per_node=1 if rail_optimised else nics_per_node,
        nics=nics_per_node,
        gbps=speed,
        su=nodes_per_scalable_unit,
    )
    return shape, speed, r


def plan_compute_fabric(
    *,
    nodes: int,
    nics_per_node: int,
    nic_gbps: int,
    switch_id: str,
    switch: Switch,
    kind: str,
    rail_optimised: bool,
    oversubscription: float,
    nodes_per_scalable_unit: int | None = None,
) -> ComputeFabricPlan:
    """Size the compute fabric for `nodes` nodes (compute trays for NVL72) of `nics_per_node` NICs each.

    Raises ValueError for inputs no fabric can have (no port at the NIC's speed, negative counts, a ratio below
    1:1). Zero nodes or zero NICs give an empty plan. `rails` is the NICs per node when rail-optimised, else 1.
    """
    if nodes < 0:
        raise ValueError(f"nodes must be >= 0, got {nodes}")
    shape, speed, r = _shape(
        nics_per_node=nics_per_node,
        gbps=nic_gbps,
        switch_id=switch_id,
        switch=switch,
        rail_optimised=rail_optimised,
        oversubscription=oversubscription,
        nodes_per_scalable_unit=nodes_per_scalable_unit,
    )
    domains: list[FabricDomain] = []
    note = None
    cut_su = None
    if shape.su and shape.tiers(shape.su) is None:  # one SU needs more than a domain: its boundary cannot hold
        cut_su, shape = shape.su, replace(shape, su=None)
    if nodes and nics_per_node:
        sizes, note = _split_nodes(shape, nodes, switch_id)
        if note and cut_su:
            note += f" (one scalable unit of {cut_su:,} nodes is larger than a domain, so SUs are cut)"
        domains = [shape.domain(i, n) for i, n in enumerate(sizes)]
    tiers_count = max((len(dom.tiers) for dom in domains), default=0)
    return ComputeFabricPlan(
        kind=kind,
        switch=switch_id,
        port_gbps=speed,
        radix=shape.k,
        rails=shape.groups,
        oversubscription=_ratio_text(r),
        tiers_count=tiers_count,
        capacity_per_domain=shape.max_nodes(tiers_count) * nics_per_node if tiers_count else 0,
        domains=domains,
        totals=_sum_by_tier(domains, "switches"),
        cables=_sum_by_tier(domains, "cables_down"),
        transceivers=sum(t.transceivers_down for dom in domains for t in dom.tiers),
        split_note=note,
    )


def plan_compute_fabric_stage(
    *,
    nodes_before: int,
    nodes: int,
    planned_nodes: int,
    nics_per_node: int,
    nic_gbps: int,
    switch_id: str,
    switch: Switch,
    kind: str,
    rail_optimised: bool,
    oversubscription: float,
    nodes_per_scalable_unit: int | None = None,
    extends: str | None = None,
) -> ComputeFabricPlan:
    """The part of a `planned_nodes` fabric that nodes [nodes_before, nodes_before + nodes) add to it.

    Leaves follow the nodes; the first stage builds the final design's cores (and, two tiers, its spines), and each
    spine group's spines come with the stage that opens the group, sized for the group at its final size. So the
    stages of a plan sum to the one-shot plan of `planned_nodes`, tier by tier and cable by cable (the test holds
    them to it). The planned fabric must fit one domain: a larger one is separate fabrics (FabricError).
    """
    if not nodes_before >= 0 and nodes >= 0 and nodes_before + nodes <= planned_nodes:
        raise ValueError(f"a stage of {nodes} after {nodes_before} nodes does not fit {planned_nodes} planned nodes")
    shape, speed, r = _shape(
        nics_per_node=nics_per_node,
        gbps=nic_gbps,
        switch_id=switch_id,
        switch=switch,
        rail_optimised=rail_optimised,
        oversubscription=oversubscription,
        nodes_per_scalable_unit=nodes_per_scalable_unit,
    )
    if shape.su and shape.tiers(shape.su) is None:
        shape = replace(shape, su=None)
    final_tiers = shape.tiers(planned_nodes) if planned_nodes and nics_per_node else 0
    if final_tiers is None:
        raise FabricError(
            f"a fabric planned for {planned_nodes:,} nodes needs more than three tiers of '{switch_id}': plan "
            "separate fabrics, or a smaller planned size"
        )
    after = nodes_before + nodes
    tiers: list[FabricTier] = []
    spines = cores = spine_ports = core_ports = 0
    spine_cables_total = 0
    if final_tiers:
        if final_tiers == 1:
            built = 1 if nodes_before == 0 else 0
            cables = nodes * nics_per_node
            tiers.append(
                FabricTier(
                    name="leaf",
                    switches=built,
                    ports_down=shape.k,
                    ports_up=0,
                    cables_down=cables,
                    transceivers_down=_transceivers(cables, shape.gbps),
                )
            )
        else:
            lpg = shape.leaves_per_group
            leaves = shape.groups * (lpg(after) - (lpg(nodes_before) if nodes_before else 0))
            endpoints = nodes * nics_per_node
            up = leaves * shape.u
            tiers.append(
                FabricTier(
                    name="leaf",
                    switches=leaves,
                    ports_down=shape.d,
                    ports_up=shape.u,
                    cables_down=endpoints,
                    transceivers_down=_transceivers(endpoints, shape.gbps),
                )
            )
            final_leaves = lpg(planned_nodes)
            if final_tiers == 2:
                all_spines = shape.spines_for_group(shape.groups * final_leaves, shape.k)
                spines = all_spines if nodes_before == 0 else 0
                tiers.append(
                    FabricTier(
                        name="spine",
                        switches=spines,
                        ports_down=shape.k,
                        ports_up=0,
                        cables_down=up,
                        transceivers_down=_transceivers(up, shape.gbps),
                    )
                )
                spine_ports = all_spines * shape.k - shape.groups * lpg(after) * shape.u
            else:

                def group_spines(g: int) -> int:  # spines of spine group g (0-based) at the final size
                    in_group = min(shape.d_s, final_leaves - g * shape.d_s)
                    return shape.spines_for_group(in_group, shape.d_s)

                def opened(n: int) -> int:
                    return math.ceil(lpg(n) / shape.d_s) if n else 0

                spines = shape.groups * sum(group_spines(g) for g in range(opened(nodes_before), opened(after)))
                built_spines = shape.groups * sum(group_spines(g) for g in range(opened(after)))
                spine_cables_total = shape.groups * lpg(after) * shape.u
                final_up = shape.groups * final_leaves * shape.u
                all_cores = math.ceil(final_up / shape.k)
                cores = all_cores if nodes_before == 0 else 0
                tiers.append(
                    FabricTier(
                        name="spine",
                        switches=spines,
                        ports_down=shape.d_s,
                        ports_up=shape.u_s,
                        cables_down=up,
                        transceivers_down=_transceivers(up, shape.gbps),
                    )
                )
                tiers.append(
                    FabricTier(
                        name="core",
                        switches=cores,
                        ports_down=shape.k,
                        ports_up=0,
                        cables_down=up,
                        transceivers_down=_transceivers(up, shape.gbps),
                    )
                )
                spine_ports = built_spines * shape.d_s - spine_cables_total
                core_ports = all_cores * shape.k - spine_cables_total
    domain = FabricDomain(index=0, nodes=nodes, endpoints=nodes * nics_per_node, tiers=tiers)
    domains = [domain] if tiers else []
    return ComputeFabricPlan(
        kind=kind,
        switch=switch_id,
        port_gbps=speed,
        radix=shape.k,
        rails=shape.groups,
        oversubscription=_ratio_text(r),
        tiers_count=final_tiers,
        capacity_per_domain=shape.max_nodes(final_tiers) * nics_per_node if final_tiers else 0,
        domains=domains,
        totals=_sum_by_tier(domains, "switches"),
        cables=_sum_by_tier(domains, "cables_down"),
        transceivers=sum(t.transceivers_down for t in tiers),
        split_note=None,
        growth=FabricGrowth(
            planned_nodes=planned_nodes,
            nodes_before=nodes_before,
            nodes_after=after,
            extends=extends,
            spine_ports_reserved=spine_ports,
            core_ports_reserved=core_ports,
        ),
    )


def _network(switch_id: str, speed: int, tiers: list[FabricTier], note: str | None = None) -> NetworkPlan:
    return NetworkPlan(
        switch=switch_id,
        port_gbps=speed,
        tiers=tiers,
        switches=sum(t.switches for t in tiers),
        cables=sum(t.cables_down for t in tiers),
        transceivers=sum(t.transceivers_down for t in tiers),
        note=note,
    )


def plan_storage_network(
    *, endpoints: int, port_gbps: int, switch_id: str, switch: Switch, oversubscription: float
) -> NetworkPlan:
    """Leaf/spine for storage and in-band ports: the compute arithmetic with one NIC per endpoint and no rails.

    Two tiers normally; three, or several fabrics (summed tier by tier, explained in `note`) only when it must.
    """
    plan = plan_compute_fabric(
        nodes=endpoints,
        nics_per_node=1,
        nic_gbps=port_gbps,
        switch_id=switch_id,
        switch=switch,
        kind="storage",
        rail_optimised=False,
        oversubscription=oversubscription,
    )
    tiers: list[FabricTier] = []
    for name in _TIER_NAMES:
        same = [t for dom in plan.domains for t in dom.tiers if t.name == name]
        if same:
            tiers.append(
                FabricTier(
                    name=name,
                    switches=sum(t.switches for t in same),
                    ports_down=same[0].ports_down,
                    ports_up=same[0].ports_up,
                    cables_down=sum(t.cables_down for t in same),
                    transceivers_down=sum(t.transceivers_down for t in same),
                )
            )
    return _network(switch_id, plan.port_gbps, tiers, plan.split_note)


def plan_oob_network(
    *,
    racks: int,
    endpoints: int,
    switch_id: str,
    switch: Switch,
    switches_per_rack: int,
    aggregation_id: str | None = None,
    aggregation: Switch | None = None,
) -> NetworkPlan:
    """Out-of-band (BMC) network: access switches on the slowest ports, one aggregation tier on the fastest.

    Access switches = max(switches_per_rack x racks, ceil(endpoints / access ports)). Each access switch cables all
    its fastest ports up (SN2201: 48 x 1G down, 4 x 100G up) to aggregation switches of the same model, sized from
    those uplinks; with `aggregation` (e.g. SN4600C) the aggregation tier is that model at the uplink speed.
    The catalog's speeds are taken as
    separate port groups here (unlike the compute fabric, where they are alternative configurations). A
    single-speed switch keeps 2 ports up. A single access switch needs no aggregation tier.
    """
    if racks < 0 or endpoints < 0 or switches_per_rack < 0:
        raise ValueError(
            f"racks, endpoints and switches per rack must be >= 0, got {racks}, {endpoints}, {switches_per_rack}"
        )
    if not switch.ports:  # pragma: no cover - the catalog model requires ports, but a dict may be empty
        raise ValueError(f"switch '{switch_id}' ({switch.name}) has no ports")
    slow, fast = min(switch.ports), max(switch.ports)
    if slow == fast:
        if switch.ports[slow] <= _OOB_UPLINKS_SINGLE_SPEED:
            raise FabricError(f"switch '{switch_id}' has too few ports ({switch.ports[slow]}) for an OOB network")
        down, up = switch.ports[slow] - _OOB_UPLINKS_SINGLE_SPEED, _OOB_UPLINKS_SINGLE_SPEED
    else:
        down, up = switch.ports[slow], switch.ports[fast]
    access = max(switches_per_rack * racks, math.ceil(endpoints / down)) if endpoints or racks else 0
    if access == 0:
        return _network(switch_id, slow, [])
    tiers = [
        FabricTier(
            name="leaf",
            switches=access,
            ports_down=down,
            ports_up=up if access > 1 else 0,
            cables_down=endpoints,
            transceivers_down=_transceivers(endpoints, slow),
        )
    ]
    if access > 1:
        uplinks = access * up
        agg_ports = switch.ports[fast]
        if aggregation is not None:
            radix = radix_at(aggregation, fast)
            if radix is None:
                raise FabricError(f"aggregation switch '{aggregation_id}' has no ports for {fast} Gb/s uplinks")
            agg_ports = radix
        tiers.append(
            FabricTier(
                name="spine",
                switches=math.ceil(uplinks / agg_ports),
                ports_down=agg_ports,
                ports_up=0,
                cables_down=uplinks,
                transceivers_down=_transceivers(uplinks, fast),
            )
        )
    plan = _network(switch_id, slow, tiers)
    return plan.model_copy(update={"aggregation_switch": aggregation_id}) if aggregation is not None else plan
