"""`kasbah report` opened in a real browser: Debian's chromium, headless, driven by playwright (never
`playwright install`: it points at /usr/bin/chromium).

Checked: no console message of level error or warning, no request but the file itself, every figure laid out
(non-empty boxes) with its accessible title and the plan's numbers readable through the DOM, printing to PDF gives a
page per section, and a screenshot of each section matches its golden under tests/golden/report/.

Screenshot tolerance: both images are turned to greyscale and halved (Lanczos), which is how the goldens are stored
(small files; colour is checked through the DOM, layout through the picture). A pixel differs when no pixel of the
golden within one (halved) pixel of it, in any direction, is within 40 grey levels (of 255): a section that starts
a fraction of a pixel lower anti-aliases its text differently (2 % of the findings' pixels moved by more than 40
levels when the page above grew by 20 px), and the one-pixel search absorbs that (0.05 %). A section fails when
more than 1 % of its pixels differ, or when its size changes by more than 2 % (a moved or missing block does both:
rows of halls 10 px shorter: 3 % of the section). With KASBAH_UPDATE_GOLDEN=1 a golden is rewritten only when it
fails, so re-running leaves unchanged pictures alone; look at what it wrote before committing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kasbah.html_report.browser import CHROMIUM_FLAGS
from kasbah.html_report.page import SECTIONS
from kasbah.html_report.svg import num
from kasbah.plan.derive import Plan, derive
from kasbah.spec.load import load_spec
from tests.conftest import REPO

CHROMIUM = Path(os.environ.get("KASBAH_CHROMIUM", "/usr/bin/chromium"))
"""Debian's chromium; KASBAH_CHROMIUM names another build of it (the flags below must suit it)."""
GOLDEN = REPO / "tests" / "golden" / "report"
PHASE = "phase2"
VIEWPORT = {"width": 1040, "height": 900}
FLAGS = list(CHROMIUM_FLAGS)
GREY_DELTA = 40
MAX_DIFFERING = 0.01
MAX_SIZE_CHANGE = 0.02


