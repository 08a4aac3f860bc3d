"""Slurm 24.11 for real: the render of a lab-size phase run by slurmctld and 36 slurmd, jobs placed and read back.

What is checked is where jobs land, read from `squeue -o %N` and `scontrol show job` (expanded by `scontrol show
hostnames`) and compared with the plan's blocks, never the configuration read back. Needs root (namespaces, chroot)
and the Debian 13 root (`scripts/slurm-root.sh`, which `.ci/setup` runs): without them these tests skip, which
KASBAH_NO_SKIPS=1 turns into failures. The lab's full `kasbah lab up` adds FRR, Prometheus and moto around the same
code (kasbah.lab.slurm.lab_up); here only the Slurm part runs, so the test stays cheap on two cores.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from kasbah.lab.slurm import Running, client, node_states, standalone
from kasbah.lab.slurm_probes import Layout, blocks_now, cancel_all, drill, hostnames, probes, submit, wait_job
from kasbah.lab.slurm_root import missing
from kasbah.plan.derive import Plan
from tests.conftest import REPO, plan_of

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="namespaces, mounts and chroot need root")

LAB_SPEC = REPO / "tests" / "data" / "slurm-lab" / "phase1.yaml"


def _plan(spec: Path) -> Plan:
    plan, _ = plan_of(spec)
    assert plan is not None and plan.slurm is not None, f"{spec} plans no scheduler"
    return plan


def _start(
    plan: Plan, *, slurmd: bool, extra: list[tuple[str, str]] | None = None, prefix: str = "ks"
) -> Iterator[Running]:
    problem = missing()
    if problem:
        pytest.skip(problem)
    work = Path(tempfile.mkdtemp(prefix="kasbah-slurm-"))
    try:
        with standalone(plan, work, f"{prefix}{os.getpid() % 10000}", slurmd=slurmd, extra=extra) as running:
            yield running
    finally:
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="module")
def lab_plan() -> Plan:
    return _plan(LAB_SPEC)


@pytest.fixture(scope="module")
def slurm(lab_plan: Plan) -> Iterator[Running]:
    yield from _start(lab_plan, slurmd=True)


@pytest.fixture
def layout(lab_plan: Plan) -> Layout:
    return Layout.from_plan(lab_plan.slurm)


def _topology(running: Running) -> dict[str, list[str]]:
    out = client(running.controller_pid, ["scontrol", "show", "topology"])[1]
    blocks = {}
    for line in out.splitlines():
        fields = dict(re.findall(r"(\w+)=(\S+)", line))
        if "BlockName" in fields:
            blocks[fields["BlockName"]] = hostnames(running.controller_pid, fields["Nodes"])
    return blocks


@pytest.mark.parametrize("spec", ["tests/data/slurm-lab/phase1.yaml", "stacks/phase1.yaml"])
def test_render_parses_in_the_real_slurmctld(spec: str) -> None:
    """slurmctld 24.11 loads the render (slurm.conf, topology.conf, gres.conf) and reports the plan's blocks; for
    phase 1 (224 racks, 4032 trays) with the controllers only."""
    plan = _plan(REPO / spec)
    for running in _start(plan, slurmd=False):
        ping = client(running.controller_pid, ["scontrol", "ping"])[1]
        assert all(f"at {c} is UP" in ping for c in plan.slurm.controllers), ping  # the pair: primary and backup
        blocks = _topology(running)
        assert blocks == {b.name: b.nodes for b in plan.slurm.blocks}
        assert len(node_states(running)) == len(plan.slurm.nodes)


def test_every_tray_registers_with_its_gpus(slurm: Running, lab_plan: Plan) -> None:
    states = node_states(slurm)
    assert sorted(states) == sorted(n.name for n in lab_plan.slurm.nodes)
    assert set(states.values()) == {"idle"}
    out = client(slurm.controller_pid, ["sinfo", "-h", "-N", "-o", "%N %G"])[1]
    assert {line.split()[1] for line in out.splitlines()} == {f"gpu:{lab_plan.slurm.nodes[0].gpus}"}
    assert _topology(slurm) == {b.name: b.nodes for b in lab_plan.slurm.blocks}


def _landed(running: Running, job_id: int) -> list[str]:
    """Where a running job is, read by the test itself: squeue's %N and scontrol's NodeList must agree."""
    state, nodes, reason = wait_job(running.controller_pid, job_id, {"RUNNING"}, 60)
    assert state == "RUNNING", f"job {job_id} is {state} ({reason})"
    queued = client(running.controller_pid, ["squeue", "-h", "-j", str(job_id), "-o", "%N"])[1].strip()
    assert sorted(hostnames(running.controller_pid, queued)) == sorted(nodes)
    return nodes


@pytest.mark.parametrize(("nodes", "segment"), [(16, 16), (16, 8), (8, 4), (4, 2), (18, 18), (32, 16)])
def test_segments_stay_inside_blocks(slurm: Running, layout: Layout, nodes: int, segment: int) -> None:
    """Every segment of a job lies inside one block: each block the job touches holds a multiple of the segment."""
    cancel_all(slurm)
    job_id = submit(slurm.controller_pid, ["-N", str(nodes), f"--segment={segment}"], "t-segment")
    try:
        landed = _landed(slurm, job_id)
        assert len(landed) == nodes
        per_block = {b: len(set(landed) & set(ns)) for b, ns in layout.blocks.items()}
        assert all(count % segment == 0 for count in per_block.values()), per_block
        if nodes <= layout.block_size:
            assert sum(1 for c in per_block.values() if c) == 1, per_block
    finally:
        cancel_all(slurm)


def test_whole_block_and_two_block_jobs(slurm: Running, layout: Layout) -> None:
    results = {p.name: p for p in probes(slurm, layout)}
    assert set(results) == {"segment", "whole block", "two blocks"}
    assert all(p.ok for p in results.values()), results
    assert set(results["whole block"].nodes) in [set(ns) for ns in layout.blocks.values()]
    assert set(results["two blocks"].nodes) == {n for ns in layout.blocks.values() for n in ns}
    assert results["segment"].blocks and len(results["segment"].blocks) == 1
    assert len(results["segment"].nodes) == layout.segment_max == 16


def test_a_drained_tray_makes_a_whole_block_job_wait_while_a_segment_of_16_runs(slurm: Running, layout: Layout) -> None:
    block = sorted(layout.blocks)[0]
    tray = layout.blocks[block][-1]
    results = drill(slurm, layout, block)
    assert all(p.ok for p in results), results
    names = [p.name for p in results]
    assert names == [
        f"whole block with {tray} drained",
        f"whole block, {tray} drained and 3 trays busy in every other block",
        f"segment of 16 beside drained {tray}",
        "drill total",
    ]
    assert results[1].state.startswith("PENDING")
    assert set(results[2].nodes) <= set(layout.blocks[block]) - {tray}
    # undrained after: every block can take a whole-block job again
    assert all(b.whole_block for b in blocks_now(slurm, layout))


def test_status_shows_what_a_drained_tray_means(slurm: Running, layout: Layout) -> None:
    block = sorted(layout.blocks)[-1]
    tray = layout.blocks[block][0]
    client(slurm.controller_pid, ["scontrol", "update", f"nodename={tray}", "state=drain", "reason=kasbah-test"])
    try:
        now = {b.block: b for b in blocks_now(slurm, layout)}
        assert now[block].drained == [tray] and not now[block].whole_block
        assert now[block].up == layout.block_size - 1
        assert "no whole-block job" in now[block].meaning
        assert all(b.whole_block for name, b in now.items() if name != block)
    finally:
        client(slurm.controller_pid, ["scontrol", "update", f"nodename={tray}", "state=resume"])


def test_the_probes_fail_when_block_scheduling_is_off(lab_plan: Plan) -> None:
    """The issue's trap in a form the lab can cause: the same render with topology/default (no blocks). Jobs still
    start, and a whole-block job even lands on the free block (Slurm prefers contiguous nodes), but with one tray
    drained and three busy in the other block the drill sees a whole-block job spill across both. (Its own
    namespace prefix: the module's lab may still be up.)"""
    layout = Layout.from_plan(lab_plan.slurm)
    for running in _start(lab_plan, slurmd=True, extra=[("TopologyPlugin", "topology/default")], prefix="kz"):
        results = drill(running, layout)
        assert not results[-1].ok, results
        wait = results[1]
        assert wait.name.startswith("whole block, ") and not wait.ok, wait
        assert wait.state == "RUNNING" and len(wait.blocks) == 2, wait  # spilled across both blocks


VERIFY_PLAY = """\
- hosts: gpu_nodes
  gather_facts: false
  tasks:
    - name: The slurm role's checks after the daemons start
      ansible.builtin.include_role:
        name: {role}
        tasks_from: verify
      vars:
        __slurm_compute: true
"""


def _role_checks(running: Running, plan: Plan, node: str, work: Path) -> tuple[bool, list[str]]:
    """The slurm role's checks after the start (tasks/verify.yml) on `node`, with scontrol run next to the lab's
    controller: whether they passed and the messages of the tasks that failed."""
    from kasbah import ansible_run
    from kasbah import render as renders

    build = work / "build" / plan.phase
    renders.write(renders.render(plan), build)
    scontrol = work / "scontrol"
    scontrol.write_text(
        "#!/bin/sh\nexec nsenter -t "
        f"{running.controller_pid} -m -n -u -r -- /usr/bin/env -C /tmp SLURM_CONF=/etc/slurm-lab/slurm.conf "
        'scontrol "$@"\n'
    )
    scontrol.chmod(0o755)
    play = work / "verify.yml"
    play.write_text(VERIFY_PLAY.format(role=REPO / "playbooks" / "roles" / "slurm"))
    failures: list[str] = []

    def on_event(event: dict) -> None:  # type: ignore[type-arg]
        if event.get("event") == "runner_on_failed":
            res = event["event_data"].get("res", {})
            failures.append(str(res.get("msg") or res.get("stderr") or res))

    report = ansible_run.run(
        build,
        phase=plan.phase,
        playbook=play,
        limit=node,
        extravars={
            "ansible_connection": "local",
            "ansible_python_interpreter": sys.executable,
            "slurm_scontrol": str(scontrol),
            "slurm_verify_retries": 20,
            "slurm_verify_delay": 1,
        },
        on_event=on_event,
    )
    return report.rc == 0 and not report.failed_hosts, failures


def test_the_role_passes_a_tray_that_registered_with_its_definition(
    slurm: Running, lab_plan: Plan, tmp_path: Path
) -> None:
    node = lab_plan.slurm.nodes[0].name
    ok, failures = _role_checks(slurm, lab_plan, node, tmp_path)
    assert ok and not failures, failures


def test_the_role_fails_a_tray_with_less_memory_and_cores_than_its_definition(lab_plan: Plan, tmp_path: Path) -> None:
    """Without the lab's `config_overrides`, every slurmd reports the lab host's cores and memory, far below the
    render's 144 cores and 960 GB less the reserve: slurmctld sets the tray INVALID_REG, drained. The role's check
    after the start must fail on that tray, with Slurm's reason and what to change, rather than leave a tray that
    never runs a job. (Its own namespace prefix: the module's lab may still be up.)"""
    node = lab_plan.slurm.nodes[0].name
    work = Path(tempfile.mkdtemp(prefix="kasbah-slurm-"))
    problem = missing()
    if problem:
        pytest.skip(problem)
    try:
        with standalone(
            lab_plan,
            work,
            f"kv{os.getpid() % 10000}",
            extra=[("SlurmdParameters", "shutdown_on_reboot")],
            wait_idle=False,
        ) as running:
            ok, failures = _role_checks(running, lab_plan, node, tmp_path)
            shown = client(running.controller_pid, ["scontrol", "show", "node", node, "--oneliner"])[1]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    assert "INVALID_REG" in shown and "Reason=Low " in shown, shown
    assert not ok
    (message,) = failures
    assert f"{node} registered with less than its NodeName line" in message, message
    assert "INVALID_REG" in message and "Low " in message, message
    assert "memory_gb_per_node" in message and f"scontrol update nodename={node} state=resume" in message
