"""Benchmark: load + validate + plan time and peak memory of synthetic GB200 NVL72 phases up to 500 MW.

    .venv/bin/python bench/plan_bench.py                   # table, sizes 40, 125, 250, 500 MW
    .venv/bin/python bench/plan_bench.py --json            # the same figures as JSON on stdout
    .venv/bin/python bench/plan_bench.py --sizes 40,500    # other sizes (MW of facility power)

For every size the script writes, into a temporary directory, a copy of stacks/campus.yaml and one synthetic phase
(no `follows`), then runs `kasbah.spec.load.load_spec` + `kasbah.plan.derive.derive` on it in a fresh Python
process, so each size's peak memory is its own. It refuses to report timings for a spec with error findings
(prints them, exit 1): a benchmark of an invalid spec measures the wrong code path. It never fails on a slow time.

Sizing (all deterministic, no randomness):

- budget: `size` MW of *facility* power (basis: facility), design PUE 1.10 (liquid-cooled halls reach 1.1-1.2; the
  campus design PUE stays 1.2, within the 0.3 drift the planner tolerates), other_it_mw = 2 % of the size.
- racks: as many 8-rack GB200 NVL72 scalable units (pods, as in stacks/phase1.yaml) as fit, each at NVIDIA's
  budget of 1.2 MW per SU (150 kW a rack, the catalog's budget_kw; the racks draw 120 kW):
  pods = floor((size / PUE - other_it) / (8 x 150 kW)). At 500 MW: 500 / 1.1 = 454.5 MW IT, minus 10 MW other IT
  = 444.5 MW for GPUs -> 370 pods = 2,960 racks x 150 kW = 444.0 MW -> 213,120 GPUs; facility
  (444.0 + 10) x 1.1 = 499.4 MW. That is the README's "about 3,000 NVL72 racks, 213,000 GPUs".
- halls: 40 MW of IT load each (33 pods = 39.6 MW; the last hall takes the rest), cooling and max_rack_kw copied
  from phase 1's first hall.
- networks, WAN uplinks, redundancy: copied from stacks/phase1.yaml.
- campus: stacks/campus.yaml verbatim up to 500 MW: its supernets hold 500 MW (compute_fabric /11 = 2,097,152
  addresses, 18 % of it for 370 x /22; the phase's 29,105 switch and router loopbacks take a /17 of the loopbacks'
  /14). Above 500 MW, energy.contracted_mw is raised to the size, and a supernet the planner reports exhausted is
  moved to a free block twice its size in 10.0.0.0/8; the changes are printed with the table.

Every size sits at 99-100 % of its budget, so each phase carries one expected `power.near-budget` warning.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from ipaddress import IPv4Network
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # runnable from any cwd, even without the editable install
    sys.path.insert(0, str(REPO))

DEFAULT_SIZES = (40, 125, 250, 500)
SKU = "gb200-nvl72"
RACKS_PER_POD = 8  # NVIDIA's SuperPOD scalable unit, as in stacks/phase1.yaml
PUE = 1.1
OTHER_IT_SHARE = 0.02  # other IT load (storage, CPU, network gear) as a share of the size
HALL_IT_MW = 40
READY_BY = "2030-12-31"
WARM_RUNS = 3
TARGET_MW, TARGET_S, TARGET_MB = 500, 1.0, 250
PRIVATE_10 = IPv4Network("10.0.0.0/8")


# -- spec generation -------------------------------------------------------------------------------------------------
def _flow(value: object) -> str:
    """Plain data as a YAML flow node (JSON is YAML); deterministic key order."""
    return json.dumps(value, separators=(", ", ": "))


def sizing(size_mw: float, rack_kw: float) -> dict[str, float | int]:
    """Pods, racks and power of the synthetic phase for `size_mw` of facility power (see the module docstring)."""
    other_it = round(size_mw * OTHER_IT_SHARE, 3)
    pod_kw = RACKS_PER_POD * rack_kw
    pods = math.floor((size_mw / PUE - other_it) * 1000 / pod_kw)

    def facility(n: int) -> float:  # the planner's own arithmetic: (GPU IT + other IT) x PUE against the budget
        return (n * pod_kw / 1000 + other_it) * PUE

    while pods > 0 and facility(pods) > size_mw:
        pods -= 1
    if pods < 1:
        raise SystemExit(f"plan_bench: {size_mw} MW is too small for one {RACKS_PER_POD}-rack {SKU} pod")
    pods_per_hall = math.floor(HALL_IT_MW * 1000 / pod_kw)
    return {
        "mw": size_mw,
        "pods": pods,
        "racks": pods * RACKS_PER_POD,
        "halls": math.ceil(pods / pods_per_hall),
        "pods_per_hall": pods_per_hall,
        "other_it_mw": other_it,
        "facility_mw": round(facility(pods), 3),
    }


def phase_yaml(size_mw: float, phase1: dict, rack_kw: float) -> str:
    s = sizing(size_mw, rack_kw)
    hall0 = phase1["halls"][0]
    p1power = phase1["power"]
    lines = [
        "# Synthetic benchmark phase written by bench/plan_bench.py: do not edit, it is regenerated on every run.",
        "campus: campus.yaml",
        f"id: bench-{_label(size_mw)}mw",
        f"ready_by: {READY_BY}",
        "power:",
        f"  budget_mw: {size_mw}",
        "  basis: facility",
        f"  design_pue: {PUE}",
        f"  redundancy: {_flow(p1power.get('redundancy', '2N'))}",
        f"  cooling_redundancy: {_flow(p1power.get('cooling_redundancy', 'N+1'))}",
        f"  other_it_mw: {float(s['other_it_mw'])}",
        "halls:",
    ]
    pod = 0
    for h in range(1, int(s["halls"]) + 1):
        hall_id = f"h{h:02d}"
        lines += [
            f"  - id: {hall_id}",
            f"    power_limit_mw: {HALL_IT_MW}",
            f"    cooling: {hall0['cooling']}",
            f"    max_rack_kw: {hall0['max_rack_kw']}",
            "    pods:",
        ]
        for i in range(1, int(s["pods_per_hall"]) + 1):
            if pod == s["pods"]:
                break
            pod += 1
            lines.append(f"      - {{id: {hall_id}-su{i:03d}, sku: {SKU}, count: {RACKS_PER_POD}}}")
    lines.append("networks:")
    lines += [f"  {k}: {_flow(v)}" for k, v in phase1["networks"].items()]
    lines.append("wan_uplinks:")
    lines += [f"  - {_flow(u)}" for u in phase1["wan_uplinks"]]
    return "\n".join(lines) + "\n"


def campus_yaml(size_mw: float) -> tuple[str, list[str]]:
    """stacks/campus.yaml, with the PPA's contracted capacity raised to the size if it is below it."""
    text = (REPO / "stacks" / "campus.yaml").read_text(encoding="utf-8")
    pattern = re.compile(r"^(  contracted_mw: )([0-9.]+)", re.MULTILINE)
    m = pattern.search(text)
    if m is None:
        raise SystemExit("plan_bench: stacks/campus.yaml has no energy.contracted_mw line to adjust")
    if float(m.group(2)) >= size_mw:
        return text, []
    text = pattern.sub(lambda mm: f"{mm.group(1)}{size_mw}", text, count=1)
    return text, [f"energy.contracted_mw {m.group(2)} -> {size_mw:g}"]


