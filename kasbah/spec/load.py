"""Load a phase spec with its campus and every earlier phase, turning validation errors into located findings.

A phase file names its campus file and the phase file it follows; the loader walks that chain back to the first
phase so cumulative planning sees everything built before. Every file is validated and every error is reported
(not just the first), each mapped to its file, line and column.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any

from pydantic import BaseModel, ValidationError

from kasbah.findings import Finding, Findings, Level, Path, SpecError, did_you_mean
from kasbah.plan.checks import campus_findings
from kasbah.spec.campus import Campus
from kasbah.spec.phase import Phase
from kasbah.yamlsource import SourceDoc, load_file

MAX_CHAIN = 64
"""More phases than any campus will build; a longer chain is a loop or a mistake."""


@dataclass
class LoadedPhase:
    doc: SourceDoc
    phase: Phase


@dataclass
class LoadedSpec:
    """A campus and its phases, earliest first; the target phase is the last one."""

    campus_doc: SourceDoc
    campus: Campus
    phases: list[LoadedPhase]
    findings: Findings = field(default_factory=Findings)

    @property
    def target(self) -> LoadedPhase:
        return self.phases[-1]


def _unwrap(annotation: Any) -> list[Any]:
    """The concrete types an annotation may hold (Annotated and Optional/Union removed)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        out: list[Any] = []
        for arg in typing.get_args(annotation):
            out.extend(_unwrap(arg))
        return out
    return [annotation]


def _model_at(model: type[BaseModel], path: Path) -> type[BaseModel] | None:
    """The model class that validates the mapping at `path`, for 'did you mean' on its keys."""
    current: list[Any] = [model]
    for part in path:
        nxt: list[Any] = []
        for ann in current:
            for t in _unwrap(ann):
                origin = typing.get_origin(t)
                if isinstance(t, type) and issubclass(t, BaseModel) and isinstance(part, str):
                    if part in t.model_fields:
                        nxt.append(t.model_fields[part].annotation)
                elif origin is list and isinstance(part, int):
                    nxt.append(typing.get_args(t)[0])
                elif origin is dict and isinstance(part, str):
                    nxt.append(typing.get_args(t)[1])
        current = nxt
    for ann in current:
        for t in _unwrap(ann):
            if isinstance(t, type) and issubclass(t, BaseModel):
                return t
    return None


def _data_path(data: Any, loc: tuple[Any, ...]) -> Path:
    """Pydantic's loc without its union and key markers: the path into the YAML data."""
    out: list[str | int] = []
    node = data
    for i, part in enumerate(loc):
        if (isinstance(node, dict) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        ):
            out.append(part)
            node = node[part]
        elif (
            i == len(loc) - 1
            and isinstance(node, dict)
            and isinstance(part, (str, int))
            and not str(part).startswith(("[", "function"))
        ):
            out.append(part)  # a missing key: point at its parent, name the key
            node = None
    return tuple(out)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def validation_findings(exc: ValidationError, doc: SourceDoc, model: type[BaseModel]) -> list[Finding]:
    """One located finding per Pydantic error, with a hint for misspelt keys and values."""
    out: list[Finding] = []
    union_paths: set[Path] = set()
    for err in exc.errors(include_url=False):
        path = _data_path(doc.data, tuple(err["loc"]))
        if len(err["loc"]) > len(path) and err["type"] not in ("extra_forbidden", "missing"):
            # one error per member of a union (a number or a list of 24): the first one says it, once
            if path in union_paths:
                continue
            union_paths.add(path)
        kind = err["type"]
        where = ".".join(str(p) for p in path) or "the top level"
        if kind == "extra_forbidden":
            key = path[-1] if path else "?"
            parent = _model_at(model, path[:-1])
            allowed = sorted(parent.model_fields) if parent else []
            hint = did_you_mean(str(key), allowed) or (f"allowed keys here: {', '.join(allowed)}" if allowed else None)
            out.append(doc.finding(Level.ERROR, "spec.unknown-key", path, f"unknown key '{key}'", hint, key=True))
        elif kind == "missing":
            key = path[-1] if path else "?"
            parent_path = path[:-1]
            parent = _model_at(model, parent_path)
            desc = parent.model_fields[key].description if parent and key in parent.model_fields else None
            hint = f"add '{key}:'" + (f" ({desc})" if desc else "")
            msg = f"missing required key '{key}'" + (f" in {'.'.join(map(str, parent_path))}" if parent_path else "")
            out.append(doc.finding(Level.ERROR, "spec.missing-key", path, msg, hint, key=True))
        else:
            hint = None
            expected = (err.get("ctx") or {}).get("expected")
            if kind == "literal_error" and isinstance(expected, str):
                choices = [c.strip().strip("'") for c in expected.replace(" or ", ",").split(",") if c.strip()]
                hint = did_you_mean(str(err.get("input")), choices) or f"use one of: {', '.join(choices)}"
            elif kind == "string_pattern_mismatch" and path and path[-1] in ("id", "sku", "switch", "name"):
                hint = "ids are lower-case letters, digits and '-' (e.g. gb200-nvl72)"
            elif kind in ("date_type", "date_from_datetime_inexact"):
                hint = "write the date unquoted as YYYY-MM-DD"
            elif kind in ("int_type", "float_type") and isinstance(err.get("input"), str):
                hint = "write the number without quotes"
            text = err["msg"].removeprefix("Value error, ")
            msg = f"{where}: {text}" if kind == "value_error" else f"{where}: {text} (got {_short(err.get('input'))})"
            out.append(doc.finding(Level.ERROR, f"spec.{kind.replace('_', '-')}", path, msg, hint))
    return out


