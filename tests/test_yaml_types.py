"""Issue 12, class 4: every rendered YAML (and JSON) value loads back as the type the plan holds.

The example campus and phase 1 are rewritten so that every id is a string YAML likes to retype (`010` octal, `0x10`,
`1e3`, `yes`/`no`/`on`/`off`, `null`, dates...). Every rendered .yml/.yaml file is then read with the loader Ansible
uses (PyYAML SafeLoader, YAML 1.1) and, side by side, with BaseLoader (every scalar a string, as written): a scalar
whose text is one of those ids must load as that string, never as a number, boolean, null or date. The files the
roles read for values (gpu/pods, frr vars, group_vars) are compared with the plan field by field; JSON outputs too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from kasbah.catalog import builtin_catalog
from kasbah.plan.derive import Plan
from kasbah.render import Files, render
from kasbah.render.escape import yaml_dump
from kasbah.yamlsource import parse_text
from tests.conftest import REPO, plan_of

TRICKY: tuple[str, ...] = (
    "010", "0x10", "0b101", "0o17", "1e3", "2026-01-01", "yes", "no", "on", "off", "y", "n", "true", "false",
    "null", "011", "0777", "0x1f", "1e5", "2e-3", "2026-01-02", "2020-12-31", "007", "0b11", "3e2", "012345",
    "0x0", "4e4", "1999-01-01", "0o7", "0b0", "1e10", "2027-03-04", "08", "09", "6e6", "0x2a", "2028-05-06",
)  # fmt: skip
"""Strings the id pattern allows that a YAML 1.1 or 1.2 reader would type as int, float, bool, null or date."""


CONSTANT_KEYS = frozenset(
    {
        "ip_protocol_fallback",
        "send_resolved",
        "kasbah_imex_static",
        "kasbah_slurm_accounting",
        "kasbah_slurm_imex_per_job",
    }
)
"""Keys whose value is a boolean the render writes itself (blackbox, Alertmanager, GPU and Slurm role values), not a
plan id."""


def _replace(node: Any, names: dict[str, str]) -> Any:
    if isinstance(node, dict):
        return {names.get(k, k) if isinstance(k, str) else k: _replace(v, names) for k, v in node.items()}
    if isinstance(node, list):
        return [_replace(v, names) for v in node]
    if isinstance(node, str):
        return names.get(node, node)
    return node


@cache
def tricky_spec(root: Path) -> tuple[Path, dict[str, str]]:
    """The example campus and phase 1 (two pods per hall) with every id renamed to a tricky string."""
    campus = yaml.safe_load((REPO / "stacks" / "campus.yaml").read_text(encoding="utf-8"))
    phase = yaml.safe_load((REPO / "stacks" / "phase1.yaml").read_text(encoding="utf-8"))
    for hall in phase["halls"]:
        hall["pods"] = hall["pods"][:2]
    wan = campus["wan"]
    ids = [campus["name"], phase["id"]]
    ids += [h["id"] for h in phase["halls"]] + [p["id"] for h in phase["halls"] for p in h["pods"]]
    ids += sorted({p["sku"] for h in phase["halls"] for p in h["pods"]})
    nets = phase["networks"]
    ids += sorted(
        {nets["compute"]["switch"], nets["storage"]["switch"], nets["oob"]["switch"], nets["oob"]["aggregation"]}
    )
    ids += [s["id"] for s in wan["landing_stations"]] + [c["id"] for c in wan["cables"]] + list(wan["hubs"])
    ids += [r["id"] for r in wan["regions"]] + sorted({u["edge_router"] for u in phase["wan_uplinks"]})
    ids = list(dict.fromkeys(ids))
    assert len(ids) <= len(TRICKY), f"{len(ids)} ids, {len(TRICKY)} tricky names"
    names = dict(zip(ids, TRICKY, strict=False))
    catalog = builtin_catalog().model_dump(mode="python")
    override: dict[str, dict[str, Any]] = {}
    for section in ("systems", "switches", "landing_stations", "hubs", "cables"):
        override[section] = {names[k]: _replace(v, names) for k, v in catalog[section].items() if k in names}
    campus = _replace(campus, names)
    campus["catalog"] = override
    phase = _replace(phase, names)
    root.mkdir(parents=True, exist_ok=True)
    (root / "campus.yaml").write_text(yaml_dump(campus), encoding="utf-8")  # PyYAML would write 1e5 plain
    (root / "phase1.yaml").write_text(yaml_dump(phase), encoding="utf-8")
    return root / "phase1.yaml", names


@pytest.fixture(scope="module")
def tricky(tmp_path_factory: pytest.TempPathFactory) -> tuple[Plan, Files, dict[str, str]]:
    spec, names = tricky_spec(tmp_path_factory.mktemp("tricky"))
    plan, findings = plan_of(spec)
    assert plan is not None, [f for f in findings if f.level.name == "ERROR"]
    return plan, render(plan), names


def _leaves(typed: Any, raw: Any, where: str) -> Iterator[tuple[str, Any, Any]]:
    """(where, value as SafeLoader typed it, text as written) for every scalar of a document, keys included."""
    if isinstance(raw, dict):
        assert isinstance(typed, dict), where
        for (tk, tv), (rk, rv) in zip(typed.items(), raw.items(), strict=True):
            yield f"{where}.{rk}(key)", tk, rk
            yield from _leaves(tv, rv, f"{where}.{rk}")
    elif isinstance(raw, list):
        assert isinstance(typed, list), where
        for i, (tv, rv) in enumerate(zip(typed, raw, strict=True)):
            yield from _leaves(tv, rv, f"{where}[{i}]")
    else:
        yield where, typed, raw


def test_every_id_is_tricky(tricky: tuple[Plan, Files, dict[str, str]]) -> None:
    plan, _, names = tricky
    assert plan.campus in TRICKY and plan.phase in TRICKY
    assert all(p.id in TRICKY and p.hall in TRICKY and p.sku in TRICKY for p in plan.pods)
    assert {s.cable for r in plan.edge.routers for s in r.sessions} <= set(TRICKY)
    # Written plain, each is retyped by the loader Ansible uses (YAML 1.1) or by a YAML 1.2 reader (Kasbah's own).
    for t in set(names.values()) - {"y", "n"}:  # YAML 1.1 booleans PyYAML leaves alone (Go's yaml.v2 does not)
        assert not isinstance(yaml.safe_load(f"k: {t}")["k"], str) or not isinstance(
            parse_text(f"k: {t}\n", "t.yaml").data["k"], str
        ), t


def test_every_rendered_yaml_value_keeps_its_type(tricky: tuple[Plan, Files, dict[str, str]]) -> None:
    _, files, names = tricky
    tricky_ids = set(names.values())
    yamls = {p: t for p, t in files.items() if p.endswith((".yml", ".yaml"))}
    assert len(yamls) > 10
    checked = 0
    for path, text in yamls.items():
        typed = yaml.safe_load(text)
        raw = yaml.load(text, Loader=yaml.BaseLoader)  # BaseLoader builds only strings, lists and dicts
        for where, value, written in _leaves(typed, raw, path):
            if written in tricky_ids and where.rsplit(".", 1)[-1] not in CONSTANT_KEYS:
                checked += 1
                assert value == written, f"{where}: {written!r} loads as {value!r}"
    assert checked > 20


def test_yaml_the_roles_read_matches_the_plan(tricky: tuple[Plan, Files, dict[str, str]]) -> None:
    plan, files, _ = tricky
    limits = {(g.phase, g.sku): g.limit_w for g in plan.gpu_power_limits}
    for pod in plan.pods:
        data = yaml.safe_load(files[f"gpu/pods/{pod.id}.yml"])
        assert data == {
            "kasbah_hall": pod.hall,
            "kasbah_pod_phase": pod.phase,
            "kasbah_sku": pod.sku,
            "kasbah_gpus_per_node": pod.gpus_per_node,
            "kasbah_gpu_power_limit_w": limits.get((pod.phase, pod.sku)),
            "kasbah_imex_static": plan.slurm is None or plan.slurm.imex != "per-job",
        }
    for router in plan.edge.routers:
        data = yaml.safe_load(files[f"frr/{router.id}.vars.yml"])
        assert data["wan_edge_password_vars"] == [s.password_var for s in router.sessions]
        assert data["wan_edge_ebgp_peers"] == [
            {"address": s.peer_address, "asn": s.peer_asn, "cable": s.cable, "landing_station": s.landing_station}
            for s in router.sessions
        ]
    edge = yaml.safe_load(files["inventory/group_vars/edge_routers.yml"])
    assert edge == {"kasbah_edge_asn": plan.edge.asn, "kasbah_edge_announce": plan.edge.announce}


def test_prometheus_labels_are_strings(tricky: tuple[Plan, Files, dict[str, str]]) -> None:
    """Rule labels and file_sd labels: Prometheus takes strings only, and the ids must arrive as written."""
    plan, files, _ = tricky
    for path, text in files.items():
        if path.startswith("monitoring/rules/"):
            for rule in yaml.safe_load(text)["groups"][0]["rules"]:
                assert all(isinstance(v, str) for v in rule.get("labels", {}).values()), (path, rule)
        elif path.startswith("monitoring/file_sd/"):
            for group in json.loads(text):
                assert all(isinstance(v, str) for v in group["labels"].values()), path
    pods = {p.id: p for p in plan.pods}
    for pod_id, pod in pods.items():
        groups = json.loads(files[f"monitoring/file_sd/{pod_id}.json"])
        assert {g["labels"]["pod"] for g in groups} == {pod_id}
        assert {g["labels"]["hall"] for g in groups} == {pod.hall}
        assert {g["labels"]["campus"] for g in groups} == {plan.campus}


def test_json_outputs_hold_the_ids_as_strings(tricky: tuple[Plan, Files, dict[str, str]]) -> None:
    plan, files, _ = tricky
    inventory = json.loads(files["inventory/inventory.json"])
    assert inventory["campus"] == plan.campus and inventory["phase"] == plan.phase
    assert {h["name"] for h in inventory["hosts"] if h["group"] == "edge_routers"} == {r.id for r in plan.edge.routers}
    assert json.loads(files["plan.json"]) == plan.model_dump(mode="json")
    for path, text in files.items():
        if path.endswith(".json"):
            json.loads(text)


@pytest.mark.parametrize("text", TRICKY)
def test_the_emitter_quotes_each_tricky_string(text: str) -> None:
    """The YAML emitter (kasbah.render.escape.yaml_dump) quotes what PyYAML would type, and what YAML 1.2 would."""
    dumped = yaml_dump({"k": text, text: [text]})
    assert yaml.safe_load(dumped) == {"k": text, text: [text]}
    assert f"k: {text}\n" not in dumped  # never plain: a YAML 1.2 reader (Go) types 1e3 as a float
