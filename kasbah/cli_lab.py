"""`kasbah lab ...` and `kasbah verify --lab`: the lab's commands. Like cli.py, only this module prints.

Exit codes: 0 ok, 1 a failed check (a difference, a drill slower than its target), 2 unusable input or a lab that
cannot be used (none up, already up, missing privileges or packages).
"""

from __future__ import annotations

import difflib
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from kasbah.plan.derive import Plan
from kasbah.report import styled

lab_app = typer.Typer(
    name="lab",
    help="Rehearse a phase on this machine: namespaces + FRR, Prometheus, moto S3; cut cables and watch.",
    no_args_is_help=True,
)

FAILOVER_TARGET_S = 1.0
"""The drill's target: a region's traffic on its next path within 1 s of a silent cut (BFD 100 ms x 3)."""


def _console(stderr: bool = False):
    from kasbah.cli import _console as console

    return console(stderr)


def _fail(message: str, code: int = 2, hint: str | None = None) -> typer.Exit:
    err = _console(stderr=True)
    err.print(styled(("error", "red"), f": {message}"))
    if hint:
        err.print(f"  = hint: {hint}")
    return typer.Exit(code)


def _lab():
    """(state, plan) of the lab that is up; exit 2 when there is none."""
    from kasbah.lab.lifecycle import current
    from kasbah.lab.state import lab_dir

    state = current()
    if state is None:
        raise _fail(f"no lab is up (no state in {lab_dir()})", hint="kasbah lab up stacks/phase1.yaml")
    plan_file = Path(state.dir) / "build" / state.phase / "plan.json"
    if not plan_file.is_file():
        raise _fail(f"the lab in {state.dir} is incomplete (no {plan_file})", hint="kasbah lab down")
    return state, Plan.model_validate_json(plan_file.read_text(encoding="utf-8"))


@lab_app.command("up")
def up(spec: Annotated[Path, typer.Argument(help="A phase spec, e.g. stacks/phase1.yaml.")]) -> None:
    """Start the lab for a phase: routers, links, FRR (edges via kasbah apply), monitoring, S3."""
    from kasbah.cli import buildable_plan
    from kasbah.lab.lifecycle import LabError
    from kasbah.lab.lifecycle import up as lab_up

    plan = buildable_plan(spec)
    console = _console()
    try:
        with console.status(styled(f"starting the lab for {plan.phase}"), spinner="dots"):
            state = lab_up(spec, plan, say=console.print)
    except LabError as exc:
        raise _fail(str(exc)) from None
    console.print(
        styled(
            ("lab up", "green"),
            f" for {state.phase} in {state.timings.get('up_s', 0):.1f} s: {len(state.namespaces)} "
            f"namespaces, {len(state.processes)} processes, sessions up {state.timings.get('sessions_s', 0):.1f} s "
            f"after the apply; state {state.path}",
        )
    )
    console.print("next: kasbah lab status | kasbah lab drill | kasbah lab cut CABLE | kasbah lab down")


@lab_app.command("deploy")
def deploy(
    spec: Annotated[Path, typer.Argument(help="A phase spec of the lab's campus, e.g. stacks/phase1.yaml.")],
    replace: Annotated[
        bool, typer.Option("--replace", help="Run every step, as a role fix that changes every trigger would.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable JSON of the steps.")] = False,
) -> None:
    """Run a phase stack's on-premises steps on the lab, as `pulumi up -s <phase>` would: unchanged steps don't run."""
    from kasbah.cli import buildable_plan
    from kasbah.lab.lifecycle import LabError
    from kasbah.lab.lifecycle import deploy as lab_deploy

    buildable_plan(spec)
    state, _plan = _lab()
    console = _console(stderr=as_json)
    try:
        run = lab_deploy(spec, state, say=lambda m: console.print(m, markup=False), replace=replace)
    except LabError as exc:
        raise _fail(str(exc), code=1) from None
    if as_json:
        sys.stdout.write(json.dumps(run.as_dict(), indent=2, sort_keys=True) + "\n")


