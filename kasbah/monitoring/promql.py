"""Metric names in a PromQL expression, without a PromQL parser.

Good enough for the expressions Kasbah writes (and checked against promtool, which parses them for real): strings,
label matchers, durations and grouping clauses are removed, then every identifier that is not a function call, an
aggregation or a keyword is a metric name. Grafana variables (`$pod`, `${pod}`, `$__rate_interval`) are replaced by
plain values first.
"""

from __future__ import annotations

import re

KEYWORDS = frozenset(
    {
        "and",
        "or",
        "unless",
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "offset",
        "bool",
        "inf",
        "nan",
        "start",
        "end",
        "atan2",
    }
)
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_GRAFANA_VAR = re.compile(r"\$\{?(__\w+|\w+)(?::\w+)?\}?")
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_BRACES = re.compile(r"\{[^}]*\}")
_BRACKETS = re.compile(r"\[[^\]]*\]")
_TOKEN = re.compile(
    r"(?P<number>(?:0x[0-9a-fA-F]+|\d+(?:\.\d*)?(?:[eE][+-]?\d+)?)(?:ms|[smhdwy])*)"
    r"|(?P<ident>[A-Za-z_:][A-Za-z0-9_:]*)"
    r"|(?P<other>.)",
    re.S,
)
_LABEL_VALUES = re.compile(r"^\s*label_values\(\s*(?:(?P<metric>.+?)\s*,\s*)?(?P<label>\w+)\s*\)\s*$", re.S)


def grafana_to_promql(expr: str) -> str:
    """Replace Grafana's template variables by values PromQL accepts in their place."""

    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        return "5m" if name in ("__rate_interval", "__interval", "__range") else "x"

    return _GRAFANA_VAR.sub(sub, expr)


def metric_names(expr: str) -> set[str]:
    """The metric names `expr` selects."""
    text = _STRING.sub('""', grafana_to_promql(expr))
    text = _GROUPING.sub(" ", text)
    text = _BRACES.sub(" ", text)
    text = _BRACKETS.sub(" ", text)
    tokens = [(m.lastgroup, m.group()) for m in _TOKEN.finditer(text)]
    names: set[str] = set()
    for i, (kind, value) in enumerate(tokens):
        if kind != "ident" or value.lower() in KEYWORDS:
            continue
        rest = (v for k, v in tokens[i + 1 :] if not (k == "other" and v.isspace()))
        if next(rest, "") == "(":
            continue  # a function or an aggregation
        names.add(value)
    return names


def label_values_metric(query: str) -> str | None:
    """The metric of a Grafana `label_values(metric, label)` variable query; None when it is not one."""
    m = _LABEL_VALUES.match(query)
    if m is None:
        return None
    return m.group("metric") or ""
