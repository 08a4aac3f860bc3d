"""YAML files as plain data plus the line and column of every node.

ruamel.yaml's round-trip loader keeps positions; we copy the tree into plain dicts, lists and scalars (what Pydantic
validates) and keep a map from spec path to position, so any finding can point at the offending text. Anything that
makes a file unusable (unreadable, not UTF-8, not YAML, duplicate keys, an alias bomb) raises `SpecError` with a
located finding instead of a traceback.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any

import yaml as pyyaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import ConstructorError, DuplicateKeyError, RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from kasbah.findings import Finding, Level, Path, SpecError, format_path

MAX_BYTES = 1024 * 1024
"""A spec file is at most 1 MiB. The example phases are 3-11 KB and a 500 MW phase of one line per 8-rack pod about
25 KB, so this is 40 times any real spec; ruamel's pure-Python reader takes about 10 s per MB, so the limit also
bounds the time a file can cost before it is refused."""

MAX_NODES = 200_000
"""Upper bound on YAML nodes, as written and after alias expansion: counted on libyaml's events before ruamel builds
anything, so a huge file and a 'billion laughs' document are both refused in time linear in their text."""

MAX_FLOW_DEPTH = 100
"""Upper bound on nested [ and { brackets: ruamel's scanner is quadratic in flow depth, so refuse before parsing."""

_BRACKET = re.compile(r"[\[\]{}]")


class _RecursiveAlias(MarkedYAMLError):
    pass


_BAD_SCALAR = (ArithmeticError, LookupError, TypeError, ValueError)
"""What ruamel lets out of some scalar constructors instead of a YAMLError: `!!int x`, `2025-02-30`, `!!bool maybe`."""


class _Constructor(RoundTripConstructor):
    """ruamel's round-trip constructor, refusing what it would get wrong or crash on, at the node's position.

    It silently turns an alias to a node still being built into None, and raises Python's own errors for some
    scalars that match a tag but do not make a value.
    """

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        if node not in self.constructed_objects and node in self.recursive_objects:
            raise _RecursiveAlias(problem="recursive alias", problem_mark=node.start_mark)
        try:
            return super().construct_object(node, deep=deep)
        except _BAD_SCALAR as exc:
            tag = str(node.tag).replace("tag:yaml.org,2002:", "!!")
            what = f"{node.value!r} as {tag}" if isinstance(node.value, str) else f"a {tag} node"
            raise ConstructorError(None, None, f"cannot read {what} ({exc})", node.start_mark) from None


@dataclass
class SourceDoc:
    """One loaded YAML file: its plain data and where each node sits in the text."""

    file: str
    text: str
    data: Any
    value_pos: dict[Path, tuple[int, int]] = field(default_factory=dict)
    key_pos: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def locate(self, path: Path, *, key: bool = False) -> tuple[int | None, int | None]:
        """1-based (line, column) of the node at `path`, or of its nearest located ancestor."""
        p = tuple(path)
        while True:
            if key and p in self.key_pos:
                return self.key_pos[p]
            if p in self.value_pos:
                return self.value_pos[p]
            if p in self.key_pos:
                return self.key_pos[p]
            if not p:
                return (None, None)
            p = p[:-1]

    def finding(
        self,
        level: Level,
        code: str,
        path: Path,
        message: str,
        hint: str | None = None,
        *,
        key: bool = False,
    ) -> Finding:
        line, col = self.locate(path, key=key)
        return Finding(level, code, format_path(path), message, hint, self.file, line, col)


def _unusable(file: str, message: str, hint: str | None = None, line: int | None = None, col: int | None = None):
    return SpecError([Finding(Level.ERROR, "input.unusable", "", message, hint, file, line, col)])


def _mark_position(exc: MarkedYAMLError) -> tuple[int | None, int | None]:
    mark = exc.problem_mark or exc.context_mark
    if mark is None:
        return (None, None)
    return (mark.line + 1, mark.column + 1)


def _flow_too_deep(text: str) -> tuple[int, int] | None:
    """(line, column) of the first bracket nested deeper than MAX_FLOW_DEPTH, or None."""
    if text.count("[") + text.count("{") <= MAX_FLOW_DEPTH:
        return None
    depth = 0
    for m in _BRACKET.finditer(text):
        depth = depth + 1 if m.group() in "[{" else max(depth - 1, 0)
        if depth > MAX_FLOW_DEPTH:
            start = m.start()
            return (text.count("\n", 0, start) + 1, start - text.rfind("\n", 0, start))
    return None


@dataclass
class _Count:
    """What `_count_nodes` found: nodes as written, once aliases are expanded, and where a limit was crossed."""

    written: int = 0
    expanded: int = 0
    aliases: int = 0
    at: tuple[int, int] | None = None  # 1-based line and column of the node that crossed MAX_NODES


def _count_nodes(text: str) -> _Count | None:
    """Count the nodes of `text` with libyaml's C event parser, stopping at MAX_NODES; None if libyaml cannot read it.

    One pass over the events, so linear in the text, and nothing is built: an anchor's expanded size is summed when
    its node ends and an alias adds that size. Only a count: ruamel still parses a file that passes, and reports any
    syntax error (libyaml failing here just skips the count: ruamel's message is the one users see).
    """
    loader = getattr(pyyaml, "CSafeLoader", pyyaml.SafeLoader)
    count = _Count()
    sizes: dict[str, int] = {}
    frames: list[list[Any]] = []  # [anchor, expanded size so far] of each open collection
    try:
        for event in pyyaml.parse(text, Loader=loader):
            if isinstance(event, pyyaml.CollectionEndEvent):
                anchor, size = frames.pop()
                if anchor:
                    sizes[anchor] = size
                if frames:
                    frames[-1][1] += size
                continue
            if isinstance(event, pyyaml.AliasEvent):
                count.aliases += 1
                size = sizes.get(event.anchor or "", 1)  # an open or unknown anchor: ruamel refuses it later
            elif isinstance(event, (pyyaml.ScalarEvent, pyyaml.CollectionStartEvent)):
                count.written += 1
                size = 1
            else:
                continue
            count.expanded += size
            if isinstance(event, pyyaml.CollectionStartEvent):
                frames.append([event.anchor, 1])  # itself; added to its parent when it ends
            else:
                if isinstance(event, pyyaml.ScalarEvent) and event.anchor:
                    sizes[event.anchor] = 1
                if frames:
                    frames[-1][1] += size
            if max(count.written, count.expanded) > MAX_NODES:
                mark = event.start_mark
                count.at = (mark.line + 1, mark.column + 1)
                return count
    except (pyyaml.YAMLError, RecursionError, MemoryError):
        return None
    return count


def _expanded_size(node: Any, memo: dict[int, int], active: set[int]) -> int:
    """Node count once aliases are expanded, computed without expanding them."""
    if not isinstance(node, (dict, list)):
        return 1
    ident = id(node)
    if ident in memo:
        return memo[ident]
    if ident in active:
        raise ValueError("recursive alias")
    active.add(ident)
    total = 1
    children = node.values() if isinstance(node, dict) else node
    for child in children:
        total += _expanded_size(child, memo, active)
        if total > MAX_NODES:
            break
    active.discard(ident)
    memo[ident] = total
    return total


def _plain_scalar(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if type(value).__name__ == "ScalarBoolean":
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, dt.datetime):
        return dt.datetime(*value.timetuple()[:6])
    return value


def _to_plain(node: Any, path: Path, doc: SourceDoc) -> Any:
    if isinstance(node, CommentedMap):
        out: dict[Any, Any] = {}
        for k, v in node.items():
            key = _plain_scalar(k) if not isinstance(k, (dict, list)) else str(k)
            child: Path = (*path, key if isinstance(key, str) else str(key))
            try:
                kl, kc = node.lc.key(k)
                doc.key_pos[child] = (kl + 1, kc + 1)
                vl, vc = node.lc.value(k)
                doc.value_pos[child] = (vl + 1, vc + 1)
            except (KeyError, TypeError, AttributeError):
                pass
            out[key] = _to_plain(v, child, doc)
        return out
    if isinstance(node, CommentedSeq):
        items = []
        for i, v in enumerate(node):
            child = (*path, i)
            try:
                il, ic = node.lc.item(i)
                doc.value_pos[child] = (il + 1, ic + 1)
            except (KeyError, TypeError, AttributeError):
                pass
            items.append(_to_plain(v, child, doc))
        return items
    if isinstance(node, dict):
        return {str(k): _to_plain(v, (*path, str(k)), doc) for k, v in node.items()}
    if isinstance(node, list):
        return [_to_plain(v, (*path, i), doc) for i, v in enumerate(node)]
    return _plain_scalar(node)


def parse_text(text: str, file: str) -> SourceDoc:
    """Parse YAML text into a SourceDoc; raise SpecError for anything that is not a usable YAML mapping."""
    deep = _flow_too_deep(text)
    if deep:
        raise _unusable(file, "the YAML is nested too deeply to be a spec", "flatten the structure", *deep)
    count = _count_nodes(text)
    if count is not None and count.at is not None:
        if count.written > MAX_NODES:
            raise _unusable(
                file,
                f"the YAML has more than {MAX_NODES:,} nodes (keys, values and list items); a spec has far fewer",
                "is this the right file? split generated data out of the spec",
                *count.at,
            )
        raise _unusable(
            file,
            f"the YAML expands to more than {MAX_NODES:,} nodes through anchors and aliases "
            f"({count.aliases:,} aliases in {count.written:,} written nodes)",
            "this looks like an alias bomb; write the values out or use fewer nested aliases",
            *count.at,
        )
    yaml = YAML(typ="rt")
    yaml.Constructor = _Constructor
    yaml.allow_duplicate_keys = False
    try:
        raw = yaml.load(text)
    except DuplicateKeyError as exc:
        line, col = _mark_position(exc)
        raise _unusable(
            file,
            f"duplicate key: {exc.problem}".rstrip(),
            "each key may appear once in a mapping; merge the two entries or rename one",
            line,
            col,
        ) from None
    except _RecursiveAlias as exc:
        line, col = _mark_position(exc)
        raise _unusable(
            file, "the YAML contains a recursive alias", "an anchor cannot contain its own alias", line, col
        ) from None
    except MarkedYAMLError as exc:
        line, col = _mark_position(exc)
        what = " ".join(x for x in (exc.context, exc.problem) if x) or "malformed YAML"
        raise _unusable(file, f"not valid YAML: {what}", "check indentation, quoting and brackets", line, col) from None
    except YAMLError as exc:
        raise _unusable(file, f"not valid YAML: {exc}".splitlines()[0], "the file must be UTF-8 YAML text") from None
    except _BAD_SCALAR as exc:  # raised outside any one node's construction
        raise _unusable(file, f"not valid YAML: {exc}", "check the values' syntax") from None
    except RecursionError:
        raise _unusable(file, "the YAML is nested too deeply to be a spec", "flatten the structure") from None
    doc = SourceDoc(file=file, text=text, data=None)
    if raw is None:
        raise _unusable(file, "the file is empty", "a spec is a YAML mapping; see stacks/ for examples")
    try:
        size = _expanded_size(raw, {}, set())
    except ValueError:
        raise _unusable(file, "the YAML contains a recursive alias", "an anchor cannot contain its own alias") from None
    except RecursionError:
        raise _unusable(file, "the YAML is nested too deeply to be a spec", "flatten the structure") from None
    if size > MAX_NODES:
        raise _unusable(
            file,
            f"the YAML expands to more than {MAX_NODES:,} nodes through anchors and aliases",
            "this looks like an alias bomb; write the values out or use fewer nested aliases",
        )
    try:
        doc.data = _to_plain(raw, (), doc)
    except RecursionError:
        raise _unusable(file, "the YAML is nested too deeply to be a spec", "flatten the structure") from None
    if not isinstance(doc.data, dict):
        raise _unusable(
            file,
            f"the top level must be a mapping of keys to values, not {type(doc.data).__name__}",
            "start the file with 'key: value' lines; see stacks/ for examples",
            1,
            1,
        )
    return doc


def load_file(path: str | FsPath, display: str | None = None) -> SourceDoc:
    """Read and parse one spec file; every failure is a SpecError naming the file."""
    p = FsPath(path)
    name = display or str(path)
    try:
        exists = p.exists()
    except (OSError, ValueError) as exc:  # a name too long, a NUL byte in it
        raise _unusable(
            name, f"cannot read {name}: {getattr(exc, 'strerror', None) or exc}", "check the path"
        ) from None
    if not exists:
        raise _unusable(name, f"no such file: {name}", "check the path; specs live in stacks/")
    if p.is_dir():
        raise _unusable(name, f"{name} is a directory, not a spec file", "name a .yaml file inside it")
    if not p.is_file():  # a FIFO would block and /dev/zero never ends: read regular files only
        raise _unusable(name, f"{name} is not a regular file", "name a YAML spec file")
    try:
        size = p.stat().st_size
        if size > MAX_BYTES:
            raise _unusable(
                name, f"{name} is {size:,} bytes; a spec is at most {MAX_BYTES:,}", "is this the right file?"
            )
        data = p.read_bytes()
    except PermissionError:
        raise _unusable(name, f"cannot read {name}: permission denied", "check the file's permissions") from None
    except OSError as exc:
        raise _unusable(name, f"cannot read {name}: {exc.strerror or exc}", "check the path") from None
    if b"\x00" in data:
        raise _unusable(name, f"{name} is binary, not YAML text", "name the YAML spec file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        body = data.removeprefix(b"\xef\xbb\xbf")  # utf-8-sig counts from after the BOM
        line = body[: exc.start].count(b"\n") + 1
        col = len(body[body.rfind(b"\n", 0, exc.start) + 1 : exc.start].decode("utf-8", "replace")) + 1
        raise _unusable(
            name, f"{name} is not UTF-8 text (byte {exc.start})", "save the file as UTF-8", line, col
        ) from None
    return parse_text(text, name)