@lab_app.command("status")
def status(as_json: Annotated[bool, typer.Option("--json", help="Machine-readable JSON.")] = False) -> None:
    """Sessions, the path each region uses, probes, firing alerts and bucket conformance."""
    from kasbah.lab import checks

    state, plan = _lab()
    now = checks.status(plan, state)
    if as_json:
        from kasbah.lab.slurm_probes import status_lab

        blocks, notice = status_lab(plan, state)
        slurm = {"blocks": [{**asdict(b), "whole_block": b.whole_block} for b in blocks], "notice": notice}
        sys.stdout.write(json.dumps({**asdict(now), "slurm": slurm}, indent=2, default=str) + "\n")
        return
    console = _console()
    console.print(f"lab for {state.phase} ({state.spec}), {state.status}; S3 {state.s3_endpoint}")
    t = Table(title="BGP sessions of the edge (BFD at the plan's timers)")
    for col in ("edge", "cable", "landing station", "peer", "BGP", "BFD", "prefixes"):
        t.add_column(col)
    for s in now.sessions:
        ok = s.state == "Established" and s.bfd == "up"
        colour = "green" if ok else "red"
        t.add_row(s.edge_router, s.cable, s.landing_station, s.peer, styled((s.state, colour)), s.bfd, str(s.prefixes))
    console.print(t)
    if now.interconnects:
        t = Table(title="Edge interconnect: OSPF on each planned link (BFD at the plan's timers), iBGP over loopbacks")
        for col in ("link", "a end", "OSPF", "b end", "OSPF", ""):
            t.add_column(col)
        for link in now.interconnects:
            ospf = [
                styled(("Full", "green")) if ok else styled(("not Full", "red")) for ok in (link.a_full, link.b_full)
            ]
            t.add_row(
                link.link, f"{link.a} {link.a_if}", ospf[0], f"{link.b} {link.b_if}", ospf[1], "cut" if link.cut else ""
            )
        console.print(t)
        t = Table(title="iBGP sessions of the edge mesh (multihop BFD)")
        for col in ("router", "peer", "BGP", "BFD"):
            t.add_column(col)
        for s in now.ibgp:
            colour = "green" if (s.state, s.bfd) == ("Established", "up") else "red"
            t.add_row(s.router, s.peer, styled((s.state, colour)), s.bfd)
        console.print(t)
    t = Table(title=f"Regions: the cable their traffic leaves over now (read at {checks.ingress(plan)})")
    for col in ("region", "prefix", "now", "plan", ""):
        t.add_column(col)
    for r in now.regions:
        mark = styled(("as planned", "green")) if r.cable == r.expected else styled(("differs", "red"))
        t.add_row(r.region, r.prefix, r.cable or "no route", r.expected or "none", mark)
    console.print(t)
    t = Table(title="Probes (blackbox exporter on the monitoring host, from the generated targets)")
    for col in ("job", "path", "target", "success"):
        t.add_column(col)
    for labels, value in sorted(now.probes, key=lambda p: (p[0].get("job", ""), p[0].get("instance", ""))):
        path = labels.get("cable") or ""
        if labels.get("job") == "wan_region":
            path = f"{labels.get('region', '')}"
        ok = styled(("1", "green")) if value == 1 else styled(("0", "red"))
        t.add_row(labels.get("job", ""), path, labels.get("instance", ""), ok)
    console.print(
        t if now.probes else f"probes: none yet (Prometheus scrapes every {plan.monitoring.scrape_interval_s} s)"
    )
    if now.alerts:
        t = Table(title="Firing alerts")
        for col in ("alert", "labels"):
            t.add_column(col)
        for a in now.alerts:
            labels = dict(a.get("labels", {}))
            name = labels.pop("alertname", "?")
            t.add_row(name, ", ".join(f"{k}={v}" for k, v in sorted(labels.items()) if k != "campus"))
        console.print(t)
    else:
        console.print("firing alerts: none")
    console.print(
        styled("buckets: ", ("conform to the plan", "green"))
        if not now.buckets
        else "buckets:\n  " + "\n  ".join(now.buckets)
    )
    if now.cuts:
        console.print(styled(("cut", "yellow"), f": {', '.join(now.cuts)} (kasbah lab restore CABLE)"))
    for e in now.errors:
        console.print(styled((e, "red")))
    _slurm_status(plan, state, console)