def is_phase_doc(doc: SourceDoc) -> bool:
    """A phase names its campus; a campus does not."""
    return isinstance(doc.data, dict) and "campus" in doc.data


def load_campus(path: FsPath, display: str) -> tuple[SourceDoc, Campus | None, list[Finding]]:
    doc = load_file(path, display)
    try:
        campus = Campus.model_validate(doc.data)
    except ValidationError as exc:
        return doc, None, validation_findings(exc, doc, Campus)
    return doc, campus, campus_findings(campus, doc)


def _resolve(path: FsPath) -> FsPath:
    """path.resolve(), or the absolute path when it cannot be resolved (a symlink loop, a name too long, a NUL)."""
    try:
        return path.resolve()
    except (OSError, RuntimeError, ValueError):
        return path.absolute()


def _display(path: FsPath) -> str:
    """Paths as a person typed them: relative to the working directory when possible."""
    try:
        return str(_resolve(path).relative_to(_resolve(FsPath.cwd())))
    except ValueError:
        return str(path)


def load_spec(spec_path: str | FsPath) -> LoadedSpec:
    """Load a phase spec and its whole history. Raises SpecError when a file is unusable or has invalid fields."""
    first = FsPath(spec_path)
    findings = Findings()
    chain: list[tuple[SourceDoc, Phase | None]] = []
    campus_refs: list[tuple[SourceDoc, FsPath]] = []
    seen: set[FsPath] = set()
    current: FsPath | None = first
    referrer: tuple[SourceDoc, Path] | None = None
    while current is not None:
        resolved = _resolve(current)
        if resolved in seen:
            assert referrer is not None
            findings.add(
                referrer[0].finding(
                    Level.ERROR,
                    "phases.cycle",
                    referrer[1],
                    f"'follows' leads back to {_display(current)}",
                    "each phase follows an earlier one; the first phase has no 'follows'",
                )
            )
            break
        if len(chain) >= MAX_CHAIN:
            assert referrer is not None
            findings.add(
                referrer[0].finding(
                    Level.ERROR,
                    "phases.too-many",
                    referrer[1],
                    f"the 'follows' chain from {_display(first)} has more than {MAX_CHAIN} phases, the most Kasbah "
                    f"plans in one chain (this phase, the {MAX_CHAIN}th back, follows {_display(current)})",
                    f"start the chain at a later phase (drop 'follows' from a phase whose predecessors are all built)"
                    f" so it has at most {MAX_CHAIN} phases",
                )
            )
            break
        seen.add(resolved)
        try:
            doc = load_file(current, _display(current))
        except SpecError as exc:
            if referrer is None:
                raise
            findings.extend(exc.findings)
            findings.add(
                referrer[0].finding(
                    Level.ERROR,
                    "phases.follows-unusable",
                    referrer[1],
                    f"the phase this one follows, {_display(current)}, cannot be loaded",
                    "fix that file or correct the path (relative to this file)",
                )
            )
            break
        if not is_phase_doc(doc):
            if referrer is None:
                raise SpecError(
                    [
                        doc.finding(
                            Level.ERROR,
                            "input.not-a-phase",
                            (),
                            f"{doc.file} is not a phase spec (it has no 'campus:' key)",
                            "plan a phase file such as stacks/phase1.yaml; "
                            "`kasbah validate` also accepts the campus file",
                        )
                    ]
                )
            findings.add(
                referrer[0].finding(
                    Level.ERROR,
                    "phases.follows-not-phase",
                    referrer[1],
                    f"{doc.file} is not a phase spec",
                    "name the previous phase's file",
                )
            )
            break
        phase: Phase | None
        try:
            phase = Phase.model_validate(doc.data)
        except ValidationError as exc:
            findings.extend(validation_findings(exc, doc, Phase))
            phase = None
        chain.append((doc, phase))
        raw = doc.data
        campus_ref = raw.get("campus") if isinstance(raw.get("campus"), str) else None
        if campus_ref:
            campus_refs.append((doc, (current.parent / campus_ref)))
        follows = raw.get("follows")
        if isinstance(follows, str) and follows:
            referrer = (doc, ("follows",))
            current = current.parent / follows
        else:
            current = None
    chain.reverse()

    if not campus_refs:
        raise SpecError(
            findings.sorted()
            or [
                chain[-1][0].finding(
                    Level.ERROR, "spec.missing-key", ("campus",), "missing campus file", "add 'campus: campus.yaml'"
                )
            ]
        )
    target_doc, campus_path = campus_refs[0]
    for doc, other in campus_refs[1:]:
        if _resolve(other) != _resolve(campus_path):
            findings.add(
                doc.finding(
                    Level.ERROR,
                    "phases.other-campus",
                    ("campus",),
                    f"this phase names campus {_display(other)} but the phase it leads to names "
                    f"{_display(campus_path)}",
                    "every phase of a campus names the same campus file",
                )
            )
    try:
        campus_doc, campus, campus_findings = load_campus(campus_path, _display(campus_path))
    except SpecError as exc:
        findings.extend(exc.findings)
        findings.add(
            target_doc.finding(
                Level.ERROR,
                "phases.campus-unusable",
                ("campus",),
                f"the campus file {_display(campus_path)} cannot be loaded",
                "the path is relative to the phase file",
            )
        )
        raise SpecError(findings.sorted()) from None
    findings.extend(campus_findings)
    if campus is None or any(p is None for _, p in chain) or findings.has_errors:
        raise SpecError(findings.sorted())
    return LoadedSpec(campus_doc, campus, [LoadedPhase(d, p) for d, p in chain if p is not None], findings)
