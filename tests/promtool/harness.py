"""Turn alert cases into a `promtool test rules` file whose expected labels and annotations come from the rules.

An alert's expected labels are the labels of the series that fires it plus the rule's own labels (templated ones,
such as `xid`, expanded); its expected annotations are the rule's templates expanded with those series labels and
the value, by the small Go-template subset the rules use ($labels.x, $value, printf, humanize,
humanizePercentage). promtool compares both exactly, so an alert that loses a naming label, or one that fires where
it must not, fails the test.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

_TEMPLATE = re.compile(r"\{\{\s*(.*?)\s*\}\}")


def go_value(v: float) -> str:
    """Go's %v of a float64 for the values the cases use."""
    if v == int(v) and abs(v) < 1e6:
        return str(int(v))
    return repr(v)


def humanize(v: float) -> str:
    """Prometheus's `humanize`: SI prefixes with %.4g."""
    if v == 0 or math.isinf(v) or math.isnan(v):
        return f"{v:.4g}"
    if abs(v) >= 1:
        prefix = ""
        for p in ("k", "M", "G", "T", "P", "E", "Z", "Y"):
            if abs(v) < 1000:
                break
            prefix = p
            v /= 1000
        return f"{v:.4g}{prefix}"
    prefix = ""
    for p in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if abs(v) >= 1:
            break
        prefix = p
        v *= 1000
    return f"{v:.4g}{prefix}"


def expand(template: str, labels: dict[str, str], value: float) -> str:
    def one(m: re.Match[str]) -> str:
        expr = m.group(1)
        if expr.startswith("$labels."):
            return labels.get(expr.removeprefix("$labels."), "")
        parts = [p.strip() for p in expr.split("|")]
        if parts[0] != "$value":
            raise ValueError(f"template not handled by the test harness: {expr}")
        if len(parts) == 1:
            return go_value(value)
        fn = parts[1]
        if fn.startswith("printf"):
            fmt = json.loads(fn.removeprefix("printf").strip())
            return fmt % value
        if fn == "humanize":
            return humanize(value)
        if fn == "humanizePercentage":
            return f"{value * 100:.4g}%"
        raise ValueError(f"template function not handled by the test harness: {fn}")

    return _TEMPLATE.sub(one, template)


def series(metric: str, labels: dict[str, str]) -> str:
    inner = ", ".join(f"{k}={json.dumps(v)}" for k, v in labels.items())
    return f"{metric}{{{inner}}}"


@dataclass
class Expect:
    labels: dict[str, str]
    value: float


@dataclass
class Case:
    """Series, and per evaluation time the alerts of `alertname` that must fire (an empty list: none may)."""

    alertname: str
    series: list[tuple[str, dict[str, str], str]]
    evals: list[tuple[str, list[Expect]]]
    interval: str = "1m"
    note: str = ""
    evaluation_interval: str = "1m"
    """Rule evaluation step: coarser for cases that span hours, so promtool does not step through them by minute."""

    def fires(self) -> bool:
        return any(exp for _, exp in self.evals)

    def silent(self) -> bool:
        return any(not exp for _, exp in self.evals)


@dataclass
class RuleIndex:
    """Alerting rules of the rendered files, by name."""

    alerts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @classmethod
    def load(cls, files: list[Path]) -> RuleIndex:
        idx = cls()
        for f in files:
            for group in yaml.safe_load(f.read_text())["groups"]:
                for rule in group["rules"]:
                    if "alert" in rule:
                        idx.alerts.setdefault(rule["alert"], []).append(rule)
        return idx

    def rule_for(self, alertname: str, labels: dict[str, str]) -> dict[str, Any]:
        """The rule that fires for these series labels (several rules may share a name, e.g. one per region)."""
        rules = self.alerts[alertname]
        for rule in rules:
            static = {k: v for k, v in rule.get("labels", {}).items() if "{{" not in v and k in labels}
            if all(labels.get(k) == v for k, v in static.items()):
                return rule
        raise AssertionError(f"no {alertname} rule matches {labels}")


def expected_alert(idx: RuleIndex, alertname: str, exp: Expect) -> dict[str, Any]:
    rule = idx.rule_for(alertname, exp.labels)
    labels = dict(exp.labels)
    for k, v in rule.get("labels", {}).items():
        labels[k] = expand(v, exp.labels, exp.value)
    annotations = {k: expand(v, exp.labels, exp.value) for k, v in rule.get("annotations", {}).items()}
    return {"exp_labels": labels, "exp_annotations": annotations}


def promtool_files(rule_files: list[Path], cases: list[Case]) -> dict[str, dict[str, Any]]:
    """One promtool test file per evaluation interval, keyed by that interval."""
    steps = sorted({c.evaluation_interval for c in cases})
    return {s: promtool_file(rule_files, [c for c in cases if c.evaluation_interval == s], s) for s in steps}


def promtool_file(rule_files: list[Path], cases: list[Case], evaluation_interval: str = "1m") -> dict[str, Any]:
    idx = RuleIndex.load(rule_files)
    tests = []
    for case in cases:
        tests.append(
            {
                "name": f"{case.alertname}: {case.note}" if case.note else case.alertname,
                "interval": case.interval,
                "input_series": [{"series": series(m, lab), "values": vals} for m, lab, vals in case.series],
                "alert_rule_test": [
                    {
                        "eval_time": t,
                        "alertname": case.alertname,
                        "exp_alerts": [expected_alert(idx, case.alertname, e) for e in exp],
                    }
                    for t, exp in case.evals
                ],
            }
        )
    return {"rule_files": [str(f) for f in rule_files], "evaluation_interval": evaluation_interval, "tests": tests}