def _slurm_status(plan: Plan, state, console) -> None:
    """Each NVLink block's trays now (up, drained, down) and what that means for whole-block jobs."""
    from kasbah.lab.slurm_probes import status_lab

    rows, notice = status_lab(plan, state)
    if notice:
        console.print(notice)
    if not rows:
        return
    t = Table(title=f"Slurm blocks (segments of {plan.slurm.segment_max} survive one drained tray)")
    for col in ("block", "trays", "up", "drained", "down", "means"):
        t.add_column(col)
    for b in rows:
        mark = styled((b.meaning, "green" if b.whole_block else "yellow"))
        t.add_row(b.block, str(b.trays), str(b.up), ", ".join(b.drained) or "-", ", ".join(b.down) or "-", mark)
    console.print(t)


def _verify_slurm(plan: Plan, state, console) -> tuple[list[str], bool]:
    """Probe jobs and the drain drill: where each job landed, against the plan's blocks; returns the differences
    and whether any probe ran."""
    from kasbah.lab.slurm_probes import verify_lab

    results, diffs, notice = verify_lab(plan, state)
    if notice:
        console.print(notice)
    for p in results:
        mark = styled(("ok", "green")) if p.ok else styled(("differs", "red"))
        console.print(f"slurm {p.name}: {p.request} -> {p.state or '-'} {p.detail} ({p.seconds:.1f} s) ", mark)
    return diffs, bool(results)


def _cable(plan: Plan, cable: str) -> str:
    lit = sorted({s.cable for r in plan.edge.routers for s in r.sessions})
    if cable not in lit:
        near = difflib.get_close_matches(cable, lit, n=1)
        links = ", ".join(i.id for i in plan.edge.interconnects)
        hint = f"did you mean {near[0]}?" if near else f"the lab's cables: {', '.join(lit)}; interconnect: {links}"
        raise _fail(f"cable {cable!r} is not lit in {plan.phase}'s lab", hint=hint)
    return cable


@lab_app.command("cut")
def cut(
    cable: Annotated[
        str,
        typer.Argument(help="A cable the phase lights, e.g. mtwa-north, or an edge interconnect link, edge1/edge2/1."),
    ],
) -> None:
    """Fail a cable (or an interconnect link) silently: nftables drops its traffic, links stay up; BFD must notice."""
    from kasbah.lab import routing

    state, plan = _lab()
    if routing.interconnect(plan, cable) is not None:
        if cable not in state.cuts:
            state.cuts[cable] = routing.cut_interconnect(plan, state.netns, cable)
            state.save()
        _console().print(f"cut interconnect {cable}: it drops everything (kasbah lab restore {cable})")
        return
    _cable(plan, cable)
    if cable in state.cuts:
        _console().print(f"{cable} is already cut")
        return
    state.cuts[cable] = routing.cut(plan, state.netns, cable)
    state.save()
    _console().print(f"cut {cable}: its circuit and wet segment drop everything (kasbah lab restore {cable})")


@lab_app.command("restore")
def restore(cable: Annotated[str, typer.Argument(help="A cable cut with `kasbah lab cut`.")]) -> None:
    """Lift a cut."""
    from kasbah.lab import checks, interconnect, routing

    state, plan = _lab()
    if routing.interconnect(plan, cable) is None:
        _cable(plan, cable)
    if cable not in state.cuts:
        _console().print(f"{cable} is not cut")
        return
    if routing.interconnect(plan, cable) is not None:
        back = interconnect.restore(plan, state, cable)
    else:
        back = checks.restore(plan, state, cable)
    if back is None:
        raise _fail(f"restored {cable}, but its sessions are not up 30 s later", code=1, hint="kasbah lab status")
    _console().print(f"restored {cable}: its sessions are up again after {back:.1f} s")


