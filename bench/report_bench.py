"""Benchmark: `kasbah report` render time and the time a browser takes to open it, for a 500 MW phase.

    .venv/bin/python bench/report_bench.py            # table: synthetic 500 MW phase, stacks/phase1..3
    .venv/bin/python bench/report_bench.py --json     # the same figures as JSON
    .venv/bin/python bench/report_bench.py --runs 5

Specs: the synthetic single 500 MW GB200 NVL72 phase of bench/plan_bench.py (2,960 racks, 370 pods, the largest
page: one hall block and pod cell per pod), and the example stacks (phase 3 brings the campus to its 500 MW budget).

Per spec, in this process: the plan is derived once (not timed; bench/plan_bench.py times it); then
`render_page` is timed, first call (it loads and projects the coastlines, builds PROJ's transformers) and the best of
N further calls; the page is written and its size reported; then Debian's chromium (headless, fresh profile, through
playwright) opens it N times: `goto` to the `load` event, first and best, and the time to print it to PDF.
Targets: render < 2 s and open < 2 s (first call). Exit 0 when measured, whatever the times; 1 when a spec has error
findings or the browser cannot start; 2 for bad arguments. Tests do not run it.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kasbah.findings import Level  # noqa: E402
from kasbah.html_report import render_page, write_report  # noqa: E402
from kasbah.html_report.browser import CHROMIUM_FLAGS  # noqa: E402
from kasbah.plan.derive import catalog_for, derive  # noqa: E402
from kasbah.spec.load import load_spec  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
FLAGS = list(CHROMIUM_FLAGS)
TARGET_S = 2.0


def _synthetic_500(directory: Path) -> Path:
    """plan_bench's 500 MW phase, written by its own generator (one definition of the synthetic spec)."""
    spec = importlib.util.spec_from_file_location("plan_bench", REPO / "bench" / "plan_bench.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.write_specs(directory, [500.0])[500.0][0]


def measure(name: str, path: Path, out_dir: Path, runs: int, browser: Any) -> dict[str, Any]:
    loaded = load_spec(path)
    plan, findings = derive(loaded)
    errors = [f for f in findings if f.level >= Level.ERROR]
    if plan is None or errors:
        for f in errors:
            print(f"{name}: error[{f.code}] {f.message}", file=sys.stderr)
        raise SystemExit(1)
    catalog = catalog_for(loaded)
    t = time.perf_counter()
    page = render_page(plan, loaded.campus, catalog, findings, out_dir=out_dir)
    first = time.perf_counter() - t
    best = float("inf")
    for _ in range(runs):
        t = time.perf_counter()
        again = render_page(plan, loaded.campus, catalog, findings, out_dir=out_dir)
        best = min(best, time.perf_counter() - t)
        assert again == page, "same plan, same bytes"
    target = out_dir / f"{name}.html"
    write_report(target, page)
    opens: list[float] = []
    pdf_s = 0.0
    for i in range(runs + 1):
        tab = browser.new_page(viewport={"width": 1040, "height": 900})
        t = time.perf_counter()
        tab.goto(target.as_uri(), wait_until="load")
        opens.append(time.perf_counter() - t)
        if i == 0:
            t = time.perf_counter()
            tab.pdf(format="A4", landscape=True, print_background=True)
            pdf_s = time.perf_counter() - t
        tab.close()
    return {
        "spec": name,
        "racks": plan.cumulative.racks,
        "pods": plan.cumulative.pods,
        "facility_mw": plan.power.cumulative_facility_mw,
        "render_first_s": round(first, 3),
        "render_best_s": round(best, 3),
        "bytes": len(page.encode("utf-8")),
        "open_first_s": round(opens[0], 3),
        "open_best_s": round(min(opens[1:] or opens), 3),
        "pdf_s": round(pdf_s, 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--runs", type=int, default=3, help="repeat count for the best-of figures (>= 1)")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("playwright is not installed (pip install -e '.[dev]')", file=sys.stderr)
        return 1
    results = []
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        specs = [("synthetic-500mw", _synthetic_500(Path(tmp)))]
        specs += [(p, REPO / "stacks" / f"{p}.yaml") for p in ("phase1", "phase2", "phase3")]
        try:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        except Exception as exc:  # the browser is missing or cannot start: say so, no traceback
            print(f"cannot start {CHROMIUM}: {exc}", file=sys.stderr)
            return 1
        out = Path(tmp) / "out"
        for name, path in specs:
            if not args.json:
                print(f"measuring {name} ...", file=sys.stderr)
            results.append(measure(name, path, out, args.runs, browser))
        browser.close()
    if args.json:
        print(json.dumps({"target_s": TARGET_S, "runs": args.runs, "results": results}, indent=2))
        return 0
    head = (
        "spec",
        "racks",
        "pods",
        "facility MW",
        "render 1st s",
        f"best/{args.runs} s",
        "KB",
        "open 1st s",
        f"best/{args.runs} s",
        "PDF s",
    )
    print(" | ".join(head))
    print(" | ".join("---" for _ in head))
    for r in results:
        print(
            " | ".join(
                str(v)
                for v in (
                    r["spec"],
                    f"{r['racks']:,}",
                    r["pods"],
                    r["facility_mw"],
                    r["render_first_s"],
                    r["render_best_s"],
                    f"{r['bytes'] / 1024:,.0f}",
                    r["open_first_s"],
                    r["open_best_s"],
                    r["pdf_s"],
                )
            )
        )
    worst_render = max(r["render_first_s"] for r in results)
    worst_open = max(r["open_first_s"] for r in results)
    print(
        f"\ntargets (< {TARGET_S} s): render {'met' if worst_render < TARGET_S else 'MISSED'} "
        f"(worst {worst_render} s), open {'met' if worst_open < TARGET_S else 'MISSED'} (worst {worst_open} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
