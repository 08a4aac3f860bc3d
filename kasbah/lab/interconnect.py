"""The edge interconnect under a cut: iBGP stays up and every region stays reachable while one link is down.

The edge routers' iBGP runs loopback to loopback over the planned interconnect, whose OSPF (BFD on each link) moves
the loopback routes to the remaining links, or through a third router, when one link fails. This check cuts one link
at a time silently (nftables, links stay up), pings every region from the campus meanwhile, watches every iBGP
session and its multihop BFD, restores the link and waits for its adjacency. Apart from the cable drill
(`checks.drill`), which it leaves alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from kasbah.lab import checks, network, routing
from kasbah.lab.state import LabState
from kasbah.plan.derive import Plan
from kasbah.plan.lab import CAMPUS_NODE

HOLD_MIN_S = 3.0
"""How long a link stays cut at least: several times the iBGP multihop BFD's detection time, so a session that
would drop has dropped by then."""


@dataclass
class InterconnectCut:
    link: str
    ospf_down_s: float | None = None
    """Cut to the OSPF adjacency on the link leaving Full at the cut end (its link BFD's detection)."""
    ibgp_lost: list[str] = field(default_factory=list)
    """iBGP sessions (`router -> peer`) that left Established, or whose BFD left up, while the link was cut."""
    gaps: dict[str, tuple[float | None, int]] = field(default_factory=dict)
    """Region -> (longest silence of a 10 ms ping from the campus around the cut, echo requests lost)."""
    restore_s: float | None = None
    """Restore to the link's adjacency Full again at both ends and every iBGP session up."""
    errors: list[str] = field(default_factory=list)

    @property
    def worst_gap_s(self) -> float | None:
        gaps = [g for g, _ in self.gaps.values() if g is not None]
        return max(gaps) if gaps else None


def _ibgp_down(plan: Plan, state: LabState) -> list[str]:
    sessions = routing.ibgp_sessions(plan, network.frr_instances(state))
    return [
        f"{r} -> {o} ({s}, BFD {b})" for (r, o), (s, b) in sorted(sessions.items()) if (s, b) != ("Established", "up")
    ]


def _link_full(plan: Plan, state: LabState, link_id: str) -> bool:
    link = routing.interconnect(plan, link_id)
    assert link is not None
    instances = network.frr_instances(state)
    return link.a_if in routing.ospf_full(instances[link.a]) and link.b_if in routing.ospf_full(instances[link.b])


def restore(plan: Plan, state: LabState, link_id: str, timeout: float = 30) -> float | None:
    """Lift an interconnect cut; seconds until its adjacency is Full at both ends and all iBGP is up (None: not in
    `timeout`)."""
    ns = state.cuts.pop(link_id, None)
    if ns is not None:
        routing.restore_interconnect(plan, ns, link_id)
    state.save()
    return checks._poll(lambda: _link_full(plan, state, link_id) and not _ibgp_down(plan, state), timeout, interval=0.1)


def cut_one(
    plan: Plan, state: LabState, link_id: str, *, hold_s: float | None = None, say: Callable[[str], None] = print
) -> InterconnectCut:
    """Cut one interconnect link for `hold_s`, measure, restore it."""
    result = InterconnectCut(link=link_id)
    link = routing.interconnect(plan, link_id)
    if link is None:
        result.errors.append(f"{link_id} is not an interconnect link of {plan.phase}")
        return result
    if hold_s is None:
        detect = plan.edge.ibgp_bfd.interval_ms * plan.edge.ibgp_bfd.multiplier / 1000
        hold_s = max(HOLD_MIN_S, 3 * detect)
    down = _ibgp_down(plan, state)
    if down or not _link_full(plan, state, link_id):
        result.errors.append(f"the check needs iBGP and {link_id} up first: {', '.join(down) or 'adjacency down'}")
        return result
    campus_ns = state.netns(CAMPUS_NODE)
    targets = {r.region: r.target for r in checks.regions_now(plan, state)}
    pingers = {region: checks.Pinger(campus_ns, target) for region, target in targets.items()}
    if checks._poll(lambda: all(p.replies() >= 50 for p in pingers.values()), 5) is None:
        silent = [r for r, p in pingers.items() if p.replies() < 50]
        for p in pingers.values():
            p.stop()
        result.errors.append(f"regions not answering the campus before the cut: {', '.join(silent)}")
        return result
    instances = network.frr_instances(state)
    edge_a = instances[link.a]
    drops = routing.ibgp_drops(plan, instances)
    t_cut = time.time()
    t0 = time.monotonic()
    state.cuts[link_id] = routing.cut_interconnect(plan, state.netns, link_id)
    state.save()
    say(f"cut interconnect {link_id} ({link.a} {link.a_if} - {link.b} {link.b_if}), silently, for {hold_s:g} s")
    # First only the cut end's adjacency, polled tightly (its BFD's detection); then every iBGP session until the
    # hold ends; FRR's drop counters catch a flap between two looks.
    result.ospf_down_s = checks._poll(lambda: link.a_if not in routing.ospf_full(edge_a), hold_s, 0.02, since=t0)
    lost: set[str] = set()
    while time.monotonic() - t0 < hold_s:
        lost.update(_ibgp_down(plan, state))
        time.sleep(0.1)
    after = routing.ibgp_drops(plan, instances)
    lost.update(f"{r} -> {o} (dropped {after[(r, o)] - n}x)" for (r, o), n in drops.items() if after.get((r, o), n) > n)
    result.ibgp_lost = sorted(lost)
    for region, pinger in pingers.items():
        if checks._poll(lambda p=pinger: p.replies(since=time.time() - 0.5) >= 10, 2, interval=0.05) is None:
            result.errors.append(f"{region} ({targets[region]}) does not answer the campus with {link_id} cut")
        result.gaps[region] = checks._gap(pinger.stop(), t_cut)
    if result.ospf_down_s is None:
        result.errors.append(f"the OSPF adjacency on {link.a} {link.a_if} stayed Full for {hold_s:g} s of the cut")
    if result.ibgp_lost:
        result.errors.append(f"iBGP went down during the cut: {', '.join(result.ibgp_lost)}")
    result.restore_s = restore(plan, state, link_id)
    if result.restore_s is None:
        result.errors.append(f"{link_id}'s adjacency and iBGP were not back within 30 s of the restore")
    return result


def check(plan: Plan, state: LabState, *, say: Callable[[str], None] = print) -> list[InterconnectCut]:
    """Every interconnect link of the phase, cut one at a time."""
    return [cut_one(plan, state, link.id, say=say) for link in plan.edge.interconnects]
