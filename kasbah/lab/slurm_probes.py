"""Probe jobs and the drain drill on the lab's Slurm: where jobs really land, compared with the plan's blocks.

Reading the configuration back proves nothing (re-applying a node's block assignment silently disables block
scheduling while `scontrol show topology` still looks right), so every check here submits a job and reads where it
runs: `squeue -h -o %N` and `scontrol show job`, both expanded with `scontrol show hostnames`, and the two must agree.
Jobs are `sleep` scripts with a time limit, cancelled as soon as their placement is read; every wait is bounded.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

from kasbah.lab.slurm import Running, SlurmLabError, client, node_states

JOB_LIMIT_MIN = 10
"""Probe jobs' time limit: backfill needs one, and a forgotten probe ends by itself."""
DRILL_REASON = "kasbah-drill"


@dataclass
class Layout:
    """The plan's blocks as the probes need them (from `plan.slurm`, or a test's hand-written conf)."""

    blocks: dict[str, list[str]]
    block_size: int
    segment_max: int
    partition: str | None = None

    @classmethod
    def from_plan(cls, slurm: Any) -> Layout:
        return cls(
            blocks={b.name: list(b.nodes) for b in slurm.blocks},
            block_size=slurm.block_size,
            segment_max=slurm.segment_max,
        )

    def block_of(self, node: str) -> str | None:
        return next((b for b, nodes in self.blocks.items() if node in nodes), None)

    def blocks_of(self, nodes: list[str]) -> list[str]:
        return sorted({self.block_of(n) or f"?{n}" for n in nodes})


@dataclass
class Probe:
    """One probe job: what was asked, where it ran (or why it waits), and whether that matches the plan."""

    name: str
    request: str
    ok: bool
    detail: str
    state: str = ""
    nodes: list[str] = field(default_factory=list)
    blocks: list[str] = field(default_factory=list)
    seconds: float = 0.0


def hostnames(pid: int, hostlist: str) -> list[str]:
    """`gpu[01-03],x` -> its names, by Slurm's own expansion."""
    if not hostlist or hostlist in ("(null)", "None"):
        return []
    return client(pid, ["scontrol", "show", "hostnames", hostlist])[1].split()


def submit(pid: int, args: list[str], name: str) -> int:
    out = client(
        pid,
        [
            "sbatch",
            "--parsable",
            "-J",
            name,
            "-o",
            "/dev/null",
            f"--time={JOB_LIMIT_MIN}",
            *args,
            "--wrap",
            "echo $SLURMD_NODENAME; sleep 600",
        ],
    )[1]
    return int(out.strip().split(";")[0])


def job(pid: int, job_id: int) -> tuple[str, list[str], str]:
    """(state, nodes, reason) of a job, from `scontrol show job` and `squeue -o %N`; they must name the same nodes."""
    code, out = client(pid, ["scontrol", "show", "job", "-o", str(job_id)], check=False)
    fields = dict(re.findall(r"(\w+)=(\S*)", out)) if code == 0 else {}
    state = fields.get("JobState", "GONE")
    nodes = hostnames(pid, fields.get("NodeList", ""))
    queued = client(pid, ["squeue", "-h", "-j", str(job_id), "-o", "%N"], check=False)[1].strip()
    if state == "RUNNING" and sorted(hostnames(pid, queued)) != sorted(nodes):
        raise SlurmLabError(f"job {job_id}: squeue says {queued}, scontrol says {fields.get('NodeList')}")
    return state, nodes, fields.get("Reason", "")


def wait_job(pid: int, job_id: int, states: set[str], timeout: float) -> tuple[str, list[str], str]:
    deadline = time.monotonic() + timeout
    while True:
        state, nodes, reason = job(pid, job_id)
        if state in states or time.monotonic() > deadline:
            return state, nodes, reason
        time.sleep(0.5)


def cancel_all(running: Running, timeout: float = 60) -> None:
    """Cancel every job and wait until no node is allocated or completing."""
    pid = running.controller_pid
    client(pid, ["scancel", "--full", "-u", "root"], check=False)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        busy = client(pid, ["squeue", "-h", "-o", "%i"], check=False)[1].split()
        states = node_states(running)
        if not busy and not any(s.startswith(("alloc", "mix", "comp")) for s in states.values()):
            return
        time.sleep(0.5)
    raise SlurmLabError(f"jobs or nodes still busy {timeout:.0f} s after scancel")


