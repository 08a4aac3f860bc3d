"""The lab deploys through the stacks, layered as the campus grows: `kasbah lab up stacks/phase2.yaml` builds phase
2's network, then runs phase 1's stack steps and phase 2's on top, as two `pulumi up`s would. Then phase 1's steps
run again (as after a role fix): phase 2's sessions, probes and rules are all still there; and re-running phase 2's
stack with no change runs no step."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from kasbah.lab.state import LabState
from tests.conftest import REPO, plan_of

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root (network namespaces, FRR)")

PHASE1 = REPO / "stacks" / "phase1.yaml"
PHASE2 = REPO / "stacks" / "phase2.yaml"


def _kasbah(env: dict[str, str], *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kasbah.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
        cwd=REPO,
    )


@pytest.fixture(scope="module")
def lab() -> Iterator[tuple[dict[str, str], Path, subprocess.CompletedProcess[str]]]:
    directory = Path(tempfile.mkdtemp(prefix="kasbah-layered-"))
    directory.rmdir()
    env = {**os.environ, "KASBAH_LAB_DIR": str(directory), "KASBAH_LAB_PREFIX": f"kl{os.getpid() % 10000}"}
    up = _kasbah(env, "lab", "up", str(PHASE2))
    try:
        assert up.returncode == 0, up.stdout[-4000:] + up.stderr[-4000:]
        yield env, directory, up
    finally:
        _kasbah(env, "lab", "down", timeout=300)


def _sessions(env: dict[str, str]) -> dict[tuple[str, str], tuple[str, str]]:
    status = json.loads(_kasbah(env, "lab", "status", "--json").stdout)
    return {(s["edge_router"], s["cable"]): (s["state"], s["bfd"]) for s in status["sessions"]}


def _deployed_monitoring(directory: Path) -> dict[str, str]:
    base = directory / "monitoring" / "prometheus"
    return {p.relative_to(base).as_posix(): p.read_text() for p in sorted(base.rglob("*")) if p.is_file()}


def test_up_deploys_phase1_then_phase2_through_their_stack_steps(lab: tuple) -> None:
    env, directory, up = lab
    state = LabState.load(directory)
    assert state is not None and state.deployed == ["phase1", "phase2"]
    out = up.stdout
    assert out.index("stack phase1:") < out.index("stack phase2:")
    for phase in ("phase1", "phase2"):
        run = json.loads((directory / "stacks" / f"{phase}.run.json").read_text())
        ran = [s for s in run["steps"] if s["outcome"] == "ran"]
        assert ran, run
        assert all(s["seconds"] > 0 for s in ran)
        assert any(s["outcome"] == "no-lab-host" for s in run["steps"])  # GPU pods and fabrics: no lab hosts
    plan2, _ = plan_of(PHASE2)
    assert plan2 is not None
    sessions = _sessions(env)
    expected = {(s.edge_router, s.cable) for r in plan2.edge.routers for s in r.sessions}
    assert set(sessions) == expected
    assert all(v == ("Established", "up") for v in sessions.values()), sessions
    for router in ("edge1", "edge2"):
        record = json.loads((directory / "hosts" / router / "wan_edge.json").read_text())
        assert record["phase"] == "phase2"


def test_rerunning_phase1_keeps_everything_phase2_added(lab: tuple) -> None:
    env, directory, _ = lab
    before_monitoring = _deployed_monitoring(directory)
    frr_before = {p: p.read_text() for p in sorted((directory / "frr").glob("*/etc/frr.conf"))}
    again = _kasbah(env, "lab", "deploy", str(PHASE1), "--replace", "--json")
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    run = json.loads(again.stdout)
    ran = [s["name"] for s in run["steps"] if s["outcome"] == "ran"]
    assert ran and any("monitoring" in n for n in ran)
    assert "left unchanged" in "".join(Path(s["log"]).read_text() for s in run["steps"] if s["outcome"] == "ran")
    assert {p: p.read_text() for p in frr_before} == frr_before
    assert _deployed_monitoring(directory) == before_monitoring
    assert all(v == ("Established", "up") for v in _sessions(env).values())
    for host in ("edge1", "edge2", "mon1"):
        concern = "monitoring" if host == "mon1" else "wan_edge"
        assert json.loads((directory / "hosts" / host / f"{concern}.json").read_text())["phase"] == "phase2"


def test_a_stack_with_no_change_runs_no_step(lab: tuple) -> None:
    env, _, _ = lab
    again = _kasbah(env, "lab", "deploy", str(PHASE2), "--json")
    assert again.returncode == 0, again.stderr[-3000:]
    run = json.loads(again.stdout)
    assert [s["name"] for s in run["steps"] if s["outcome"] == "ran"] == []
    assert {s["outcome"] for s in run["steps"]} <= {"unchanged", "no-lab-host"}


def test_no_secret_reaches_a_log_a_report_a_render_or_the_state(lab: tuple) -> None:
    _, directory, up = lab
    vault = json.loads((directory / "vault.json").read_text())
    assert (directory / "vault.json").stat().st_mode & 0o077 == 0
    texts = [up.stdout, up.stderr]
    for sub in ("logs", "stacks", "overlays", "build"):
        texts += [p.read_text(errors="replace") for p in (directory / sub).rglob("*") if p.is_file()]
    texts.append((directory / "state.json").read_text())
    for key, value in vault.items():
        assert not any(value in t for t in texts), f"the value of {key} leaked"


def test_three_edge_routers_keep_ibgp_when_any_interconnect_link_is_cut(lab: tuple) -> None:
    """Phase 2's full mesh of three: a cut link's iBGP session detours through the third router and never drops."""
    from kasbah.lab import interconnect
    from kasbah.plan.derive import Plan

    _, directory, _ = lab
    state = LabState.load(directory)
    assert state is not None
    plan = Plan.model_validate_json((directory / "build" / state.phase / "plan.json").read_text("utf-8"))
    assert {(i.a, i.b) for i in plan.edge.interconnects} == {("edge1", "edge2"), ("edge1", "edge3"), ("edge2", "edge3")}
    for r in interconnect.check(plan, state, say=print):
        print(
            f"interconnect {r.link} cut: OSPF down after {r.ospf_down_s} s, worst region gap {r.worst_gap_s} s, "
            f"back {r.restore_s} s after the restore"
        )
        assert r.errors == [] and r.ibgp_lost == [], r.errors
        assert r.worst_gap_s is not None and r.worst_gap_s < 1.0
