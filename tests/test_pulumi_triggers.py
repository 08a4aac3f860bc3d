"""A step's trigger changes when and only when its own scope's inputs change (spec copies mutated in tmp_path)."""

from __future__ import annotations

from pathlib import Path

import pytest

from components.phase_deployment import step_triggers
from components.scopes import scope_files
from kasbah import render
from kasbah.plan.derive import Plan
from kasbah.spec.load import load_spec
from tests._pulumi import planned, previewed
from tests.conftest import REPO, STOCK_MONITORING, edit, plan_of


def triggers(spec: Path, root: Path | None = REPO) -> dict[str, str]:
    plan = _plan(spec)
    return step_triggers(plan, scope_files(plan, render.render_phase(load_spec(spec), plan), root))


def _plan(spec: Path) -> Plan:
    plan, findings = plan_of(spec)
    assert plan is not None, findings
    return plan


def changed(before: dict[str, str], after: dict[str, str]) -> set[str]:
    assert before.keys() == after.keys()
    return {k for k in before if before[k] != after[k]}


def test_the_program_uses_these_triggers() -> None:
    assert previewed("phase1").outputs["triggers"] == triggers(REPO / "stacks" / "phase1.yaml")
    commands = {
        r.name.removeprefix("phase2-").removesuffix("-apply"): r.inputs["triggers"]
        for r in previewed("phase2").resources
        if r.type == "command:local:Command"
    }
    expected = triggers(REPO / "stacks" / "phase2.yaml")
    expected["fabric"] = expected.pop("fabric-phase2")  # the component is `<phase>-fabric`
    assert commands == {k: [v] for k, v in expected.items()}


def test_same_spec_same_triggers_and_every_scope_distinct(stacks: Path) -> None:
    base = triggers(stacks / "phase1.yaml")
    assert base == triggers(REPO / "stacks" / "phase1.yaml")
    pods = [v for k, v in base.items() if k.startswith(("h1-", "h2-"))]
    assert len(set(pods)) == len(pods) == len(planned("phase1").pods)


@pytest.mark.parametrize("hourly", [False, True])
def test_one_pods_count_reruns_that_pod_only(stacks: Path, hourly: bool) -> None:
    if not hourly:
        text = (stacks / "campus.yaml").read_text()
        start = text.index("  hourly:\n")
        end = text.index("\nwan:\n", start) + 1
        (stacks / "campus.yaml").write_text(text[:start] + text[end:])
    before = triggers(stacks / "phase1.yaml")
    edit(
        stacks / "phase1.yaml",
        "{id: h1-su003, sku: gb200-nvl72, count: 8}",
        "{id: h1-su003, sku: gb200-nvl72, count: 7}",
    )
    diff = changed(before, triggers(stacks / "phase1.yaml"))
    # The pod, and what really depends on its size: the fabric (fewer endpoints), monitoring (fewer targets) and
    # the scheduler (fewer nodes and blocks). The edge routers filter whole supernets, so a pod's size does not
    # reach them.
    expected = {"h1-su003", "fabric-phase1", "monitoring", "slurm"}
    if hourly:
        # The campus's load shapes the power schedule that every GPU node carries (energy/power_schedule.json).
        expected |= {p.id for p in _plan(stacks / "phase1.yaml").pods}
    assert diff == expected


def test_a_peer_asn_reruns_only_the_router_carrying_that_session(stacks: Path) -> None:
    before = triggers(stacks / "phase2.yaml")
    edit(stacks / "campus.yaml", "{id: nador, peer_asn: 64604}", "{id: nador, peer_asn: 64614}")
    diff = changed(before, triggers(stacks / "phase2.yaml"))
    assert "edge3" in diff  # edge3's session to Nador (over Medusa)
    assert not {"edge1", "edge2"} & diff  # untouched routers
    assert not {k for k in diff if k.startswith(("h3-", "h4-", "h5-", "h6-", "fabric-"))}


def test_a_monitoring_threshold_reruns_monitoring_only(stacks: Path) -> None:
    before = triggers(stacks / "phase1.yaml")
    edit(stacks / "campus.yaml", STOCK_MONITORING, "monitoring: {gpu_temp_warning_c: 78}")
    assert changed(before, triggers(stacks / "phase1.yaml")) == {"monitoring"}


def test_a_role_change_reruns_the_steps_running_that_role(tmp_path: Path) -> None:
    spec = REPO / "stacks" / "phase1.yaml"
    role = tmp_path / "playbooks" / "roles" / "gpu" / "tasks"
    role.mkdir(parents=True)
    (role / "main.yml").write_text("- name: One task\n  ansible.builtin.debug: {msg: one}\n")
    before = triggers(spec, tmp_path)
    (role / "main.yml").write_text("- name: One task\n  ansible.builtin.debug: {msg: two}\n")
    diff = changed(before, triggers(spec, tmp_path))
    assert diff == {p.id for p in planned("phase1").pods}
