"""Escaping for every language Kasbah renders into, in one place: each helper turns a value into text that the
consumer reads back as exactly that value (or, for comments, as harmless text), whatever the value holds.

Ids are held to `[a-z0-9-]` by the schema, so most of these are no-ops on them; free text (region names, notes)
can hold anything a YAML string can, including `{{ }}`, quotes, NUL and U+2028. Every renderer goes through these
helpers at each place a plan value meets a template or a structured file, so a value can never become syntax:

- Go templates (Prometheus alert annotations and alerting-rule labels, expanded at alert time): `go_template_literal`.
- PromQL string literals and regex matchers (in rules and dashboards): `promql_string`, `promql_regex`.
- YAML: `yaml_quote` for one scalar in a hand-written template, `yaml_dump` for whole documents (quotes every string
  a YAML 1.1 or 1.2 reader could take for a number, boolean, null or date), `yaml_comment` for comment text.
- JSON: `json_text` (like json.dumps, but never leaves a lone surrogate UTF-8 cannot carry).
- Jinja2 read again by Ansible (`*.conf.j2` the roles template): `jinja_literal`.
- FRR configuration lines: `frr_comment`, `frr_word`.
- INI (ansible.cfg): `ini_comment`, `ini_value`.
- Host tables (/etc/hosts, TSV): `host_field`.
- Shell: `shell_join` (shlex).
"""

from __future__ import annotations

import json
import re
import shlex
from typing import Any

import yaml

_SURROGATE = re.compile(r"[\ud800-\udfff]")
_LINE_OR_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff\ud800-\udfff]+")
_YAML_UNSAFE = re.compile(r"[\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff\ud800-\udfff]")
_ID_WORD = re.compile(r"^[A-Za-z0-9_.:/\-]+$")
_PLAIN_LABEL = re.compile(r"^[A-Za-z0-9_\-.]+$")
_RE2_META = frozenset("\\.+*?()|[]{}^$")


# -- Go: text/template and string literals ---------------------------------------------------------------------------


def go_string(value: str) -> str:
    """A Go interpreted string literal (with its quotes): Go templates and PromQL both read it back as `value`."""
    out = ['"']
    for ch in value:
        code = ord(ch)
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif 0xD800 <= code <= 0xDFFF:
            out.append("\\ufffd")  # a lone surrogate has no UTF-8 form: Go would refuse `\ud800`
        elif ch.isprintable() and ch not in "\u2028\u2029":
            out.append(ch)
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def go_template_literal(value: str) -> str:
    """Template text that a Go text/template (Prometheus annotations, alerting-rule labels) expands to `value`.

    Text without braces is already literal (only `{{` starts an action, and it cannot form across the boundary
    when the value holds no brace); anything else becomes one action printing a string constant.
    """
    if "{" not in value and "}" not in value:
        return value
    return "{{ " + go_string(value) + " }}"


# -- PromQL ----------------------------------------------------------------------------------------------------------


def promql_string(value: str) -> str:
    """A PromQL string literal (double-quoted, Go escapes) for a label matcher's value."""
    return go_string(value)


def re2_literal(value: str) -> str:
    """An RE2 pattern matching exactly `value` (Go's regexp.QuoteMeta)."""
    return "".join("\\" + ch if ch in _RE2_META else ch for ch in value)


def promql_regex(alternatives: list[str] | tuple[str, ...]) -> str:
    """A PromQL string literal for `=~` that matches exactly one of `alternatives` (Prometheus anchors it)."""
    return promql_string("|".join(re2_literal(a) for a in alternatives))


