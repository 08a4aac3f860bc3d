"""Measured hourly series (CSV: timestamp, MW): they win over the models. Bad rows are located findings."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import numpy as np

from kasbah.energy.year import HOURS
from kasbah.findings import Finding, Level

MAX_ERRORS = 20
"""Stop listing bad rows after this many: one mistake repeated 8,760 times is one finding's worth of news."""


def _finding(code: str, file: str, line: int | None, message: str, hint: str) -> Finding:
    return Finding(Level.ERROR, code, "", message, hint, file, line, 1 if line else None)


def read_series(path: Path, display: str, capacity_mw: float | None) -> tuple[np.ndarray | None, list[Finding]]:
    """The series as MW per hour of the year, or None and the findings that say which row is wrong and why."""
    out: list[Finding] = []
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [
            _finding(
                "energy.csv-unreadable",
                display,
                None,
                f"cannot read {display}: {exc}",
                "point csv at a UTF-8 text file, relative to the campus file",
            )
        ]
    rows = list(csv.reader(text.splitlines()))
    if not rows or [c.strip().lower() for c in rows[0]] != ["timestamp", "mw"]:
        return None, [
            _finding(
                "energy.csv-header",
                display,
                1,
                f"{display} must start with the header `timestamp,mw`",
                "one header line, then one `timestamp,mw` row per hour",
            )
        ]
    values: list[float] = []
    stamps: list[dt.datetime] = []
    for line, row in enumerate(rows[1:], start=2):
        if len(out) >= MAX_ERRORS:
            break
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != 2:
            out.append(
                _finding(
                    "energy.csv-row",
                    display,
                    line,
                    f"row has {len(row)} fields, not 2 (timestamp, mw)",
                    "write `2025-01-01T00:00:00Z,12.5`",
                )
            )
            continue
        try:
            stamp = dt.datetime.fromisoformat(row[0].strip().replace("Z", "+00:00"))
        except ValueError:
            out.append(
                _finding(
                    "energy.csv-row",
                    display,
                    line,
                    f"'{row[0].strip()}' is not an ISO 8601 timestamp",
                    "write timestamps like 2025-01-01T00:00:00Z",
                )
            )
            continue
        try:
            mw = float(row[1])
        except ValueError:
            out.append(
                _finding(
                    "energy.csv-row",
                    display,
                    line,
                    f"'{row[1].strip()}' is not a number of MW",
                    "write the hour's mean output in MW, e.g. 12.5",
                )
            )
            continue
        if not np.isfinite(mw) or mw < 0 or (capacity_mw is not None and mw > capacity_mw * 1.001):
            limit = f" or above the plant's {capacity_mw:g} MW" if capacity_mw is not None else ""
            out.append(
                _finding(
                    "energy.csv-row",
                    display,
                    line,
                    f"{mw!r} MW is negative, not finite{limit}",
                    "check the unit (MW, not kW) and the meter",
                )
            )
            continue
        if stamps and stamp <= stamps[-1]:
            out.append(
                _finding(
                    "energy.csv-row",
                    display,
                    line,
                    f"timestamp {row[0].strip()} is not after the previous row's",
                    "sort the rows by time, one per hour, no repeats",
                )
            )
            continue
        stamps.append(stamp)
        values.append(mw)
    if out:
        return None, out
    if len(values) != HOURS:
        return None, [
            _finding(
                "energy.csv-length",
                display,
                len(rows),
                f"{display} has {len(values)} hourly rows, not {HOURS}",
                "give one non-leap year of hourly values (drop 29 February)",
            )
        ]
    return np.asarray(values, dtype=float), []
