"""How findings and plans look to a person: located messages with a caret, and Rich tables.

Everything shown comes from a spec someone else may have written, so it is printed as its characters: no Rich
markup (`[red]`, `[/]` would be eaten or crash), no `:emoji:` codes, and control characters (an ESC that would
drive the terminal, a bidi override) shown as escapes. `LiteralConsole` does that for every string it is given
(tables, titles, plain prints); `styled` and `render_finding` build Text whose user parts go through `visible`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path as FsPath
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from kasbah.findings import Finding, Level
from kasbah.plan.derive import Plan
from kasbah.plan.wan import WanPath

_STYLE = {Level.ERROR: "bold red", Level.WARNING: "bold yellow", Level.INFO: "bold cyan"}
_TOKEN = re.compile(r"\"[^\"]*\"|'[^']*'|[^\s:,\]\}#]+")
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
"""Characters a terminal would act on rather than show (tab and newline are kept)."""


def visible(text: str) -> str:
    """`text` with terminal control characters written as escapes (`\\x1b`), everything else as is."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def styled(*parts: str | tuple[str, str]) -> Text:
    """Text of plain parts and (text, style) parts, each part literal: styles come from us, never from the text."""
    out = Text()
    for part in parts:
        text, style = (part, "") if isinstance(part, str) else part
        out.append(visible(text), style=style)
    return out


class LiteralConsole(Console):
    """A Rich console that prints every string literally: markup and emoji codes off, control characters shown.

    Rich turns every str it renders (print arguments, table cells, titles) into Text through `render_str`, so this
    one override covers them all, whatever a caller passes.
    """

    def __init__(self, **kw: Any) -> None:
        super().__init__(**{**kw, "markup": False, "emoji": False, "highlight": False})

    def render_str(self, text: str, **kw: Any) -> Text:
        return super().render_str(visible(text), **{**kw, "markup": False, "emoji": False, "highlight": False})


Sources = dict[str, tuple[str, ...]]
"""Lines of each file already read, for one batch of findings (see `print_findings`)."""


def _lines(file: str, cache: Sources | None = None) -> tuple[str, ...]:
    """The file's lines, read once per batch: 20,000 findings in one file must not read it 20,000 times.

    The cache lives only as long as one `print_findings` call, so a long-lived process never shows stale text.
    """
    if cache is not None and file in cache:
        return cache[file]
    try:
        lines = tuple(FsPath(file).read_text(encoding="utf-8", errors="replace").splitlines())
    except (OSError, ValueError):
        lines = ()
    if cache is not None:
        cache[file] = lines
    return lines


def source_excerpt(finding: Finding, cache: Sources | None = None) -> tuple[str, int] | None:
    """The offending source line and the caret's length, when the file and line are known."""
    if not finding.file or not finding.line:
        return None
    lines = _lines(finding.file, cache)
    if not 0 < finding.line <= len(lines):
        return None
    text = lines[finding.line - 1]
    col = max((finding.column or 1) - 1, 0)
    match = _TOKEN.match(text, col)
    return text, max(len(match.group(0)) if match else 1, 1)


def render_finding(f: Finding, cache: Sources | None = None) -> Text:
    """`error[code]: message`, `--> file:line:col (path)`, the source line with a caret, then the hint."""
    out = Text()
    out.append(f"{f.level}", style=_STYLE[f.level])
    out.append(f"[{visible(f.code)}]", style="dim")
    out.append(f": {visible(f.message)}\n")
    if f.file:
        where = f.file + (f":{f.line}" if f.line else "") + (f":{f.column}" if f.line and f.column else "")
        out.append(f"  --> {visible(where)}", style="blue")
        if f.path:
            out.append(f" ({visible(f.path)})", style="dim")
        out.append("\n")
    excerpt = source_excerpt(f, cache)
    if excerpt:
        text, width = excerpt
        gutter = " " * len(str(f.line))
        out.append(f"  {gutter} |\n", style="blue")
        out.append(f"  {f.line} | ", style="blue")
        out.append(visible(text) + "\n")
        out.append(f"  {gutter} | ", style="blue")
        shift = len(visible(text[: max((f.column or 1) - 1, 0)]))  # escapes before the column widen the line
        out.append(" " * shift + "^" * width + "\n", style=_STYLE[f.level])
    if f.hint:
        out.append("  = hint: ", style="bold")
        out.append(visible(f.hint) + "\n")
    return out


def print_findings(console: Console, findings: Iterable[Finding]) -> None:
    """Each finding once, its source file read once. Without colour (a pipe, a file) the text is written directly:
    Rich's layout costs about a millisecond per call, which is 20 s for 20,000 findings, and adds nothing there."""
    cache: Sources = {}
    direct = console.color_system is None and not console.record and not console.is_jupyter
    for f in findings:
        text = render_finding(f, cache)
        if direct:
            console.file.write(text.plain.expandtabs(console.tab_size) + "\n")
        else:
            console.print(text, soft_wrap=True)


def summary_line(findings: list[Finding]) -> str:
    counts = {lvl: sum(1 for f in findings if f.level == lvl) for lvl in Level}
    return f"{counts[Level.ERROR]} error(s), {counts[Level.WARNING]} warning(s), {counts[Level.INFO]} note(s)"


def _n(value: float | int) -> str:
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.3f}".rstrip("0").rstrip(".")