def launch(playwright: Any, user_data_dir: Path) -> Any:
    """Debian's chromium, headless, with a fresh profile (a persistent context so the profile folder is ours)."""
    return playwright.chromium.launch_persistent_context(
        str(user_data_dir), executable_path=str(CHROMIUM), headless=True, args=FLAGS, viewport=VIEWPORT
    )


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Plan, Path]:
    """The phase's report, written by the CLI from the repository (so findings name stacks/... as a user sees)."""
    out = tmp_path_factory.mktemp("report")
    done = subprocess.run(
        [sys.executable, "-m", "kasbah.cli", "report", f"stacks/{PHASE}.yaml", "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    plan, _ = derive(load_spec(REPO / "stacks" / f"{PHASE}.yaml"))
    assert plan is not None
    return plan, out / f"{PHASE}.html"


@pytest.fixture(scope="module")
def browser_page(report: tuple[Plan, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (.ci/setup installs it)")
    sync_api = pytest.importorskip("playwright.sync_api")
    events: dict[str, Any] = {"console": [], "requests": [], "failed": [], "errors": []}
    with sync_api.sync_playwright() as pw:
        context = launch(pw, tmp_path_factory.mktemp("chromium-profile"))
        page = context.new_page()
        page.on("console", lambda m: events["console"].append((m.type, m.text)))
        page.on("request", lambda r: events["requests"].append(r.url))
        page.on("requestfailed", lambda r: events["failed"].append(r.url))
        page.on("pageerror", lambda e: events["errors"].append(str(e)))
        page.goto(report[1].as_uri(), wait_until="load")
        events["page"] = page
        events["url"] = report[1].as_uri()
        yield events
        context.close()


def test_no_console_errors_and_no_network(browser_page: dict[str, Any]) -> None:
    assert [m for m in browser_page["console"] if m[0] in ("error", "warning")] == []
    assert browser_page["errors"] == [] and browser_page["failed"] == []
    assert browser_page["requests"] == [browser_page["url"]], "the page fetches nothing but itself"


def test_every_figure_is_laid_out_with_an_accessible_title(
    browser_page: dict[str, Any], report: tuple[Plan, Path]
) -> None:
    page = browser_page["page"]
    figs = page.eval_on_selector_all(
        "svg.kb-fig",
        """els => els.map(e => ({id: e.id, role: e.getAttribute('role'), w: e.getBoundingClientRect().width,
            h: e.getBoundingClientRect().height, title: e.querySelector(':scope > title')?.textContent || '',
            desc: e.querySelector(':scope > desc')?.textContent || '',
            named: e.getAttribute('aria-labelledby').split(' ').every(i => document.getElementById(i))}))""",
    )
    plan = report[0]
    ids = [f["id"] for f in figs]
    expected = ["fig-growth", "fig-halls", "fig-racks"]
    expected += [f"fig-fabric-{pf.phase}-{n}" for pf in plan.fabrics for n in range(len(pf.compute))]
    assert ids == [*expected, "fig-wan"]
    for f in figs:
        assert f["role"] == "img" and f["named"] and f["title"] and len(f["desc"]) > 40, f
        assert f["w"] > 300 and f["h"] > 100, f"{f['id']} is not laid out: {f['w']}x{f['h']}"
    for sid in SECTIONS:
        assert page.locator(f"section#{sid} h2").inner_text()


def test_dom_numbers_are_the_plans(browser_page: dict[str, Any], report: tuple[Plan, Path]) -> None:
    page = browser_page["page"]
    plan = report[0]
    assert page.locator("#key-cumulative-gpus b").inner_text() == num(plan.cumulative.gpus)
    assert page.locator("#key-cumulative-facility-mw b").inner_text() == num(plan.power.cumulative_facility_mw)
    for h in plan.halls:
        cell = page.locator(f'#fig-halls rect[data-hall="{h.id}"]')
        assert float(cell.get_attribute("data-it-load-mw") or "nan") == h.it_load_mw
        assert cell.bounding_box()["width"] > 20
    # Wider halls carry more IT MW: block widths follow the plan's order of loads.
    widths = {h.id: page.locator(f'#fig-halls rect[data-hall="{h.id}"]').bounding_box()["width"] for h in plan.halls}
    loads = {h.id: h.it_load_mw for h in plan.halls}
    for a in loads:
        for b in loads:
            if loads[a] < loads[b]:
                assert widths[a] < widths[b], (a, b)
            elif loads[a] == loads[b]:
                assert abs(widths[a] - widths[b]) < 1, (a, b)
    for pf in plan.fabrics:
        leaf = next(t for t in pf.compute[0].domains[0].tiers if t.name == "leaf")
        label = page.locator(f'#fig-fabric-{pf.phase}-0 text[data-tier="leaf"][data-cables-down]').text_content()
        assert label == f"{num(leaf.cables_down)} cables"
    for r in plan.wan.regions:
        assert r.preferred is not None
        texts = page.locator(f'#fig-wan text[data-region="{r.id}"][data-role="preferred"]').all_text_contents()
        assert texts == [f"{r.name} {num(r.preferred.rtt_floor_ms)} ms"]
        cell = page.locator(f'tr[data-region="{r.id}"] td[data-after-cut]').inner_text()
        assert cell == num(r.capacity_after_worst_cut_gbps)
    land = page.eval_on_selector("#fig-wan", "e => e.querySelectorAll('path')[0].getAttribute('d').length")
    assert land > 5000, "the coastline is drawn"


def test_prints_to_pdf_a_page_per_section(browser_page: dict[str, Any]) -> None:
    pdf = browser_page["page"].pdf(format="A4", landscape=True, print_background=True)
    pages = pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages")
    assert pdf.startswith(b"%PDF") and pages >= len(SECTIONS)


@pytest.mark.parametrize("section", SECTIONS)
def test_section_screenshot_matches_golden(browser_page: dict[str, Any], section: str, tmp_path: Path) -> None:
    from PIL import Image

    shot = tmp_path / f"{section}.png"
    browser_page["page"].locator(f"section#{section}").screenshot(path=str(shot), animations="disabled")
    actual = _normalise(Image.open(shot))
    golden = GOLDEN / f"{PHASE}-{section}.png"
    update = os.environ.get("KASBAH_UPDATE_GOLDEN") == "1"
    verdict = _compare(actual, Image.open(golden).convert("L")) if golden.is_file() else "no golden"
    if update and verdict:
        golden.parent.mkdir(parents=True, exist_ok=True)
        actual.save(golden, optimize=True)
        verdict = ""
    if verdict:
        actual.save(tmp_path / f"{section}-actual.png")
    assert not verdict, f"{section}: {verdict} (actual picture in {tmp_path}; KASBAH_UPDATE_GOLDEN=1 remakes it)"


def _compare(actual: Any, expected: Any) -> str:
    """Why `actual` does not match `expected`, or "" when it does (see the module's docstring for the tolerance)."""
    import numpy as np

    (aw, ah), (ew, eh) = actual.size, expected.size
    if abs(aw - ew) > MAX_SIZE_CHANGE * ew or abs(ah - eh) > MAX_SIZE_CHANGE * eh:
        return f"{aw}x{ah} against the golden's {ew}x{eh}"
    w, h = min(aw, ew), min(ah, eh)
    a = np.asarray(actual, dtype=np.int16)[:h, :w]
    padded = np.pad(np.asarray(expected, dtype=np.int16)[:h, :w], 1, mode="edge")
    nearest = np.full(a.shape, 255, dtype=np.int16)
    for dy in range(3):
        for dx in range(3):
            nearest = np.minimum(nearest, np.abs(a - padded[dy : dy + h, dx : dx + w]))
    differing = float((nearest > GREY_DELTA).mean())
    return f"{differing:.2%} of pixels differ" if differing > MAX_DIFFERING else ""


def _normalise(img: Any) -> Any:
    from PIL import Image

    grey = img.convert("L")
    return grey.resize((max(grey.width // 2, 1), max(grey.height // 2, 1)), Image.Resampling.LANCZOS)