def _wait_idle(running: Running, nodes: list[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = node_states(running)
        if all(states.get(n, "").startswith("idle") for n in nodes):
            return
        time.sleep(0.5)
    raise SlurmLabError(f"nodes still busy {timeout:.0f} s after scancel: {', '.join(nodes)}")


def _placed(pid: int, name: str, args: list[str], timeout: float = 60) -> tuple[int, str, list[str], float]:
    t0 = time.monotonic()
    job_id = submit(pid, args, name)
    state, nodes, reason = wait_job(pid, job_id, {"RUNNING", "FAILED", "CANCELLED", "COMPLETED"}, timeout)
    return job_id, state if state != "PENDING" else f"PENDING ({reason})", nodes, round(time.monotonic() - t0, 2)


def probes(running: Running, layout: Layout) -> list[Probe]:
    """A segment of segment_max inside one block, a whole-block job on exactly one block, a two-block job on two."""
    pid = running.controller_pid
    part = ["-p", layout.partition] if layout.partition else []
    sets = {b: set(n) for b, n in layout.blocks.items()}
    seg, size = layout.segment_max, layout.block_size
    asks: list[tuple[str, list[str], int]] = [
        ("segment", ["-N", str(seg), f"--segment={seg}"], 1),
        ("whole block", ["-N", str(size)], 1),
    ]
    if len(layout.blocks) >= 2:
        asks.append(("two blocks", ["-N", str(2 * size)], 2))
    out = []
    cancel_all(running)
    for name, args, want in asks:
        _, state, nodes, seconds = _placed(pid, f"kasbah-{name.replace(' ', '-')}", [*part, *args])
        blocks = layout.blocks_of(nodes)
        request = "sbatch " + " ".join(args)
        if state != "RUNNING":
            ok, detail = False, f"did not start within 60 s: {state}"
        elif name == "segment":
            ok = len(nodes) == seg and len(blocks) == 1
            detail = f"{len(nodes)} trays in {', '.join(blocks)}" + ("" if ok else f": expected {seg} in one block")
        else:
            whole = [b for b in blocks if sets.get(b, set()) <= set(nodes)]
            ok = len(blocks) == want and len(whole) == want and len(nodes) == want * size
            detail = f"{len(nodes)} trays = {'+'.join(blocks)}" + (
                "" if ok else f": expected {want} whole block(s) of the plan"
            )
        out.append(Probe(name, request, ok, detail, state, nodes, blocks, seconds))
        cancel_all(running)
    return out


def drill(running: Running, layout: Layout, block: str | None = None) -> list[Probe]:
    """Drain one tray of a block: a whole-block job no longer runs there (it goes to another block while one is
    free, then waits), while a segment of segment_max still runs inside the drained block. Undrains after."""
    pid = running.controller_pid
    part = ["-p", layout.partition] if layout.partition else []
    block = block or sorted(layout.blocks)[0]
    tray = layout.blocks[block][-1]
    size, seg = layout.block_size, layout.segment_max
    out: list[Probe] = []
    cancel_all(running)
    t0 = time.monotonic()
    client(pid, ["scontrol", "update", f"nodename={tray}", "state=drain", f"reason={DRILL_REASON}"])
    try:
        others = sorted(b for b in layout.blocks if b != block)
        fills = []
        for _ in others:  # each lands on a whole block other than the drained one, until none is left
            job_id, state, nodes, seconds = _placed(pid, "kasbah-drill-fill", [*part, "-N", str(size)])
            fills.append(job_id)
            blocks = layout.blocks_of(nodes)
            ok = (
                state == "RUNNING"
                and block not in blocks
                and len(blocks) == 1
                and set(nodes) == set(layout.blocks[blocks[0]])
            )
            detail = f"ran on {'+'.join(blocks) or 'nothing'}, not on {block} (drained {tray})"
            out.append(
                Probe(
                    f"whole block with {tray} drained", f"sbatch -N {size}", ok, detail, state, nodes, blocks, seconds
                )
            )
        # Then every other block only partly busy: a few single-tray jobs, so that none is whole and none has room
        # for a segment. Enough trays stay free in all for a whole-block job; only block scheduling makes it wait
        # (without it, Slurm spills the job across blocks: the trap of a silently disabled topology/block).
        client(pid, ["scancel", *map(str, fills)])
        _wait_idle(running, [n for b in others for n in layout.blocks[b]])
        busy = [
            submit(pid, [*part, "-N", "1", "-w", node], "kasbah-drill-busy")
            for b in others
            for node in layout.blocks[b][: size - seg + 1]
        ]
        for job_id in busy:  # running before the whole-block job comes: it must wait for room, not for them
            state, _, reason = wait_job(pid, job_id, {"RUNNING"}, 60)
            if state != "RUNNING":
                raise SlurmLabError(f"a single-tray job of the drill did not start within 60 s: {state} ({reason})")
        t1 = time.monotonic()
        job_id = submit(pid, [*part, "-N", str(size)], "kasbah-drill-wait")
        # Pending with reason None: not looked at yet. Wait (bounded) until the scheduler says why it waits.
        deadline = time.monotonic() + 45
        while True:
            state, nodes, reason = job(pid, job_id)
            if state != "PENDING" or reason not in ("None", "") or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        ok = state == "PENDING" and reason not in ("None", "")
        out.append(
            Probe(
                f"whole block, {tray} drained and {size - seg + 1} trays busy in every other block",
                f"sbatch -N {size}",
                ok,
                f"waits ({reason})" if ok else f"{state} on {','.join(nodes)}: it should wait",
                f"{state} ({reason})" if state == "PENDING" else state,
                nodes,
                layout.blocks_of(nodes),
                round(time.monotonic() - t1, 2),
            )
        )
        if nodes:  # it ran (spilled across blocks): out of the way, so the segment step still tells something
            client(pid, ["scancel", str(job_id)])
            _wait_idle(running, nodes)
        _, state, nodes, seconds = _placed(
            pid, "kasbah-drill-segment", [*part, "-N", str(seg), f"--segment={seg}"], timeout=90
        )
        blocks = layout.blocks_of(nodes)
        ok = state == "RUNNING" and blocks == [block] and tray not in nodes and len(nodes) == seg
        out.append(
            Probe(
                f"segment of {seg} beside drained {tray}",
                f"sbatch -N {seg} --segment={seg}",
                ok,
                f"{len(nodes)} trays in {'+'.join(blocks) or 'nothing'}"
                + ("" if ok else f": expected {seg} in {block} without {tray}"),
                state,
                nodes,
                blocks,
                seconds,
            )
        )
    finally:
        client(pid, ["scontrol", "update", f"nodename={tray}", "state=resume"], check=False)
        cancel_all(running)
    out.append(
        Probe(
            "drill total",
            f"drain {tray}, undrain after",
            all(p.ok for p in out),
            "",
            "",
            [],
            [],
            round(time.monotonic() - t0, 2),
        )
    )
    return out


@dataclass
class BlockNow:
    block: str
    trays: int
    up: int
    drained: list[str]
    down: list[str]

    @property
    def whole_block(self) -> bool:
        return not self.drained and not self.down

    @property
    def meaning(self) -> str:
        if self.whole_block:
            return "whole-block jobs can run"
        return f"no whole-block job; segments up to {self.up} trays"


def blocks_now(running: Running, layout: Layout) -> list[BlockNow]:
    """Per block: trays up, drained, down (from sinfo) and what that means for whole-block jobs."""
    states = node_states(running)
    out = []
    for name, nodes in layout.blocks.items():
        drained = [n for n in nodes if states.get(n, "").startswith(("drain", "drng"))]
        down = [
            n
            for n in nodes
            if n not in drained and (n not in states or states[n].startswith(("down", "inval", "fail", "unk")))
        ]
        out.append(BlockNow(name, len(nodes), len(nodes) - len(drained) - len(down), drained, down))
    return out


def _running(plan: Any, state: Any) -> tuple[Running | None, str | None]:
    """The lab's Slurm for this plan, or a notice saying why there is none (None, None: the phase has no scheduler)."""
    from kasbah.lab.slurm import lab_dir_of

    if getattr(plan, "slurm", None) is None:
        return None, None
    running = Running.load(lab_dir_of(state.dir))
    if running is None:
        return None, "Slurm: not running in this lab (`kasbah lab up` said why)"
    return running, None


def verify_lab(plan: Any, state: Any) -> tuple[list[Probe], list[str], str | None]:
    """`kasbah verify --lab`'s Slurm part: (probes run, differences from the plan, a notice when none ran)."""
    running, notice = _running(plan, state)
    if running is None:
        return [], [], notice
    layout = Layout.from_plan(plan.slurm)
    diffs: list[str] = []
    results: list[Probe] = []
    try:
        known = set(node_states(running))
        planned = {n.name for n in plan.slurm.nodes}
        if known != planned:
            diffs.append(
                f"Slurm knows {len(known)} nodes, the plan has {len(planned)}: "
                f"{len(planned - known)} missing, {len(known - planned)} unplanned"
            )
        results = probes(running, layout)
        results += drill(running, layout)
    except (SlurmLabError, OSError, ValueError) as exc:
        diffs.append(f"Slurm probes: {exc}")
    diffs += [f"Slurm probe '{p.name}' ({p.request}): {p.detail}" for p in results if not p.ok and p.detail]
    return results, diffs, None


def status_lab(plan: Any, state: Any) -> tuple[list[BlockNow], str | None]:
    """`kasbah lab status`'s Slurm part: each block's trays now, or a notice."""
    running, notice = _running(plan, state)
    if running is None:
        return [], notice
    try:
        return blocks_now(running, Layout.from_plan(plan.slurm)), None
    except SlurmLabError as exc:
        return [], f"Slurm: {exc}"