def plan_tables(plan: Plan) -> list[Table]:
    """The tables of `kasbah plan`: power, compute, fabric bill of materials, addresses, WAN."""
    tables: list[Table] = []
    p = plan.power
    power = Table(title=f"Power — phase {plan.phase} (budget counts {p.basis.replace('_', ' ')})", title_justify="left")
    for col in ("", "this phase", "campus after it"):
        power.add_column(col, justify="right" if col else "left")
    power.add_row("budget MW", _n(p.budget_mw), _n(p.cumulative_budget_mw))
    power.add_row("IT load MW", _n(p.it_load_mw), _n(p.cumulative_it_load_mw))
    power.add_row(f"facility MW (PUE {p.design_pue:g})", _n(p.facility_mw), _n(p.cumulative_facility_mw))
    power.add_row("headroom MW", _n(p.headroom_mw), "")
    power.add_row("redundancy power / cooling", f"{p.redundancy} / {p.cooling_redundancy}", "")
    e = plan.energy
    power.add_row(
        f"renewable share ({e.supplier})",
        "",
        f"{e.renewable_share:.0%} (declared {e.declared_renewable_share:.0%})",
    )
    if e.contracted_mw is not None:
        power.add_row("PPA contracted MW", "", f"{_n(e.contracted_mw)} (headroom {_n(e.contract_headroom_mw or 0)})")
    tables.append(power)

    halls = Table(title="Halls", title_justify="left")
    for col in ("hall", "built in", "cooling", "racks", "IT MW", "limit MW", "use", "max rack kW"):
        halls.add_column(col, justify="left" if col in ("hall", "built in", "cooling") else "right")
    for h in plan.halls:
        halls.add_row(
            h.id,
            h.built_in,
            h.cooling,
            _n(h.racks),
            _n(h.it_load_mw),
            _n(h.power_limit_mw),
            f"{h.utilisation:.0%}",
            _n(h.max_rack_kw),
        )
    tables.append(halls)

    compute = Table(title="Compute", title_justify="left")
    for col in ("", "this phase", "campus after it"):
        compute.add_column(col, justify="right" if col else "left")
    for key in ("pods", "racks", "units", "nodes", "gpus", "nvlink_domains", "compute_nics"):
        compute.add_row(key.replace("_", " "), _n(getattr(plan.increment, key)), _n(getattr(plan.cumulative, key)))
    tables.append(compute)

    bom = Table(title="Fabric bill of materials (per phase)", title_justify="left")
    for col in ("phase", "network", "switch", "tier", "switches", "cables down", "transceivers"):
        bom.add_column(col, justify="right" if col in ("switches", "cables down", "transceivers") else "left")
    for pf in plan.fabrics:
        for cf in pf.compute:
            label = f"compute {cf.kind} ({len(cf.domains)} domain{'s' if len(cf.domains) != 1 else ''})"
            for tier in _sum_tiers([t for d in cf.domains for t in d.tiers]):
                bom.add_row(pf.phase, label, cf.switch, *tier)
        for name, net in (("storage", pf.storage), ("oob", pf.oob)):
            if net is not None:
                for tier in _sum_tiers(net.tiers):
                    model = net.aggregation_switch if tier[0] == "spine" and net.aggregation_switch else net.switch
                    bom.add_row(pf.phase, name, model, *tier)
    tables.append(bom)

    nets = Table(title="Address space", title_justify="left")
    for col in ("network", "supernet", "allocated", "size", "use"):
        nets.add_column(col, justify="left" if col in ("network", "supernet") else "right")
    for s in plan.addresses.supernets:
        nets.add_row(s.network, s.cidr, _n(s.allocated), _n(s.size), f"{s.utilisation:.1%}")
    tables.append(nets)

    wan = Table(title="WAN paths by region (RTT floor at 4.9 µs/km; station/cable → hubs)", title_justify="left")
    for col in ("region", "preferred", "RTT ms", "diverse backup", "RTT ms ", "SLO ms", "Gb/s", "after cut", "commit"):
        wan.add_column(col, justify="left" if col in ("region", "preferred", "diverse backup") else "right")
    for r in plan.wan.regions:
        pref = r.preferred
        backup = r.diverse_pair[1] if r.diverse_pair else None
        cut = _n(r.capacity_after_worst_cut_gbps) + (f" ({r.worst_cut_cable})" if r.worst_cut_cable else "")
        wan.add_row(
            r.id,
            _route(pref),
            _n(pref.rtt_floor_ms) if pref else "-",
            _route(backup),
            _n(backup.rtt_floor_ms) if backup else "-",
            _n(r.rtt_slo_ms),
            _n(r.capacity_gbps),
            cut,
            _n(r.committed_egress_gbps),
        )
    tables.append(wan)
    return tables


def _route(path: WanPath | None) -> str:
    """`casablanca/mtwa-north → lisbon → madrid`: the station and cable, then the hubs."""
    if path is None:
        return "none"
    hubs = [h.split(":", 1)[1] for h in path.hops if h.startswith("hub:")]
    first = "/".join([*path.landing_stations[:1], *path.cables[:1]])
    return " → ".join([first, *hubs])


def _sum_tiers(tiers: Iterable) -> list[tuple[str, str, str, str]]:
    acc: dict[str, list[int]] = {}
    for t in tiers:
        row = acc.setdefault(t.name, [0, 0, 0])
        row[0] += t.switches
        row[1] += t.cables_down
        row[2] += t.transceivers_down
    return [(name, _n(v[0]), _n(v[1]), _n(v[2])) for name, v in acc.items()]