def _addressing(text: str) -> dict[str, tuple[int, IPv4Network]]:
    """Line index and supernet of every `addressing:` entry of the campus text."""
    lines = text.split("\n")
    start = next((i for i, line in enumerate(lines) if re.match(r"^addressing:(\s|$)", line)), len(lines))
    out: dict[str, tuple[int, IPv4Network]] = {}
    for i in range(start + 1, len(lines)):
        m = re.match(r"^  ([a-z_]+): ([0-9./]+)", lines[i])
        if m is None:
            break
        out[m.group(1)] = (i, IPv4Network(m.group(2)))
    return out


def widen_exhausted(campus: Path, phase: Path, changes: list[str]) -> None:
    """Past some size a campus supernet runs out: give each network the planner reports exhausted a supernet
    twice the size in free 10.0.0.0/8 space, deterministically, until it reports none."""
    from kasbah.findings import SpecError
    from kasbah.plan.derive import derive
    from kasbah.spec.load import load_spec

    for _ in range(16):
        try:
            _, findings = derive(load_spec(phase))
        except SpecError:
            return  # the measuring process reports these findings
        exhausted = sorted({f.path.split(".")[-1] for f in findings if f.code == "addresses.exhausted"})
        if not exhausted:
            return
        text = campus.read_text(encoding="utf-8")
        nets = _addressing(text)
        lines = text.split("\n")
        for name in exhausted:
            if name not in nets:
                return  # not a layout this script understands: the measuring process reports the finding
            line, old = nets.pop(name)
            taken = [n for _, n in nets.values()]
            free = (c for c in PRIVATE_10.subnets(new_prefix=old.prefixlen - 1) if not any(map(c.overlaps, taken)))
            new = next(free, None)
            if new is None:
                return  # nothing free: the measuring process reports the exhausted network
            lines[line] = lines[line].replace(str(old), str(new), 1)
            nets[name] = (line, new)
            changes.append(f"addressing.{name} {old} -> {new}")
        campus.write_text("\n".join(lines), encoding="utf-8")