def matcher(name: str, value: str, op: str = "=") -> str:
    """`name="value"`: a PromQL or Alertmanager label matcher with an escaped value."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) or op not in ("=", "!=", "=~", "!~"):
        raise ValueError(f"not a label matcher: {name!r} {op!r}")
    return f"{name}{op}{promql_string(value)}"


# -- YAML ------------------------------------------------------------------------------------------------------------


def yaml_quote(value: object) -> str:
    """One YAML scalar for a hand-written YAML template: a double-quoted string (JSON's escapes are YAML's) that
    also escapes what YAML must not see raw (C1 controls, NEL, U+2028/9 line breaks, BOM); a lone surrogate (which
    only a YAML escape in the spec can make) becomes U+FFFD."""
    text = json.dumps(value, ensure_ascii=False)
    return _YAML_UNSAFE.sub(_yaml_escape, text)


def _yaml_escape(m: re.Match[str]) -> str:
    code = ord(m.group())
    # A lone surrogate has no UTF-8 form and Go's YAML refuses its escape: it becomes U+FFFD, as Go would decode it.
    return "\\ufffd" if 0xD800 <= code <= 0xDFFF else f"\\u{code:04x}"


def yaml_single_quote(value: str) -> str:
    """A single-quoted YAML scalar (easier to read for text full of double quotes); double-quoted instead when the
    value holds what a single-quoted scalar cannot carry literally (line breaks fold, controls are not allowed)."""
    if _YAML_UNSAFE.search(value) or _LINE_OR_CONTROL.search(value):
        return yaml_quote(value)
    return "'" + value.replace("'", "''") + "'"


_AMBIGUOUS = re.compile(
    r"""^(?:
        [-+]?[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?         # 010, 1_000, 1e3 (a YAML 1.2 float)
      | [-+]?[0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?     # 1.5, .5, 1.e3
      | [-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?  # 1:20 (YAML 1.1 base 60)
      | [-+]?0[xXoObB][0-9a-fA-F_]+                   # 0x10, 0o17, 0b101
      | [-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)     # .inf, .nan
      | [0-9]{4}-[0-9]{1,2}-[0-9]{1,2}.*             # dates and timestamps
      | (?i:y|n|yes|no|on|off|true|false|null|none|~)
      | <<|=|
    )$""",
    re.X,
)


class _Dumper(yaml.SafeDumper):
    """SafeDumper that also quotes strings a YAML 1.2 reader (Go's yaml, ruamel) would type differently."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "'" if _AMBIGUOUS.match(value) else None
    if _YAML_UNSAFE.search(value) or _LINE_OR_CONTROL.search(value):
        style = '"'
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def yaml_dump(data: Any, header: str = "") -> str:
    """A YAML document through the emitter: strings stay strings for Ansible (PyYAML, YAML 1.1) and YAML 1.2
    readers alike; keys sorted; `header` lines (comment text) go first, made safe by `yaml_comment`."""
    lines = ["---"] + [f"# {yaml_comment(line)}" for line in header.splitlines()]
    body = yaml.dump(data, Dumper=_Dumper, sort_keys=True, default_flow_style=False, width=120, allow_unicode=True)
    return "\n".join(lines) + "\n" + body


def one_line(value: str) -> str:
    """Text on one line: every run of line breaks and control characters becomes one space."""
    return _LINE_OR_CONTROL.sub(" ", value)


def yaml_comment(value: str) -> str:
    """Text safe after `# ` in YAML: one line, printable."""
    return one_line(value)


# -- JSON ------------------------------------------------------------------------------------------------------------


def json_text(data: Any, **kwargs: Any) -> str:
    """json.dumps with readable non-ASCII, but every lone surrogate escaped (UTF-8 cannot write it raw)."""
    text = json.dumps(data, ensure_ascii=False, **kwargs)
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


# -- Jinja2 read by Ansible ------------------------------------------------------------------------------------------


def jinja_literal(value: str) -> str:
    """Text that Jinja2 (Ansible's template module) renders back to `value`: every `{` is printed by an expression,
    so no `{{`, `{%` or `{#` can start in it, nor with the text around it."""
    if "{" not in value:
        return value
    return value.replace("{", "{{ '{' }}")


# -- FRR -------------------------------------------------------------------------------------------------------------


FRR_TEXT_MAX = 200
"""Characters of free text on one FRR line: vtysh refuses a line of 4,096 bytes or more, and 200 characters stay
under it even at 4 bytes each."""


def _bounded(text: str, limit: int = FRR_TEXT_MAX) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def frr_comment(value: str) -> str:
    """Text safe after `! ` in an FRR config: one line (vtysh reads line by line), short enough for vtysh."""
    return _bounded(one_line(value))


def frr_word(value: str) -> str:
    """One token of an FRR command (a name, a hostname): refused if it would split into several or end the line."""
    if not _ID_WORD.match(value):
        raise ValueError(f"{value!r} cannot be one word of an FRR command")
    return value


def frr_description(value: str) -> str:
    """FRR's `description LINE...`: the rest of the line, whitespace collapsed as FRR stores it, bounded."""
    return " ".join(_bounded(" ".join(one_line(value).split())).split())


# -- INI (ansible.cfg) -----------------------------------------------------------------------------------------------


def ini_comment(value: str) -> str:
    """Text safe after `# ` in an INI file: one line."""
    return one_line(value)


def ini_value(value: str) -> str:
    """A value configparser (as Ansible reads ansible.cfg: raw, `;` inline comments) returns unchanged."""
    if value != value.strip() or _LINE_OR_CONTROL.search(value) or re.search(r"(^|\s);", value):
        raise ValueError(f"{value!r} cannot be an ansible.cfg value")
    return value


# -- host tables and shell -------------------------------------------------------------------------------------------


def host_field(value: str) -> str:
    """One field of /etc/hosts or a TSV host table: no whitespace, no comment sign, nothing to split on."""
    if not _PLAIN_LABEL.match(value):
        raise ValueError(f"{value!r} cannot be a host table field")
    return value


def shell_join(argv: list[str]) -> str:
    """A POSIX shell command line that runs exactly `argv`."""
    return shlex.join(argv)


# -- Slurm configuration files ---------------------------------------------------------------------------------------

_SLURM_WORD = re.compile(r"^[A-Za-z0-9_.:/+\-\[\],]+$")


def slurm_word(value: object) -> str:
    """A value in slurm.conf, gres.conf, topology.conf or cgroup.conf: Slurm's parser splits on white space, reads
    `#` as a comment and `=` as the next key, and has no quoting that all its files honour, so only plain words
    (names, hostlists, numbers, paths) pass; anything else is a bug upstream (ids are schema-checked) and raises."""
    text = str(value)
    if not _SLURM_WORD.match(text):
        raise ValueError(f"{text!r} cannot be written into a Slurm configuration file as one value")
    return text


def slurm_comment(value: str) -> str:
    """Text safe after `# ` in a Slurm configuration file: one line."""
    return one_line(value)
