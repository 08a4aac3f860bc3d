"""Small SVG and HTML helpers shared by the figures: escaping, number formats, the accessible figure wrapper, and
the phase styles (a colour and a fill pattern each, so phases stay apart in greyscale and in print)."""

from __future__ import annotations

import html

PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
"""Okabe-Ito colours: distinguishable with the common colour-vision deficiencies."""

PATTERNS = ("solid", "hatch", "dots", "cross", "hlines", "vlines", "checks", "rhatch")
"""Fill patterns, one per phase index, so a phase is told apart without its colour."""


def esc(text: object) -> str:
    """Text as it may stand in HTML/SVG content or an attribute value."""
    return html.escape(str(text), quote=True)


def num(value: float | int, digits: int = 3) -> str:
    """A plan figure as people read it: thousands separated, trailing zeros dropped, never rounded beyond `digits`."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    text = f"{value:,.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def f(value: float) -> str:
    """A coordinate: two decimals are far below a pixel, and keep the file small and stable."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def fill(index: int) -> str:
    """The fill of phase number `index` (0-based): its pattern, which carries its colour."""
    return f"url(#kb-{PATTERNS[index % len(PATTERNS)]}-{index % len(PALETTE)})"


def colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def defs(count: int) -> str:
    """One hidden SVG holding the patterns of `count` phases, referenced by every figure on the page."""
    out = []
    for i in range(max(count, 1)):
        c = colour(i)
        kind = PATTERNS[i % len(PATTERNS)]
        pid = f"kb-{kind}-{i % len(PALETTE)}"
        body = {
            "solid": f'<rect width="8" height="8" fill="{c}"/>',
            "hatch": f'<rect width="8" height="8" fill="#fff"/><path d="M-2 2l4-4M0 8l8-8M6 10l4-4" stroke="{c}" '
            'stroke-width="2.2"/>',
            "dots": f'<rect width="8" height="8" fill="#fff"/><circle cx="4" cy="4" r="2.2" fill="{c}"/>',
            "cross": f'<rect width="8" height="8" fill="#fff"/><path d="M0 4h8M4 0v8" stroke="{c}" stroke-width="2"/>',
            "hlines": f'<rect width="8" height="8" fill="#fff"/><path d="M0 2h8M0 6h8" stroke="{c}" '
            'stroke-width="1.6"/>',
            "vlines": f'<rect width="8" height="8" fill="#fff"/><path d="M2 0v8M6 0v8" stroke="{c}" '
            'stroke-width="1.6"/>',
            "checks": f'<rect width="8" height="8" fill="#fff"/><rect width="4" height="4" fill="{c}"/>'
            f'<rect x="4" y="4" width="4" height="4" fill="{c}"/>',
            "rhatch": f'<rect width="8" height="8" fill="#fff"/><path d="M-2 6l4 4M0 0l8 8M6 -2l4 4" stroke="{c}" '
            'stroke-width="2.2"/>',
        }[kind]
        out.append(f'<pattern id="{pid}" width="8" height="8" patternUnits="userSpaceOnUse">{body}</pattern>')
    return (
        '<svg class="kb-defs" width="0" height="0" aria-hidden="true" focusable="false"><defs>'
        + "".join(out)
        + '<marker id="kb-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" markerHeight="6" '
        'orient="auto-start-reverse"><path d="M0 0L10 5L0 10z" fill="#333"/></marker>'
        "</defs></svg>"
    )


def figure(fid: str, width: float, height: float, title: str, desc: str, body: str) -> str:
    """An accessible figure: role=img, a <title> and a <desc> carrying its key numbers (what a screen reader says)."""
    return (
        f'<svg id="{esc(fid)}" class="kb-fig" role="img" aria-labelledby="{esc(fid)}-t {esc(fid)}-d" '
        f'viewBox="0 0 {f(width)} {f(height)}" width="{f(width)}" height="{f(height)}" '
        'xmlns="http://www.w3.org/2000/svg" font-family="DejaVu Sans, Verdana, sans-serif" font-size="12">'
        f'<title id="{esc(fid)}-t">{esc(title)}</title><desc id="{esc(fid)}-d">{esc(desc)}</desc>{body}</svg>'
    )


def text(
    x: float,
    y: float,
    content: object,
    *,
    size: float = 12,
    anchor: str = "start",
    weight: str = "",
    cls: str = "",
    fill_: str = "#111",
    extra: str = "",
) -> str:
    """A text element; data-* attributes (in `extra`) let tests read a figure's numbers through the DOM."""
    attrs = f' x="{f(x)}" y="{f(y)}"'
    if size != 12:
        attrs += f' font-size="{f(size)}"'
    if anchor != "start":
        attrs += f' text-anchor="{anchor}"'
    if weight:
        attrs += f' font-weight="{weight}"'
    if cls:
        attrs += f' class="{cls}"'
    if fill_ != "#111":
        attrs += f' fill="{fill_}"'
    return f"<text{attrs}{extra}>{esc(content)}</text>"


def rect(
    x: float,
    y: float,
    w: float,
    h: float,
    *,
    fill_: str = "none",
    stroke: str = "#333",
    sw: float = 1,
    extra: str = "",
    tip: str = "",
) -> str:
    """A rectangle; `tip` becomes its <title> (a tooltip, and what a screen reader says for it)."""
    head = (
        f'<rect x="{f(x)}" y="{f(y)}" width="{f(max(w, 0))}" height="{f(max(h, 0))}" fill="{fill_}" '
        f'stroke="{stroke}" stroke-width="{f(sw)}"{extra}'
    )
    return f"{head}><title>{esc(tip)}</title></rect>" if tip else head + "/>"


def line(
    x1: float, y1: float, x2: float, y2: float, *, stroke: str = "#333", sw: float = 1, dash: str = "", extra: str = ""
) -> str:
    d = f' stroke-dasharray="{dash}"' if dash else ""
    return (
        f'<line x1="{f(x1)}" y1="{f(y1)}" x2="{f(x2)}" y2="{f(y2)}" stroke="{stroke}" stroke-width="{f(sw)}"{d}'
        f"{extra}/>"
    )


def data(**values: object) -> str:
    """data-* attributes carrying plan figures, for tests that check the drawing against the plan."""
    return "".join(f' data-{k.replace("_", "-")}="{esc(v)}"' for k, v in values.items())
