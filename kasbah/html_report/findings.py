"""Findings as the CLI prints them (`kasbah.report.render_finding`: message, location, source line with a caret,
hint), each location a link to the spec file, relative to the report so the page and the specs move together."""

from __future__ import annotations

import os
from pathlib import Path

from kasbah.findings import Finding, Level
from kasbah.html_report.svg import esc
from kasbah.report import Sources, render_finding, summary_line

_CLASS = {Level.ERROR: "err", Level.WARNING: "warn", Level.INFO: "info"}


def _href(file: str, out_dir: Path) -> str:
    """The spec file relative to the report's folder (file: links open the file; the line is in the text)."""
    return Path(os.path.relpath(os.path.abspath(file), os.path.abspath(out_dir))).as_posix()


def findings_section(findings: list[Finding], out_dir: Path) -> str:
    """Every finding, worst first, as the CLI's text; `file:line:col` links to the spec."""
    if not findings:
        return "<p>No findings: the spec is clean.</p>"
    cache: Sources = {}
    items = []
    for fd in findings:
        lines = render_finding(fd, cache).plain.rstrip("\n").split("\n")
        body = []
        for ln in lines:
            if fd.file and ln.startswith("  --> "):
                where = (
                    fd.file + (f":{fd.line}" if fd.line else "") + (f":{fd.column}" if fd.line and fd.column else "")
                )
                rest = ln[len("  --> ") + len(where) :]
                body.append(
                    f'  --&gt; <a href="{esc(_href(fd.file, out_dir))}" data-line="{fd.line or ""}">{esc(where)}</a>'
                    f"{esc(rest)}"
                )
            else:
                body.append(esc(ln))
        items.append(
            f'<li class="kb-finding {_CLASS[fd.level]}" data-code="{esc(fd.code)}" data-level="{fd.level}">'
            f"<pre>{chr(10).join(body)}</pre></li>"
        )
    return f'<p class="kb-summary">{esc(summary_line(findings))}</p><ol class="kb-findings">{"".join(items)}</ol>'
