"""What the live lab shows against what the plan says: `lab status`, `verify --lab` and the cable-cut drill.

Traffic from the campus leaves through the first edge router (the lab's core sends it there) and iBGP picks the
exit, so "the cable a region uses" is read from that router's kernel, across the interconnect to the edge that owns
the cable when iBGP chose the other edge.
"""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kasbah.lab import monitoring as labmon
from kasbah.lab import network, routing, webhook
from kasbah.lab.state import LabState
from kasbah.monitoring.rules import SESSION_ALERTS, region_probe_targets, rule_groups
from kasbah.plan.derive import Plan
from kasbah.plan.lab import CAMPUS_NODE

PATH_DOWN_ALERT = "WanPathDown"
PAGE_OWNER = "wan"
PAGE_TARGET_S = 10.0
"""The issue's target: the WAN owner's receiver has the page within 10 s of the cut."""
PAGE_TIMEOUT_S = 30.0
TRAFFIC_TIMEOUT_S = 10.0
"""How long the drill waits for the ping to get replies again after a cut."""


@dataclass(frozen=True)
class RegionNow:
    region: str
    prefix: str
    target: str
    cable: str | None
    """The cable the region's traffic leaves over now (None: no route)."""
    expected: str | None
    """The plan's choice given the cables cut in the lab."""


@dataclass(frozen=True)
class LinkNow:
    """One planned interconnect link: whether OSPF is Full on it, seen from each end."""

    link: str
    a: str
    a_if: str
    b: str
    b_if: str
    a_full: bool
    b_full: bool
    cut: bool


@dataclass(frozen=True)
class IbgpNow:
    """One side of an iBGP session of the edge mesh (loopback to loopback) and its multihop BFD."""

    router: str
    peer: str
    state: str
    bfd: str


@dataclass
class LabStatus:
    sessions: list[routing.SessionState]
    interconnects: list[LinkNow]
    ibgp: list[IbgpNow]
    regions: list[RegionNow]
    probes: list[tuple[dict[str, str], float]]
    alerts: list[dict]
    buckets: list[str]
    cuts: list[str]
    errors: list[str] = field(default_factory=list)


def ingress(plan: Plan) -> str:
    return plan.edge.routers[0].id


def regions_now(plan: Plan, state: LabState) -> list[RegionNow]:
    """Each region's probe address as the ingress edge's kernel forwards it now, against the plan's choice."""
    down = set(state.cuts)
    out = []
    for region, prefix, target in region_probe_targets(plan):
        out.append(
            RegionNow(
                region=region,
                prefix=prefix,
                target=target,
                cable=routing.fib_cable(plan, state.netns, target, ingress(plan)),
                expected=routing.preferred(plan, region, down),
            )
        )
    return out


def status(plan: Plan, state: LabState) -> LabStatus:
    from kasbah import buckets

    instances = network.frr_instances(state)
    campus_ns = state.netns(CAMPUS_NODE)
    errors: list[str] = []
    try:
        probes = labmon.probe_success(campus_ns)
    except Exception as exc:  # the status must still show the rest
        probes, errors = [], [*errors, f"Prometheus: {exc}"]
    try:
        alerts = labmon.firing_alerts(campus_ns)
    except Exception as exc:
        alerts, errors = [], [*errors, f"Prometheus alerts: {exc}"]
    os.environ.update(buckets.lab_credentials())  # moto's: the lab's endpoint takes any
    try:
        bucket_diffs = buckets.check_buckets(state.s3_endpoint, plan.storage, campus=plan.campus)
    except Exception as exc:
        bucket_diffs = [f"cannot check the buckets on {state.s3_endpoint}: {exc}"]
    full = {r.id: routing.ospf_full(instances[r.id]) for r in plan.edge.routers if r.id in instances}
    links = [
        LinkNow(
            link=i.id,
            a=i.a,
            a_if=i.a_if,
            b=i.b,
            b_if=i.b_if,
            a_full=i.a_if in full.get(i.a, set()),
            b_full=i.b_if in full.get(i.b, set()),
            cut=i.id in state.cuts,
        )
        for i in plan.edge.interconnects
    ]
    ibgp = [IbgpNow(r, o, s, b) for (r, o), (s, b) in sorted(routing.ibgp_sessions(plan, instances).items())]
    return LabStatus(
        sessions=routing.sessions(plan, instances),
        interconnects=links,
        ibgp=ibgp,
        regions=regions_now(plan, state),
        probes=probes,
        alerts=alerts,
        buckets=bucket_diffs,
        cuts=sorted(state.cuts),
        errors=errors,
    )


