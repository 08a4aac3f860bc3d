"""Benchmark: the hostile inputs of issue 12, class 6 (cost blow-ups), timed end to end through `kasbah validate`.

    .venv/bin/python bench/hostile_bench.py                  # table of every case
    .venv/bin/python bench/hostile_bench.py --json           # the same figures as JSON
    .venv/bin/python bench/hostile_bench.py --root OTHER     # time another checkout (e.g. before a change)
    .venv/bin/python bench/hostile_bench.py --cases clique   # only some cases

Cases (each written into a temporary directory from the example stacks, deterministic):

- `keys-text`, `keys-json`: stacks/phase1.yaml plus 20,000 unknown top-level keys; `kasbah validate` in text mode
  and with --json. Text mode used to read the source file once per finding to show its line.
- `clique`: stacks/campus.yaml with 45 WAN hubs (the 9 of the example plus 36 generated ones on a circle around
  Marseille) and a terrestrial link between every pair (990 links), plus a region whose one hub no link reaches:
  route enumeration used to grow as N^4 (every partial route within four hops was explored).
- `clique-1`: the same with one lit uplink, so no region has two diverse routes: the diverse-pair search compared
  every pair of the 10,000 routes it kept (7.5 min here before the change).
- `big`: a phase spec of about 7.9 MB without a single alias (one hall of ~150,000 one-rack pods, under the 8 MiB
  file limit): used to take over a minute and a gigabyte before being refused as an "alias bomb".
- `under`: the same pods up to just under the 1 MiB file limit (about 19,000 pods): the costliest file that is
  still read in full.
- `nodes`: phase1 plus a list of 250,000 zeros (0.5 MB): refused on the node count before ruamel reads it.

Every case runs in a fresh process (`python -c 'from kasbah.cli import main; main()' validate ...`) with PYTHONPATH
set to the checkout under test; the figures are the wall time, the child's CPU time and peak RSS (`wait4`: on a
shared machine CPU time is the steadier figure), its exit code and the first finding line. It never fails because
something is slow; tests do not run it.

Measured 2026-12-04 on a project machine (2 cores shared with other work, so wall times varied 2-4x with the load;
CPU seconds of the child are the steadier figure), before = commit 6f9f1b8, after = this branch:

    case       before                                        after
    keys-text  8.0 s CPU (12.6 s wall when quiet), 93 MB     4.7 s CPU, 93 MB (keys-json: 4.4 s; before 3.5 s)
    clique     1.7 s wall                                    1.5 s CPU, 67 MB (3 wan.paths-bounded warnings)
    clique-1   248 s CPU, 7 min 29 s wall                    1.4 s CPU, 61 MB
    big        53.7 s CPU, 120 s wall, 934 MB, "alias bomb"  0.6 s CPU, 52 MB, refused by its size
    under      (not run)                                     11.4 s CPU, 214 MB: parsed and planned in full
    nodes      (not run)                                     1.3 s CPU, 57 MB, refused by its node count
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
UNKNOWN_KEYS = 20_000
CLIQUE_HUBS = 45
BIG_BYTES = 7_900_000


def _copy_stacks(root: Path, dest: Path) -> None:
    for name in ("campus.yaml", "phase1.yaml"):
        shutil.copy(root / "stacks" / name, dest / name)


def make_keys(dest: Path) -> Path:
    phase = dest / "phase1.yaml"
    extra = "".join(f"unknown_{i:05d}: 1\n" for i in range(UNKNOWN_KEYS))
    phase.write_text(phase.read_text(encoding="utf-8") + extra, encoding="utf-8")
    return phase


def make_clique(dest: Path) -> Path:
    campus_file = dest / "campus.yaml"
    campus = yaml.safe_load(campus_file.read_text(encoding="utf-8"))
    wan = campus["wan"]
    hubs = list(wan["hubs"])
    catalog_hubs = {}
    for i in range(CLIQUE_HUBS - len(hubs)):
        angle = 2 * math.pi * i / (CLIQUE_HUBS - len(hubs))
        hid = f"bench-hub-{i:02d}"
        catalog_hubs[hid] = {
            "name": hid,
            "city": hid,
            "country": "FR",
            "latitude": round(43.3 + 4 * math.sin(angle), 4),
            "longitude": round(5.37 + 6 * math.cos(angle), 4),
            "source": ["[U] benchmark fixture"],
            "confidence": "low",
        }
        hubs.append(hid)
    wan["terrestrial"] = [{"a": a, "b": b} for i, a in enumerate(hubs) for b in hubs[i + 1 :]]
    island = {**catalog_hubs[hubs[-1]], "name": "bench-island", "city": "bench-island", "latitude": 40.0}
    catalog_hubs["bench-island"] = island  # a listed hub no link reaches: its region is unreachable
    wan["hubs"] = [*hubs, "bench-island"]
    wan["regions"].append(
        {"id": "island", "name": "Island", "hubs": ["bench-island"], "committed_egress_gbps": 1, "rtt_slo_ms": 100}
    )
    campus.setdefault("catalog", {}).setdefault("hubs", {}).update(catalog_hubs)
    campus_file.write_text(yaml.safe_dump(campus, sort_keys=False), encoding="utf-8")
    return dest / "phase1.yaml"


def make_big(dest: Path, target: int = BIG_BYTES) -> Path:
    phase = dest / "phase1.yaml"
    head = phase.read_text(encoding="utf-8").replace(
        "halls:\n",
        "halls:\n  - id: hbig\n    power_limit_mw: 16\n    cooling: direct_liquid\n    max_rack_kw: 140\n    pods:\n",
        1,
    )
    before, after = head.split("    pods:\n", 1)
    lines, size, i = [], len(head.encode()), 0
    while size < target:
        line = f"      - {{id: hbig-p{i:06d}, sku: gb200-nvl72, count: 1}}\n"
        lines.append(line)
        size += len(line)
        i += 1
    phase.write_text(before + "    pods:\n" + "".join(lines) + after, encoding="utf-8")
    return phase


def make_clique_one_cable(dest: Path) -> Path:
    """The clique with one lit uplink: no region has a diverse pair, so every route pair used to be compared."""
    phase = make_clique(dest)
    text = phase.read_text(encoding="utf-8")
    head, _, _ = text.partition("wan_uplinks:\n")
    phase.write_text(head + "wan_uplinks:\n  - {cable: mtwa-north, gbps: 800, edge_router: edge1}\n", encoding="utf-8")
    return phase


def make_under(dest: Path) -> Path:
    """The same pods up to just under the 1 MiB file limit: the slowest file that is still read in full."""
    return make_big(dest, 1_040_000)


def make_nodes(dest: Path) -> Path:
    """Under the file limit but 250,000 list items: refused on the node count, before ruamel reads it."""
    phase = dest / "phase1.yaml"
    phase.write_text(phase.read_text(encoding="utf-8") + "extra: [" + "0," * 250_000 + "0]\n", encoding="utf-8")
    return phase


CASES: dict[str, tuple[Callable[[Path], Path], list[str]]] = {
    "keys-text": (make_keys, []),
    "keys-json": (make_keys, ["--json"]),
    "clique": (make_clique, []),
    "clique-1": (make_clique_one_cable, []),
    "big": (make_big, []),
    "under": (make_under, []),
    "nodes": (make_nodes, []),
}


def _peak_rss_of(cmd: list[str], env: dict[str, str]) -> tuple[int, bytes, float, float, float]:
    """Run `cmd`: (exit, output, wall s, CPU s, peak RSS MB), from the child's own rusage (wait4)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, out, elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def measure(root: Path, name: str) -> dict[str, object]:
    make, flags = CASES[name]
    with tempfile.TemporaryDirectory() as tmp:
        dest = Path(tmp)
        _copy_stacks(REPO, dest)
        spec = make(dest)
        size = spec.stat().st_size
        env = {**os.environ, "PYTHONPATH": str(root), "KASBAH_WIDTH": "200", "NO_COLOR": "1"}
        cmd = [sys.executable, "-c", "from kasbah.cli import main; main()", "validate", str(spec), *flags]
        code, out, elapsed, cpu, rss = _peak_rss_of(cmd, env)
    text = out.decode("utf-8", "replace")
    first = next((line for line in text.splitlines() if line.startswith(("error", "warning"))), "")
    if flags == ["--json"]:
        try:
            findings = json.loads(text).get("findings", [])
            first = f"{len(findings):,} findings; first: {findings[0]['code']}: {findings[0]['message']}"
        except (ValueError, LookupError, AttributeError):
            first = text[:160]
    return {
        "case": name,
        "spec_bytes": size,
        "seconds": round(elapsed, 2),
        "cpu_seconds": round(cpu, 2),
        "peak_rss_mb": round(rss, 1),
        "exit": code,
        "output_bytes": len(out),
        "first": first[:200],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=REPO, help="Checkout whose kasbah package is timed.")
    parser.add_argument("--cases", default=",".join(CASES), help=f"Comma-separated, of: {', '.join(CASES)}.")
    parser.add_argument("--json", action="store_true", help="Print JSON instead of a table.")
    args = parser.parse_args()
    names = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = [c for c in names if c not in CASES]
    if unknown:
        parser.error(f"unknown case(s): {', '.join(unknown)}")
    results = []
    for name in names:
        if not args.json:
            print(f"running {name} ...", file=sys.stderr, flush=True)
        results.append(measure(args.root.resolve(), name))
    if args.json:
        print(json.dumps({"root": str(args.root), "results": results}, indent=2))
        return 0
    print(f"checkout: {args.root.resolve()}")
    print(f"{'case':<10} {'spec MB':>8} {'wall s':>8} {'CPU s':>8} {'RSS MB':>8} {'exit':>4}  first finding")
    for r in results:
        print(
            f"{r['case']:<10} {r['spec_bytes'] / 1e6:>8.2f} {r['seconds']:>8.2f} {r['cpu_seconds']:>8.2f} "
            f"{r['peak_rss_mb']:>8.1f} {r['exit']:>4}  {r['first']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
