"""Benchmark: the lab's Slurm part, timed (root, namespaces and the Debian 13 root needed).

    sudo .venv/bin/python bench/slurm_lab.py                      # tests/data/slurm-lab/phase1.yaml, one run
    sudo .venv/bin/python bench/slurm_lab.py --runs 3 --json
    sudo .venv/bin/python bench/slurm_lab.py --build-root         # also time a fresh root build (in a temp dir)
    sudo .venv/bin/python bench/slurm_lab.py --parse stacks/phase1.yaml   # slurmctld alone on a large render

Per run, in a temporary directory and its own namespace prefix (the same code as `kasbah lab up`'s Slurm step,
without FRR, Prometheus and moto around it):

- root build: `scripts/slurm-root.sh` when the root is absent (or --build-root: into a temporary directory);
- daemons up: namespaces + munged + slurmctld pair answering `scontrol ping` + every slurmd registered idle;
- each probe job: submit -> running (segment of segment_max, whole block, two blocks), placement checked;
- drain drill: each of its jobs (whole block elsewhere, whole block waiting, segment beside the drained tray) and
  the drill in total (drain -> undrain, jobs cancelled, nodes idle);
- --parse SPEC: slurmctld pair alone on SPEC's render (every node in /etc/hosts, no slurmd): up and topology read.

Exit 0 when the measurements were taken, whatever the times; 1 when a probe's placement is wrong or Slurm does not
start; 2 for bad arguments or a machine that cannot run it (not root, no root directory: the message says how).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kasbah.lab import slurm_root  # noqa: E402
from kasbah.lab.slurm import SlurmLabError, client, standalone  # noqa: E402
from kasbah.lab.slurm_probes import Layout, Probe, drill, probes  # noqa: E402
from kasbah.plan.derive import Plan, derive  # noqa: E402
from kasbah.spec.load import load_spec  # noqa: E402

DEFAULT_SPEC = REPO / "tests" / "data" / "slurm-lab" / "phase1.yaml"


def _plan(spec: Path) -> Plan:
    plan, _ = derive(load_spec(spec))
    if plan is None or plan.slurm is None:
        raise SystemExit(f"error: {spec} plans no scheduler")
    return plan


def _build_root(fresh: bool) -> dict[str, object]:
    root = slurm_root.root_dir()
    if not fresh and slurm_root.missing(root) is None:
        return {"root": str(root), "built": False, "version": slurm_root.version(root)}
    target = Path(tempfile.mkdtemp(prefix="kasbah-slurm-root-")) / "root" if fresh else root
    t0 = time.monotonic()
    line = slurm_root.build(target)
    seconds = round(time.monotonic() - t0, 1)
    if fresh:
        shutil.rmtree(target.parent, ignore_errors=True)
    return {"root": str(target), "built": True, "seconds": seconds, "result": line}


def _run(spec: Path, n: int) -> dict[str, object]:
    plan = _plan(spec)
    layout = Layout.from_plan(plan.slurm)
    work = Path(tempfile.mkdtemp(prefix="kasbah-slurm-bench-"))
    out: dict[str, object] = {"run": n, "trays": len(plan.slurm.nodes), "blocks": len(plan.slurm.blocks)}
    try:
        t0 = time.monotonic()
        with standalone(plan, work, f"kb{os.getpid() % 1000}x{n}") as running:
            out["up"] = {**running.timings, "total_s": round(time.monotonic() - t0, 2)}
            out["probes"] = [_probe(p) for p in probes(running, layout)]
            out["drill"] = [_probe(p) for p in drill(running, layout)]
            t1 = time.monotonic()
        out["down_s"] = round(time.monotonic() - t1, 2)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return out


def _parse(spec: Path) -> dict[str, object]:
    plan = _plan(spec)
    work = Path(tempfile.mkdtemp(prefix="kasbah-slurm-parse-"))
    try:
        t0 = time.monotonic()
        with standalone(plan, work, f"kp{os.getpid() % 1000}", slurmd=False) as running:
            up = round(time.monotonic() - t0, 2)
            t1 = time.monotonic()
            topo = client(running.controller_pid, ["scontrol", "show", "topology"])[1]
            read = round(time.monotonic() - t1, 2)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    blocks = sum(1 for line in topo.splitlines() if line.startswith("BlockName="))
    return {
        "spec": str(spec),
        "trays": len(plan.slurm.nodes),
        "blocks_planned": len(plan.slurm.blocks),
        "blocks_loaded": blocks,
        "up_s": up,
        "topology_s": read,
    }


def _probe(p: Probe) -> dict[str, object]:
    return {
        "name": p.name,
        "request": p.request,
        "ok": p.ok,
        "state": p.state,
        "detail": p.detail,
        "seconds": p.seconds,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spec", type=Path, default=DEFAULT_SPEC)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--build-root", action="store_true", help="time a fresh root build in a temporary directory")
    ap.add_argument("--parse", type=Path, action="append", default=[], help="a large spec: slurmctld alone")
    args = ap.parse_args(argv)
    if args.runs < 1:
        print("error: --runs must be at least 1", file=sys.stderr)
        return 2
    if os.geteuid() != 0:
        print("error: the lab's Slurm needs root (namespaces, mounts, chroot): run it with sudo", file=sys.stderr)
        return 2
    say = (lambda m: print(m, file=sys.stderr)) if args.json else print
    result: dict[str, object] = {"root": _build_root(args.build_root)}
    problem = slurm_root.missing()
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    say(f"root: {result['root']}")
    runs = []
    try:
        for n in range(args.runs):
            run = _run(args.spec, n)
            runs.append(run)
            up = run["up"]
            say(
                f"run {n}: {run['trays']} trays in {run['blocks']} blocks: network {up['network_s']} s, "
                f"slurmctld pair {up['slurmctld_s']} s, all slurmd idle {up['daemons_up_s']} s; down {run['down_s']} s"
            )
            for p in [*run["probes"], *run["drill"]]:
                mark = "ok" if p["ok"] else "WRONG"
                say(f"  {p['name']}: {p['request']} -> {p['state'] or '-'} {p['detail']} in {p['seconds']} s [{mark}]")
        result["runs"] = runs
        result["parse"] = [_parse(spec) for spec in args.parse]
        for p in result["parse"]:
            say(
                f"parse {p['spec']}: {p['trays']} trays, {p['blocks_loaded']}/{p['blocks_planned']} blocks loaded; "
                f"slurmctld pair up {p['up_s']} s, topology read {p['topology_s']} s"
            )
    except SlurmLabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        sys.stdout.write(json.dumps(result, indent=1, sort_keys=True) + "\n")
    wrong = [p for r in runs for p in [*r["probes"], *r["drill"]] if not p["ok"]]
    wrong += [p for p in result["parse"] if p["blocks_loaded"] != p["blocks_planned"]]
    return 1 if wrong else 0


if __name__ == "__main__":
    raise SystemExit(main())