@lab_app.command("drill")
def drill(
    cable: Annotated[str | None, typer.Argument(help="Default: the cable the first region prefers.")] = None,
    no_alert: Annotated[bool, typer.Option("--no-alert", help="Do not wait for the probe alert.")] = False,
    interconnect: Annotated[
        bool,
        typer.Option(
            "--interconnect/--no-interconnect", help="Then cut each edge interconnect link: regions stay reachable."
        ),
    ] = True,
) -> None:
    """Cut a cable a region prefers: time the failover and the page, restore, time the return; then cut each edge
    interconnect link in turn and check iBGP stays up and every region answers."""
    from kasbah.lab import checks
    from kasbah.lab import interconnect as edge_links

    state, plan = _lab()
    if state.cuts:
        raise _fail(f"cables already cut: {', '.join(sorted(state.cuts))}", hint="kasbah lab restore CABLE first")
    if cable is None:
        cable = plan.edge.regions[0].preference[0].cable
    _cable(plan, cable)
    console = _console()
    result = checks.drill(plan, state, cable, wait_alert=not no_alert, say=console.print)
    for region, (before, after) in result.regions.items():
        console.print(f"region {region}: {before} -> {after}")
    if not result.regions:
        console.print(f"no region's traffic used {cable}: only its session's detection is timed")

    def fmt(v: float | None) -> str:
        return "n/a" if v is None else f"{v:.3f} s"

    page = (
        f"page delivered to {checks.PAGE_OWNER}'s receiver {result.page_receiver} ({result.page_alert}) "
        f"{fmt(result.page_s)}"
        if result.page_s is not None
        else "page not delivered"
    )
    console.print(f"cut -> BFD down {fmt(result.detect_s)}, failover {fmt(result.failover_s)}, {page} (after the cut)")
    console.print(
        f"longest traffic gap {fmt(result.traffic_gap_s)} ({result.lost} pings lost); probe alert "
        f"{checks.PATH_DOWN_ALERT} {fmt(result.alert_s)}"
        + (" (silenced by the page)" if result.probe_alert_inhibited else "")
        + f"; sessions and paths back {fmt(result.restore_s)} after the restore"
    )
    for note in result.notes:
        console.print(styled((note, "yellow")))
    slow = result.regions and (result.failover_s is None or result.failover_s > FAILOVER_TARGET_S)
    for e in result.errors:
        console.print(styled((e, "red")))
    if slow:
        console.print(styled((f"failover slower than {FAILOVER_TARGET_S:g} s", "red")))
    link_errors: list[str] = []
    if interconnect and not result.errors:
        for cut in edge_links.check(plan, state, say=lambda m: console.print(m, markup=False)):
            console.print(
                f"interconnect {cut.link}: OSPF down {fmt(cut.ospf_down_s)}, iBGP sessions lost "
                f"{len(cut.ibgp_lost)}, longest region gap {fmt(cut.worst_gap_s)}, back {fmt(cut.restore_s)}",
                markup=False,
            )
            link_errors += cut.errors
        for e in link_errors:
            console.print(styled((e, "red")))
    if slow or result.errors or link_errors:
        raise typer.Exit(1)
    paged = "" if result.page_s is None else f", the page within {checks.PAGE_TARGET_S:g} s"
    console.print(styled(("drill passed", "green"), f": failover within {FAILOVER_TARGET_S:g} s{paged}"))


@lab_app.command("down")
def down() -> None:
    """Stop everything the lab started (by PID), delete its namespaces and files. Safe to run twice."""
    from kasbah.lab.lifecycle import current
    from kasbah.lab.lifecycle import down as lab_down

    console = _console()
    if not lab_down(current(), say=console.print):
        console.print("no lab to take down")


def verify(spec: Path) -> None:
    """`kasbah verify SPEC --lab`: exit 1 listing every difference between the live lab and the plan."""
    from kasbah.cli import buildable_plan
    from kasbah.lab import checks

    plan = buildable_plan(spec)
    state, _ = _lab()
    diffs = checks.differences(plan, state)
    console = _console()
    slurm_diffs, slurm_ran = _verify_slurm(plan, state, console)
    diffs += slurm_diffs
    if diffs:
        for d in diffs:
            console.print(styled(("differs", "red"), f": {d}"))
        console.print(f"{len(diffs)} difference(s) between the lab and {spec}")
        raise typer.Exit(1)
    console.print(
        f"the lab conforms to {spec}: sessions, BFD, region paths and reachability, rules, buckets"
        + (", Slurm job placement and drain drill" if slurm_ran else "")
    )