def differences(plan: Plan, state: LabState) -> list[str]:
    """Every way the live lab differs from the plan (empty: it conforms); what `kasbah verify --lab` lists."""
    out: list[str] = []
    if state.phase != plan.phase:
        out.append(f"the lab runs {state.phase}, the spec is {plan.phase}: `kasbah lab down`, then `lab up` this spec")
        return out
    if state.status != "up":
        out.append(f"the lab is {state.status}, not up")
    for cable in sorted(state.cuts):
        out.append(f"cable {cable} is cut in the lab (`kasbah lab restore {cable}`)")
    current = status(plan, state)
    for s in current.sessions:
        if s.state != "Established":
            out.append(f"{s.edge_router}: BGP session over {s.cable} to {s.landing_station} ({s.peer}) is {s.state}")
        elif s.bfd != "up":
            out.append(f"{s.edge_router}: BFD over {s.cable} to {s.landing_station} ({s.peer}) is {s.bfd}")
    for link in current.interconnects:
        for router, port, full in ((link.a, link.a_if, link.a_full), (link.b, link.b_if, link.b_full)):
            if not full:
                out.append(f"{router}: OSPF on interconnect {link.link} ({port}) is not Full")
    for s in current.ibgp:
        if (s.state, s.bfd) != ("Established", "up"):
            out.append(f"{s.router}: iBGP to {s.peer} is {s.state}, its BFD {s.bfd}")
    preferred = {r.region: routing.preferred(plan, r.region) for r in plan.edge.regions}
    for r in current.regions:
        if r.cable != preferred[r.region]:
            out.append(
                f"region {r.region} ({r.prefix}) leaves over {r.cable or 'no route'}, the plan prefers "
                f"{preferred[r.region]}"
            )
    for r in current.regions:
        if not answers(state.netns(CAMPUS_NODE), r.target):
            out.append(f"region {r.region}: {r.target} does not answer the campus's monitoring host")
    try:
        loaded = labmon.rule_groups(state.netns(CAMPUS_NODE))
    except Exception as exc:
        loaded = set()
        out.append(f"cannot read Prometheus's rules: {exc}")
    for group in rule_groups(plan):
        if group.name not in loaded:
            out.append(f"Prometheus has not loaded rule group {group.name} ({group.file})")
    out += [f"bucket: {d}" for d in current.buckets]
    out += current.errors
    return out


def answers(ns: str, target: str) -> bool:
    """Whether `target` answers a ping from namespace `ns` (3 tries, 1 s each)."""
    proc = subprocess.run(
        ["ip", "netns", "exec", ns, "ping", "-c", "3", "-i", "0.2", "-W", "1", "-q", target],
        capture_output=True,
        check=False,
        timeout=15,
    )
    return proc.returncode == 0


@dataclass
class DrillResult:
    cable: str
    regions: dict[str, tuple[str | None, str | None]]
    """Region -> (cable before, cable after) for every region whose traffic used the cut cable."""
    detect_s: float | None
    """Cut to the edge's session over the cable leaving Established (BFD's detection)."""
    failover_s: float | None
    """Cut to every affected region leaving over the plan's next choice (control plane, at the ingress edge)."""
    traffic_gap_s: float | None
    """Longest silence of a 10 ms ping from the campus to the first affected region's target, around the cut."""
    lost: int
    alert_s: float | None = None
    """Cut to the path-down alert firing in Prometheus."""
    restore_s: float | None = None
    """Restore to the cable's sessions up again and the regions back on it."""
    page_s: float | None = None
    """Cut to the WAN owner's page receiver (the lab's sink) receiving a firing session alert for the cable."""
    page_alert: str | None = None
    """The alert that page carried (WanBfdDown, or WanBgpSessionDown)."""
    page_receiver: str | None = None
    """The receiver's URL path, as the spec names it (the lab only changes the host)."""
    probe_alert_inhibited: bool | None = None
    """Whether Alertmanager held the probe alert (WanPathDown) silenced by the page, so the cut paged once."""
    notes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class Pinger:
    """A 10 ms ping from the campus's monitoring host, its replies collected as they come (ping -D timestamps)."""

    def __init__(self, ns: str, target: str) -> None:
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", ns, "ping", "-D", "-n", "-i", "0.01", "-W", "1", target],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    def replies(self, since: float = 0.0) -> int:
        """Replies timestamped at or after `since` (epoch seconds, as ping -D prints them)."""
        return sum(1 for m in map(_REPLY.match, list(self.lines)) if m and float(m[1]) >= since)

    def stop(self) -> str:
        self.proc.terminate()
        self.proc.wait(timeout=5)
        self.reader.join(timeout=5)
        return "".join(self.lines)


_REPLY = re.compile(r"^\[(\d+\.\d+)\].*icmp_seq=(\d+)")


