"""Benchmark: the phase stack's Pulumi program under the SDK's mocks — resources, time and peak memory.

    .venv/bin/python bench/pulumi_bench.py            # example phases + a synthetic 500 MW phase
    .venv/bin/python bench/pulumi_bench.py --json
    .venv/bin/python bench/pulumi_bench.py --sizes 250,500

Each spec runs in a fresh Python process (the program under `kasbah.preview`'s mocks: load + plan + render +
register every resource), so each figure's peak RSS is its own. The program also writes the phase's render into
its buildDir (a temporary directory here) unless it is there already: that write is timed on its own (write s),
before the program runs. The synthetic phases are the ones bench/plan_bench.py writes
(8-rack GB200 NVL72 pods, 370 pods at 500 MW; see bench/README.md), built in a temporary directory. The script never
fails because something is slow; it exits 1 if a program run fails, 2 on bad arguments. Target (issue 3): at most
1,500 resources and 10 s for 500 MW.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET_RESOURCES = 1500
TARGET_S = 10.0


def _peak_rss_mb() -> float:
    """VmHWM of this process (see bench/README.md for why not ru_maxrss)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(spec: str) -> dict:
    t0 = time.perf_counter()
    from kasbah import render
    from kasbah.preview import campus_outputs, preview_config, run_program
    from kasbah.pulumi_program import load_plan

    import_s = time.perf_counter() - t0
    rss_import = _peak_rss_mb()
    t1 = time.perf_counter()
    plan = load_plan(Path(spec))
    plan_s = time.perf_counter() - t1
    t2 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="kasbah-pulumi-bench-build-") as build:
        # the program writes the phase's render (buildDir) before registering: keep it out of the repository,
        # and time that write apart (the program finds it done and only checks it)
        render.write(render.render(plan), Path(build) / plan.phase)
        write_s = time.perf_counter() - t2
        t2 = time.perf_counter()
        cfg = preview_config(Path(spec), plan) | {"kasbah:buildDir": build}
        refs = {cfg[k]: campus_outputs(plan) for k in cfg if k.endswith(":campusStack")}
        result = run_program(cfg, plan.phase, root=REPO, stack_outputs=refs)
        run_s = time.perf_counter() - t2
    return {
        "phase": plan.phase,
        "pods_added": sum(1 for p in plan.pods if p.phase == plan.phase),
        "racks_added": plan.increment.racks,
        "resources": len(result.resources),
        "counts": result.counts(),
        "import_s": round(import_s, 3),
        "plan_s": round(plan_s, 3),
        "write_s": round(write_s, 3),
        "program_s": round(run_s, 3),
        "ms_per_resource": round(1000 * run_s / max(len(result.resources), 1), 2),
        "rss_after_import_mb": round(rss_import, 1),
        "peak_rss_mb": round(_peak_rss_mb(), 1),
    }


def run_child(spec: Path) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", str(spec)], capture_output=True, text=True, cwd=REPO, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"{spec}: {proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else proc.returncode}"
        )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _plan_bench():
    spec = importlib.util.spec_from_file_location("plan_bench", REPO / "bench" / "plan_bench.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="500", help="synthetic phases, MW of facility power, comma-separated")
    ap.add_argument("--json", action="store_true", help="machine-readable output")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child)))
        return 0
    try:
        sizes = sorted({float(s) for s in args.sizes.split(",") if s.strip()})
    except ValueError:
        ap.error(f"--sizes: not a list of numbers: {args.sizes!r}")
    if any(s <= 0 or s > 5000 for s in sizes):
        ap.error("--sizes: each size must be above 0 and at most 5000 MW")

    results = []
    with tempfile.TemporaryDirectory(prefix="kasbah-pulumi-bench-") as tmp:
        specs = [(f"stacks/{p}.yaml", REPO / "stacks" / f"{p}.yaml") for p in ("phase1", "phase2", "phase3")]
        for size, (path, _) in _plan_bench().write_specs(Path(tmp), sizes).items():
            specs.append((f"synthetic {size:g} MW", path))
        for label, path in specs:
            if not args.json:
                print(f"running {label} ...", file=sys.stderr)
            try:
                results.append({"spec": label, **run_child(path)})
            except RuntimeError as exc:
                print(f"pulumi_bench: {exc}", file=sys.stderr)
                return 1
    machine = {"cpus": os.cpu_count(), "python": platform.python_version()}
    if args.json:
        print(
            json.dumps(
                {
                    "target": {"resources": TARGET_RESOURCES, "seconds": TARGET_S},
                    "machine": machine,
                    "results": results,
                },
                indent=2,
            )
        )
        return 0
    head = f"{'spec':<22}{'pods+':>6}{'racks+':>8}{'resources':>10}{'plan s':>8}{'write s':>8}{'program s':>10}"
    head += f"{'ms/res':>8}"
    head += f"{'RSS MB':>8}  target"
    print(head)
    for r in results:
        ok = r["resources"] <= TARGET_RESOURCES and r["program_s"] <= TARGET_S
        print(
            f"{r['spec']:<22}{r['pods_added']:>6}{r['racks_added']:>8,}{r['resources']:>10,}{r['plan_s']:>8.2f}"
            f"{r['write_s']:>8.2f}{r['program_s']:>10.2f}{r['ms_per_resource']:>8.2f}{r['peak_rss_mb']:>8.0f}"
            f"  {'meets' if ok else 'MISSED'}"
        )
    print(
        f"write s = render + write build/<phase> once (the steps' input; done before the program, which then only "
        f"checks it); program s = render + register every resource under mocks, after imports "
        f"(~{results[0]['import_s']:.1f} s) and planning; RSS = the child's peak (VmHWM; ~"
        f"{results[0]['rss_after_import_mb']:.0f} MB after imports). "
        f"{machine['cpus']} CPUs, Python {machine['python']}."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