def _label(size_mw: float) -> str:
    return f"{size_mw:g}".replace(".", "p")


def write_specs(directory: Path, sizes: list[float]) -> dict[float, tuple[Path, dict]]:
    """One campus copy and one phase per size, each size in its own subdirectory."""
    from kasbah.catalog import builtin_catalog
    from kasbah.yamlsource import load_file

    rack_kw = builtin_catalog().systems[SKU].budget_kw  # GB200 NVL72: one unit per rack, at NVIDIA's SU budget
    phase1 = load_file(REPO / "stacks" / "phase1.yaml", "stacks/phase1.yaml").data
    out: dict[float, tuple[Path, dict]] = {}
    for size in sizes:
        d = directory / f"{_label(size)}mw"
        d.mkdir()
        text, changes = campus_yaml(size)
        (d / "campus.yaml").write_text(text, encoding="utf-8")
        phase = d / "phase.yaml"
        phase.write_text(phase_yaml(size, phase1, rack_kw), encoding="utf-8")
        widen_exhausted(d / "campus.yaml", phase, changes)
        out[size] = (phase, {**sizing(size, rack_kw), "campus_changes": changes})
    return out


# -- the measured child process -------------------------------------------------------------------------------------
def _maxrss_mb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux (bytes on macOS)
    return kb / (1024 * 1024 if sys.platform == "darwin" else 1024)