def _gap(output: str, since: float) -> tuple[float | None, int]:
    """(longest interval between consecutive replies spanning `since`, echo requests that got no reply)."""
    replies = [(float(m[1]), int(m[2])) for m in map(_REPLY.match, output.splitlines()) if m]
    if len(replies) < 2:
        return None, 0
    seqs = {s for _, s in replies}
    lost = max(seqs) - min(seqs) + 1 - len(seqs)
    times = [t for t, _ in replies]
    spans = [b - a for a, b in itertools.pairwise(times) if b >= since]
    return (max(spans) if spans else None), lost


def _poll(
    check: Callable[[], bool], timeout: float, interval: float = 0.01, since: float | None = None
) -> float | None:
    """Seconds from `since` (default: now) until `check()` holds, or None after `timeout`."""
    t0 = time.monotonic()
    start = t0 if since is None else since
    while time.monotonic() - t0 < timeout:
        if check():
            return time.monotonic() - start
        time.sleep(interval)
    return None


def page_expectation(plan: Plan, state: LabState) -> tuple[str, str | None] | None:
    """(URL path of the WAN owner's page webhook, its expected Authorization as a sink records it), or None when
    the spec gives the WAN owner no page webhook."""
    receiver = next((r for r in plan.monitoring.receivers if r.owner == PAGE_OWNER), None)
    if receiver is None or not receiver.page_url:
        return None
    parts = urllib.parse.urlsplit(webhook.lab_url(receiver.page_url, PAGE_OWNER))
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    if not receiver.token_var:
        return path, None
    from kasbah.lab.lifecycle import LabVault

    token = LabVault(Path(state.dir)).values.get(receiver.token_var, "")
    return path, webhook.credential_digest(f"Bearer {token}")


def find_page(state: LabState, path: str, cable: str, since: float) -> tuple[dict, str] | None:
    """The first request the WAN owner's sink received at or after `since` on `path` that fires a session alert
    for `cable`: (the request, the alert's name)."""
    for entry in webhook.requests(Path(state.dir), PAGE_OWNER):
        body = entry.get("body")
        if entry.get("t", 0) < since or entry.get("path") != path or not isinstance(body, dict):
            continue
        for alert in body.get("alerts") or []:
            labels = alert.get("labels") or {}
            if (
                alert.get("status") == "firing"
                and labels.get("alertname") in SESSION_ALERTS
                and labels.get("cable") == cable
            ):
                return entry, labels["alertname"]
    return None


def drill(
    plan: Plan,
    state: LabState,
    cable: str,
    *,
    wait_alert: bool = True,
    wait_page: bool = True,
    say: Callable[[str], None] = print,
) -> DrillResult:
    """Cut `cable` silently, time the failover and the page to the WAN owner's receiver, wait for the probes'
    path-down alert (the second signal), restore it and time the return."""
    instances = network.frr_instances(state)
    result = DrillResult(cable=cable, regions={}, detect_s=None, failover_s=None, traffic_gap_s=None, lost=0)
    down = cable_sessions_down(plan, instances, cable)
    if down:
        result.errors.append(f"the drill needs {cable}'s sessions up first: {', '.join(down)}")
        return result
    before = {r.region: r for r in regions_now(plan, state)}
    affected = {name: r for name, r in before.items() if r.cable == cable}
    expected_after = {name: routing.preferred(plan, name, {*state.cuts, cable}) for name in affected}
    result.regions = {n: (affected[n].cable, expected_after[n]) for n in affected}
    session = next(s for r in plan.edge.routers for s in r.sessions if s.cable == cable)
    edge = instances[session.edge_router]
    campus_ns = state.netns(CAMPUS_NODE)
    target = next(iter(affected.values())).target if affected else None
    pinger = Pinger(campus_ns, target) if target else None
    if pinger is not None and _poll(lambda: pinger.replies() >= 50, 5) is None:
        pinger.stop()
        result.errors.append(f"{target} does not answer the campus before the cut")
        return result
    t_cut = time.time()
    t0 = time.monotonic()
    state.cuts[cable] = routing.cut(plan, state.netns, cable)
    state.save()
    say(f"cut {cable} (silent: nftables drops its circuit and wet segment, links stay up)")

    def session_down() -> bool:
        return edge.bgp_peers().get(session.peer_address, {}).get("state") != "Established"

    def moved() -> bool:
        return all(
            routing.fib_cable(plan, state.netns, affected[n].target, ingress(plan)) == expected_after[n]
            for n in affected
        )

    result.detect_s = _poll(session_down, 10, since=t0)
    result.failover_s = _poll(moved, 10, since=t0) if affected else None
    if pinger is not None:
        resumed = _poll(lambda: pinger.replies(since=t_cut) >= 20, TRAFFIC_TIMEOUT_S, interval=0.05)
        result.traffic_gap_s, result.lost = _gap(pinger.stop(), t_cut)
        if resumed is None:
            result.traffic_gap_s = None
            result.errors.append(f"traffic to {target} did not resume within {TRAFFIC_TIMEOUT_S:g} s of the cut")
    if affected and result.failover_s is None:
        result.errors.append(f"traffic did not move to {expected_after} within 10 s")
    if wait_page:
        _wait_page(plan, state, cable, t_cut, t0, result)
    if wait_alert:
        say(f"waiting for {PATH_DOWN_ALERT} on {cable} (its rule holds for 1 m before it fires)")
        interval = plan.monitoring.scrape_interval_s

        def alert_firing() -> bool:
            try:
                alerts = labmon.firing_alerts(campus_ns)
            except Exception:
                return False
            return any(
                a["labels"].get("alertname") == PATH_DOWN_ALERT and a["labels"].get("cable") == cable for a in alerts
            )

        result.alert_s = _poll(alert_firing, 60 + 4 * interval + 30, interval=1.0, since=t0)
        if result.alert_s is None:
            result.errors.append(f"{PATH_DOWN_ALERT} for {cable} did not fire")
        elif result.page_s is not None:
            result.probe_alert_inhibited = _inhibited(campus_ns, cable)
            if not result.probe_alert_inhibited:
                result.errors.append(
                    f"{PATH_DOWN_ALERT} for {cable} is not silenced in Alertmanager: the cut would page twice"
                )
    result.restore_s = restore(plan, state, cable, before={n: r.cable for n, r in affected.items()})
    if result.restore_s is None:
        result.errors.append(f"{cable}'s sessions and paths were not back within 30 s of the restore")
    return result


