"""Findings: what is wrong (or worth knowing) about a spec, located in the file that says it.

Library code returns findings; only the CLI prints them. A finding carries the spec path as data and the file, line
and column it resolves to, so a person can jump to the offending text.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import IntEnum

PathPart = str | int
Path = tuple[PathPart, ...]


class Level(IntEnum):
    """Ordered so that `max(levels)` is the worst one."""

    INFO = 10
    WARNING = 20
    ERROR = 30

    def __str__(self) -> str:
        return self.name.lower()


def format_path(path: Sequence[PathPart]) -> str:
    """`("halls", 2, "pods", 0, "sku")` -> `halls[2].pods[0].sku`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """A hint naming the closest valid choices, or None when nothing is close."""
    close = difflib.get_close_matches(str(word), sorted(set(choices)), n=3, cutoff=0.6)
    if not close:
        return None
    return "did you mean " + " or ".join(f"'{c}'" for c in close) + "?"


@dataclass(frozen=True, order=True)
class Finding:
    """One problem or observation, with where it is."""

    level: Level
    code: str
    path: str
    message: str
    hint: str | None = None
    file: str | None = None
    line: int | None = None  # 1-based
    column: int | None = None  # 1-based

    def as_dict(self) -> dict[str, object]:
        return {
            "level": str(self.level),
            "code": self.code,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "path": self.path,
            "message": self.message,
            "hint": self.hint,
        }


@dataclass
class Findings:
    """Collects findings, dropping exact duplicates, keeping first-seen order."""

    items: list[Finding] = field(default_factory=list)
    _seen: set[Finding] = field(default_factory=set, repr=False)

    def add(self, finding: Finding) -> None:
        if finding not in self._seen:
            self._seen.add(finding)
            self.items.append(finding)

    def extend(self, findings: Iterable[Finding]) -> None:
        for f in findings:
            self.add(f)

    def __iter__(self) -> Iterator[Finding]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    @property
    def has_errors(self) -> bool:
        return any(f.level >= Level.ERROR for f in self.items)

    def sorted(self) -> list[Finding]:
        """Stable presentation order: worst first, then by file and position."""
        return sorted(
            self.items,
            key=lambda f: (-f.level, f.file or "", f.line or 0, f.column or 0, f.code, f.path, f.message),
        )


class SpecError(Exception):
    """The spec cannot be planned: exit code 2 when a file is unusable (missing, not YAML), 1 when it is invalid."""

    def __init__(self, findings: Sequence[Finding], exit_code: int | None = None):
        super().__init__("; ".join(f.message for f in findings))
        self.findings = list(findings)
        unusable = any(f.code.startswith("input.") for f in self.findings)
        self.exit_code = exit_code if exit_code is not None else (2 if unusable or not self.findings else 1)
