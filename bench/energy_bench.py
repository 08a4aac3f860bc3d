"""Energy model benchmark: a full year (8,760 hours) for the 500 MW campus (stacks/phase3.yaml, the whole chain).

    .venv/bin/python bench/energy_bench.py [--json] [--runs N]

Runs in a fresh Python process so the peak memory is the model's own. Figures: `cold s` the first run after the
imports (load + plan + supply + three phases' dispatch, sizing and schedule), `best s` the fastest of N more,
`model s` the energy part alone (run_model, plan given), peak RSS (VmHWM) after the imports and after the runs,
and the tracemalloc peak of one run (what the model itself allocates).
Target (issue 15): under 2 s and 200 MB. Exit 0 when measured, whatever the figures; 1 when the model fails.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SPEC = REPO / "stacks" / "phase3.yaml"

CHILD = r"""
import json, sys, time, tracemalloc
from pathlib import Path
t0 = time.perf_counter()
from kasbah.energy import model_with_findings
from kasbah.energy.model import run_model
from kasbah.plan.derive import derive
from kasbah.spec.load import load_spec
import pvlib, windpowerlib  # noqa: F401  (imports counted apart)
imports = time.perf_counter() - t0
def hwm():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None
rss_imports = hwm()
spec = Path(sys.argv[1]); runs = int(sys.argv[2])
t = time.perf_counter(); result, findings = model_with_findings(spec); cold = time.perf_counter() - t
if result is None:
    print(json.dumps({"error": [f.message for f in findings if f.level >= 30]})); sys.exit(1)
best = min(_t for _t in (
    (lambda s: (model_with_findings(spec), time.perf_counter() - s)[1])(time.perf_counter()) for _ in range(runs)))
loaded = load_spec(spec); plan, _ = derive(loaded)
model = min((lambda s: (run_model(loaded, plan), time.perf_counter() - s)[1])(time.perf_counter()) for _ in range(runs))
rss = hwm()
tracemalloc.start(); model_with_findings(spec); heap = tracemalloc.get_traced_memory()[1] / 2**20; tracemalloc.stop()
print(json.dumps({"imports_s": round(imports, 3), "cold_s": round(cold, 3), "best_s": round(best, 3),
                  "model_s": round(model, 3), "rss_after_imports_mb": round(rss_imports, 1) if rss_imports else None,
                  "peak_rss_mb": round(rss, 1) if rss else None,
                  "heap_mb": round(heap, 1), "hours": result.hours,
                  "facility_gwh": round(result.phases[-1].annual_load_mwh / 1000, 1),
                  "peak_mw": result.phases[-1].peak_load_mw, "cfe_score": result.cfe_score}))
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    if args.runs < 1:
        print("--runs must be at least 1", file=sys.stderr)
        return 2
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(SPEC), str(args.runs)], cwd=REPO, capture_output=True, text=True
    )
    if proc.returncode != 0:
        print(proc.stdout + proc.stderr, file=sys.stderr)
        return 1
    data = json.loads(proc.stdout)
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        for key, value in data.items():
            print(f"{key:>14}: {value}")
        print("target: cold_s < 2 and peak_rss_mb < 200")
    return 0


if __name__ == "__main__":
    sys.exit(main())