def _wait_page(plan: Plan, state: LabState, cable: str, t_cut: float, t0: float, result: DrillResult) -> None:
    """Wait for the page on the WAN owner's sink and check its token; the time is the sink's arrival stamp."""
    expected = page_expectation(plan, state)
    if expected is None:
        result.notes.append(
            f"the spec gives owner {PAGE_OWNER} no page webhook (monitoring.receivers.{PAGE_OWNER}.page_url): "
            "the session alert fires in Alertmanager but is delivered nowhere"
        )
        return
    path, authorization = expected
    result.page_receiver = path
    found: list[tuple[dict, str]] = []

    def delivered() -> bool:
        hit = find_page(state, path, cable, t_cut)
        if hit is not None:
            found.append(hit)
        return hit is not None

    if _poll(delivered, PAGE_TIMEOUT_S - (time.monotonic() - t0), interval=0.05) is None:
        result.errors.append(
            f"no page for {cable} reached {PAGE_OWNER}'s receiver ({path}) within {PAGE_TIMEOUT_S:g} s of the cut"
        )
        return
    entry, result.page_alert = found[0]
    result.page_s = entry["t"] - t_cut
    if entry.get("authorization") != authorization:
        result.errors.append(f"the page reached {PAGE_OWNER}'s receiver without the vault's bearer token")
    elif result.page_s > PAGE_TARGET_S:
        result.errors.append(f"the page took {result.page_s:.1f} s, over the {PAGE_TARGET_S:g} s target")


def _inhibited(campus_ns: str, cable: str, timeout: float = 10) -> bool:
    """Whether Alertmanager holds the probe alert for `cable` suppressed by an inhibition."""

    def suppressed() -> bool:
        try:
            held = labmon.alertmanager_alerts(campus_ns)
        except Exception:
            return False
        return any(
            a["labels"].get("alertname") == PATH_DOWN_ALERT
            and a["labels"].get("cable") == cable
            and a.get("status", {}).get("state") == "suppressed"
            and a.get("status", {}).get("inhibitedBy")
            for a in held
        )

    return _poll(suppressed, timeout, interval=0.5) is not None


def cable_sessions_down(plan: Plan, instances, cable: str) -> list[str]:
    """The edge sessions over `cable` that are not Established with BFD up, as `edge -> peer (state)`."""
    out = []
    for s in routing.sessions(plan, instances):
        if s.cable == cable and (s.state, s.bfd) != ("Established", "up"):
            out.append(f"{s.edge_router} -> {s.peer} ({s.state}, BFD {s.bfd})")
    return out


def restore(plan: Plan, state: LabState, cable: str, before: dict[str, str | None] | None = None) -> float | None:
    """Lift the cut and wait until the cable's sessions are up again (and the regions in `before` are back on
    their cable); return how long that took, None after 30 s."""
    ns = state.cuts.pop(cable, None)
    if ns is not None:
        routing.restore(ns)
    state.save()
    instances = network.frr_instances(state)
    targets = {r: t for r, _, t in region_probe_targets(plan)}

    def back() -> bool:
        if cable_sessions_down(plan, instances, cable):
            return False
        return all(
            routing.fib_cable(plan, state.netns, targets[n], ingress(plan)) == c for n, c in (before or {}).items()
        )

    return _poll(back, 30, interval=0.1)
