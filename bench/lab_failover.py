"""Benchmark: failover and page time of every cable of the example phases, in the lab (root, FRR, Prometheus needed).

    sudo .venv/bin/python bench/lab_failover.py                 # phase1, phase2, phase3, every lit cable
    sudo .venv/bin/python bench/lab_failover.py --phases phase1 --runs 3
    sudo .venv/bin/python bench/lab_failover.py --json

For each phase it starts the lab (`kasbah.lab.lifecycle.up`, in its own directory and namespace prefix), then for
each cable the phase lights cuts it silently (nftables, links up) and restores it, `--runs` times, without waiting for
the alert (the drill test does that). Per cut it reports:

- detect: cut -> the edge's BGP session over the cable leaves Established (BFD, 100 ms x 3 in the example specs);
- failover: cut -> every region that used the cable is forwarded over the plan's next choice by the ingress edge's
  kernel (`ip route get`, following the edge interconnect), the issue's 1 s target;
- gap: the longest silence of a 10 ms ping from the campus's monitoring host to the first such region's target;
- page: cut -> the WAN owner's page webhook (the lab's sink) receives the firing session alert for the cable
  (WanBfdDown), with the vault's bearer token, the issue's 10 s target;
- back: restore -> the cable's sessions are up again (BGP and BFD; the stand-ins retry every second) and the
  regions that used it are back on it.

The example campus gives the WAN owner a page and a ticket webhook with a vault token, so the bench runs the examples
as they are (`--no-receiver` runs a copy whose campus names no receiver: no page).

A cable no region prefers only has its detection timed. Lab start-up time is printed too. Never fails on a slow
figure; exit 1 when a lab cannot start or a cut does not fail over at all.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kasbah.cli import buildable_plan  # noqa: E402
from kasbah.lab import checks, lifecycle  # noqa: E402
from kasbah.lab.state import LabState  # noqa: E402

CUT_GAP_S = 7.0
"""Between cuts: longer than the page route's 5 s group interval, so Alertmanager has sent the previous cut's
resolution and closed its group, and each cut is paged as a fresh one (1 s group wait). A cut within 5 s of a
restore of the same cable is paged at that group's next 5 s tick instead."""


def fmt(values: list[float | None]) -> str:
    got = [v for v in values if v is not None]
    if not got:
        return "n/a"
    if len(got) == 1:
        return f"{got[0]:.3f}"
    return f"{statistics.median(got):.3f} ({min(got):.3f}-{max(got):.3f})"


def stacks_without_receiver(base: Path) -> Path:
    """A copy of the example specs whose campus names no alert receiver: the drill then measures no page."""
    stacks = base / "stacks"
    shutil.copytree(REPO / "stacks", stacks)
    campus = (stacks / "campus.yaml").read_text(encoding="utf-8")
    start = campus.index("\nmonitoring:") + 1
    (stacks / "campus.yaml").write_text(campus[:start] + "monitoring: {}\n", encoding="utf-8")
    return stacks


def bench_phase(phase: str, runs: int, quiet: bool, receiver: bool = True) -> dict:
    base = Path(tempfile.mkdtemp(prefix=f"kasbah-bench-{phase}-"))
    base.chmod(0o755)
    os.environ["KASBAH_LAB_DIR"] = str(base / "lab")
    os.environ["KASBAH_LAB_PREFIX"] = f"kb{os.getpid() % 10000}"
    spec = (REPO / "stacks" if receiver else stacks_without_receiver(base)) / f"{phase}.yaml"
    plan = buildable_plan(spec)
    say = (lambda _m: None) if quiet else (lambda m: print(f"  {m}", file=sys.stderr))
    t0 = time.monotonic()
    state = lifecycle.up(spec, plan, say=say)
    out: dict = {"phase": phase, "up_s": round(time.monotonic() - t0, 1), "cables": []}
    try:
        cables = sorted({s.cable for r in plan.edge.routers for s in r.sessions})
        for cable in cables:
            results = []
            for _ in range(runs):
                state = LabState.load(Path(state.dir)) or state
                results.append(checks.drill(plan, state, cable, wait_alert=False, say=lambda _m: None))
                time.sleep(CUT_GAP_S)
            first = results[0]
            out["cables"].append(
                {
                    "cable": cable,
                    "regions": {r: f"{a} -> {b}" for r, (a, b) in first.regions.items()},
                    "detect_s": [r.detect_s for r in results],
                    "failover_s": [r.failover_s for r in results] if first.regions else [],
                    "gap_s": [r.traffic_gap_s for r in results] if first.regions else [],
                    "page_s": [r.page_s for r in results],
                    "page_alert": sorted({r.page_alert for r in results if r.page_alert}),
                    "back_s": [r.restore_s for r in results],
                    "errors": sorted({e for r in results for e in r.errors}),
                }
            )
    finally:
        lifecycle.down(LabState.load(Path(state.dir)), say=lambda _m: None)
        shutil.rmtree(base, ignore_errors=True)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phases", default="phase1,phase2,phase3")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--no-receiver", action="store_true", help="drop the example campus's receivers (no page)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("error: the lab needs root", file=sys.stderr)
        return 2
    report, failed = [], False
    for phase in [p.strip() for p in args.phases.split(",") if p.strip()]:
        if not args.json:
            print(f"{phase}: starting the lab", file=sys.stderr)
        try:
            result = bench_phase(phase, args.runs, quiet=args.json, receiver=not args.no_receiver)
        except lifecycle.LabError as exc:
            print(f"error: {phase}: {exc}", file=sys.stderr)
            return 1
        report.append(result)
        failed |= any(c["errors"] for c in result["cables"])
    if args.json:
        print(json.dumps(report, indent=2))
        return 1 if failed else 0
    print(f"lab failover, median (min-max) of {args.runs} cut(s) per cable, seconds")
    print(f"{'phase':7} {'cable':17} {'detect':22} {'failover':22} {'page':22} {'gap':22} {'back':22} regions moved")
    for result in report:
        for c in result["cables"]:
            moved = ", ".join(f"{r}: {m}" for r, m in c["regions"].items()) or "none prefers it"
            print(
                f"{result['phase']:7} {c['cable']:17} {fmt(c['detect_s']):22} {fmt(c['failover_s']):22} "
                f"{fmt(c['page_s']):22} {fmt(c['gap_s']):22} {fmt(c['back_s']):22} {moved}"
            )
            for e in c["errors"]:
                print(f"        error: {e}")
        print(f"{result['phase']:7} lab up in {result['up_s']} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
