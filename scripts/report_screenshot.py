"""Remake the README's pictures of `kasbah report`: the phase 2 page opened in Debian's headless chromium.

    .venv/bin/python scripts/report_screenshot.py          # writes docs/report.png and docs/report-wan.png

The same browser and flags as tests/test_report_browser.py (playwright driving /usr/bin/chromium, a fresh profile);
the report is written by the CLI from the repository into a temporary folder. Exit 1 when the browser is missing.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from kasbah.html_report.browser import CHROMIUM_FLAGS

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
FLAGS = list(CHROMIUM_FLAGS)
SHOTS = {"report.png": ("header", "#halls"), "report-wan.png": ("#wan", None)}
"""File -> (first element, element whose end closes the picture; None: the first element alone)."""


def main() -> int:
    if not CHROMIUM.exists():
        print(f"{CHROMIUM} is not installed (apt-get install chromium)", file=sys.stderr)
        return 1
    from playwright.sync_api import sync_playwright

    docs = REPO / "docs"
    docs.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "kasbah.cli", "report", "stacks/phase2.yaml", "--out", tmp], cwd=REPO, check=True
        )
        with sync_playwright() as pw:
            ctx = pw.chromium.launch_persistent_context(
                str(Path(tmp) / "profile"),
                executable_path=str(CHROMIUM),
                headless=True,
                args=FLAGS,
                viewport={"width": 1040, "height": 900},
            )
            page = ctx.new_page()
            page.goto((Path(tmp) / "phase2.html").as_uri(), wait_until="load")
            for name, (first, last) in SHOTS.items():
                top = page.locator(first).bounding_box()
                end = page.locator(last).bounding_box() if last else top
                assert top and end
                clip = {"x": 0, "y": top["y"], "width": 1040, "height": end["y"] + end["height"] - top["y"]}
                page.screenshot(path=str(docs / name), clip=clip, full_page=True)
                print(f"wrote docs/{name} ({clip['height']:.0f} px high)")
            ctx.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