def _peak_rss_mb() -> float:
    """This process's own peak RSS: VmHWM where /proc has it, else ru_maxrss.

    Linux carries ru_maxrss across fork + exec: the parent's high-water mark becomes the floor of the child's
    figure (a parent holding 300 MB spawns a 11 MB child that reports ru_maxrss 311 MB). This script's parent plans
    every size once to check its addressing, so ru_maxrss would show the parent. VmHWM belongs to the address
    space exec created, i.e. to this child alone; both are in the JSON.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return _maxrss_mb()


def child(spec: str, runs: int) -> dict:
    """Runs inside a fresh interpreter: imports, one cold run, `runs` warm runs, then one traced run."""
    t0 = time.perf_counter()
    from kasbah.findings import Level, SpecError
    from kasbah.plan.derive import derive
    from kasbah.spec.load import load_spec

    import_s = time.perf_counter() - t0
    rss_import = _peak_rss_mb()

    def once() -> tuple[float, float, object, list]:
        start = time.perf_counter()
        loaded = load_spec(spec)
        mid = time.perf_counter()
        plan, findings = derive(loaded)
        return mid - start, time.perf_counter() - mid, plan, findings

    try:
        cold_load, cold_derive, plan, findings = once()
    except SpecError as exc:
        return {"findings": [f.as_dict() for f in exc.findings], "loaded": False}
    warm = [once()[:2] for _ in range(runs)]
    best = min(warm, key=sum)
    rss, maxrss = _peak_rss_mb(), _maxrss_mb()  # before tracemalloc, which adds its own overhead

    import tracemalloc

    tracemalloc.start()
    once()
    heap_peak = tracemalloc.get_traced_memory()[1] / (1024 * 1024)
    tracemalloc.stop()

    total = plan.cumulative if plan is not None else None
    return {
        "loaded": True,
        "racks": total.racks if total else None,
        "gpus": total.gpus if total else None,
        "pods": total.pods if total else None,
        "errors": sum(f.level >= Level.ERROR for f in findings),
        "warnings": sum(f.level == Level.WARNING for f in findings),
        "notes": sum(f.level == Level.INFO for f in findings),
        "findings": [f.as_dict() for f in findings if f.level >= Level.WARNING],
        "import_s": round(import_s, 4),
        "cold_s": round(cold_load + cold_derive, 4),
        "cold_load_s": round(cold_load, 4),
        "cold_derive_s": round(cold_derive, 4),
        "warm_s": [round(sum(w), 4) for w in warm],
        "best_s": round(sum(best), 4),
        "best_load_s": round(best[0], 4),
        "best_derive_s": round(best[1], 4),
        "median_s": round(statistics.median(sum(w) for w in warm), 4),
        "rss_after_import_mb": round(rss_import, 1),
        "peak_rss_mb": round(rss, 1),
        "ru_maxrss_mb": round(maxrss, 1),
        "heap_peak_mb": round(heap_peak, 1),
    }


def run_child(spec: Path, runs: int) -> dict:
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", str(spec), "--runs", str(runs)],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"plan_bench: the measuring process for {spec} failed (exit {proc.returncode})")
    return json.loads(proc.stdout)


# -- report ----------------------------------------------------------------------------------------------------------
def _finding_text(f: dict) -> str:
    where = f"{f['file']}:{f['line']}:{f['column']}" if f.get("line") else (f.get("file") or "?")
    text = f"{f['level']}[{f['code']}]: {f['message']}\n  --> {where} ({f['path']})"
    return text + (f"\n  = hint: {f['hint']}" if f.get("hint") else "")


def meets(r: dict) -> bool:
    """The README target, judged on the cold run (what one `kasbah plan` call pays after its imports)."""
    return r["cold_s"] <= TARGET_S and r["peak_rss_mb"] <= TARGET_MB


def slopes(results: list[dict]) -> list[float | None]:
    """Marginal warm time per 1,000 racks between consecutive sizes (ms): flat when growth is linear."""
    out: list[float | None] = [None]
    for prev, cur in itertools.pairwise(results):
        d_racks = cur["racks"] - prev["racks"]
        out.append(1000 * (cur["best_s"] - prev["best_s"]) / (d_racks / 1000) if d_racks else None)
    return out


def print_table(results: list[dict], runs: int) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not console.is_terminal:  # piped or captured: do not fold the table into 80 columns
        console = Console(width=160)
    table = Table(title="kasbah load_spec + derive on synthetic GB200 NVL72 phases, one fresh process per size")
    heads = [
        "MW",
        "racks",
        "GPUs",
        "pods",
        "halls",
        "err/warn",
        "cold s",
        f"best/{runs} s",
        "= load + derive",
        "ms/1k racks",
        "marginal",
        "RSS MB",
        "heap MB",
        "target",
    ]
    for name in heads:
        table.add_column(name, justify="left" if name in ("target", "= load + derive") else "right", no_wrap=True)
    for r, slope in zip(results, slopes(results), strict=True):
        table.add_row(
            f"{r['mw']:g}",
            f"{r['racks']:,}",
            f"{r['gpus']:,}",
            f"{r['pods']:,}",
            str(r["halls"]),
            f"{r['errors']}/{r['warnings']}",
            f"{r['cold_s']:.3f}",
            f"{r['best_s']:.3f}",
            f"{r['best_load_s']:.3f} + {r['best_derive_s']:.3f}",
            f"{1000 * r['best_s'] / (r['racks'] / 1000):.1f}",
            "-" if slope is None else f"{slope:.1f}",
            f"{r['peak_rss_mb']:.0f}",
            f"{r['heap_peak_mb']:.1f}",
            "meets" if meets(r) else "MISSED",
        )
    console.print(table)
    base = results[0]
    for r in results:
        if r["campus_changes"]:
            console.print(f"campus copy for {r['mw']:g} MW: " + "; ".join(r["campus_changes"]))
    console.print(
        f"target: {TARGET_MW} MW in <= {TARGET_S:g} s and <= {TARGET_MB} MB "
        "(every size judged on its cold run and its process's peak RSS)"
    )
    console.print(
        f"cold = first load_spec + derive in the process, after imports (includes the one-off built-in catalog load); "
        f"best/{runs} = fastest of {runs} further runs, split into load_spec + derive; ms/1k racks = best / racks; "
        "marginal = extra best ms per extra 1,000 racks since the previous size (flat = linear growth). "
        f"RSS = the child's peak RSS (VmHWM; interpreter + imports alone ~{base['rss_after_import_mb']:.0f} MB), "
        "read before the tracemalloc run; heap = tracemalloc peak of one more run. "
        f"Imports ({base['import_s']:.2f} s) not counted. {os.cpu_count()} CPUs, Python {platform.python_version()}."
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)), help="MW of facility power, comma-separated")
    ap.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    ap.add_argument("--runs", type=int, default=WARM_RUNS, help=f"warm runs per size (default {WARM_RUNS}), best shown")
    ap.add_argument("--child", metavar="SPEC", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.runs < 1:
        ap.error("--runs: at least 1")

    if args.child:
        print(json.dumps(child(args.child, args.runs)))
        return 0

    try:
        sizes = [float(s) if "." in s else int(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        ap.error(f"--sizes: not a comma-separated list of numbers: {args.sizes!r}")
    sizes = sorted(set(sizes))  # each size once, smallest first (the marginal column compares neighbours)
    if not sizes or any(s <= 0 or s > 5000 for s in sizes):
        ap.error("--sizes: each size must be above 0 and at most 5000 MW")

    results: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="kasbah-bench-") as tmp:
        specs = write_specs(Path(tmp), sizes)
        for size, (spec, sized) in specs.items():
            if not args.json:
                print(f"measuring {size:g} MW ({sized['racks']:,} racks) ...", file=sys.stderr)
            r = run_child(spec, args.runs)
            if not r["loaded"] or r["errors"]:
                errors = [f for f in r["findings"] if f["level"] == "error"]
                print(f"plan_bench: the synthetic {size:g} MW phase has {len(errors)} error(s):", file=sys.stderr)
                for f in errors:
                    print(_finding_text(f), file=sys.stderr)
                return 1
            keep = ("halls", "facility_mw", "other_it_mw", "campus_changes")
            results.append({"mw": size, **{k: sized[k] for k in keep}, **r})

    if args.json:
        doc = {
            "target": {"mw": TARGET_MW, "seconds": TARGET_S, "peak_rss_mb": TARGET_MB, "judged_on": "cold_s"},
            "method": {
                "process": "one fresh interpreter per size",
                "cold_s": "first load_spec + derive after imports",
                "best_s": f"fastest of {args.runs} further runs in the same process (best_load_s + best_derive_s)",
                "marginal_ms_per_1k_racks": "extra best_s per extra 1,000 racks since the previous size",
                "peak_rss_mb": "VmHWM of the child before the tracemalloc run (ru_maxrss if no /proc)",
                "ru_maxrss_mb": "ru_maxrss of the child; on Linux includes the parent's peak (kept across exec)",
                "heap_peak_mb": "tracemalloc peak of one extra run",
            },
            "machine": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "platform": platform.platform(),
            },
            "results": [
                {**r, "marginal_ms_per_1k_racks": None if m is None else round(m, 2), "meets_target": meets(r)}
                for r, m in zip(results, slopes(results), strict=True)
            ],
        }
        print(json.dumps(doc, indent=2))
    else:
        print_table(results, args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
