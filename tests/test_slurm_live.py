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
