"""The lab's Slurm part without root: its configuration layer, its addresses, when it runs and what it says when not.

The daemons themselves run in tests/test_slurm_live.py; these check what that test cannot cheaply vary.
"""

from __future__ import annotations

import contextlib
import re
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kasbah.findings import Level
from kasbah.lab import slurm, slurm_root
from kasbah.lab.slurm import OVERRIDES, Cluster, address, gres_has_files, lab_conf, lab_gres, lab_up
from kasbah.lab.slurm_probes import BlockNow, Layout
from kasbah.render.slurm import render_slurm
from tests.conftest import REPO, plan_of

LAB_SPEC = REPO / "tests" / "data" / "slurm-lab" / "phase1.yaml"


@pytest.fixture(scope="module")
def lab_plan():
    plan, findings = plan_of(LAB_SPEC)
    assert not [f for f in findings if f.level >= Level.WARNING], findings  # a clean lab phase: notes only
    assert plan is not None and plan.slurm is not None
    return plan


def test_the_lab_phase_is_two_nvl72_blocks(lab_plan) -> None:
    s = lab_plan.slurm
    assert [len(b.nodes) for b in s.blocks] == [18, 18]
    assert s.block_size == 18 and s.segment_max == 16
    assert {n.gpus for n in s.nodes} == {4}
    assert len({n.name for n in s.nodes}) == 36


@given(st.integers(min_value=0, max_value=60_000))
def test_addresses_are_unique_and_inside_the_bridge(index: int) -> None:
    a = IPv4Address(address(index))
    assert a in IPv4Network(f"{slurm.SUBNET_BASE}/{slurm.SUBNET_PREFIX}")
    assert a.packed[-1] not in (0, 255)
    if index:
        assert address(index - 1) != address(index)


@pytest.mark.parametrize(
    ("text", "files"),
    [
        ("NodeName=a Name=gpu File=/dev/nvidia[0-3]\n", True),
        ("AutoDetect=off\nNodeName=a[1-2] Name=gpu Count=4\n", False),
        ("# File=/dev/nvidia0 in a comment\nNodeName=a Name=gpu Count=4\n", False),
        ("NodeName=a Name=gpu Type=gb200 file=/dev/nvidia0\n", True),
        ("", False),
    ],
)
def test_gres_files_detected(text: str, files: bool) -> None:
    assert gres_has_files(text) is files


@given(st.dictionaries(st.from_regex(r"n[0-9]{1,3}", fullmatch=True), st.integers(min_value=0, max_value=8)))
def test_lab_gres_names_one_file_per_gpu(gpus: dict[str, int]) -> None:
    text = lab_gres(gpus)
    assert gres_has_files(text) or not any(gpus.values())
    for node, count in gpus.items():
        line = next((x for x in text.splitlines() if x.startswith(f"NodeName={node} ")), None)
        if count == 0:
            assert line is None
            continue
        assert line is not None
        want = "/dev/nvidia0" if count == 1 else f"/dev/nvidia[0-{count - 1}]"
        assert line.endswith(f"File={want}")


def test_lab_conf_includes_the_render_unchanged_and_overrides_after(lab_plan, tmp_path: Path) -> None:
    render = tmp_path / "render"
    for rel, text in render_slurm(lab_plan).items():
        path = render / rel.removeprefix("slurm/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    before = {p: p.read_bytes() for p in render.rglob("*") if p.is_file()}
    nodes = [n.name for n in lab_plan.slurm.nodes]
    lab_conf(Cluster(render, lab_plan.slurm.controllers, nodes, {n: 4 for n in nodes}), tmp_path / "etc")
    assert {p: p.read_bytes() for p in render.rglob("*") if p.is_file()} == before  # the render is never edited
    lines = (tmp_path / "etc" / "slurm.conf").read_text().splitlines()
    include = lines.index("Include /etc/slurm/slurm.conf")
    keys = [line.split("=", 1)[0] for line in lines[include + 1 :] if "=" in line]
    assert keys == [k for k, _ in OVERRIDES]  # after the include: Slurm keeps the last value
    assert all(v for _, v in OVERRIDES)  # 24.11 rejects an empty value
    # nothing the lab overrides names a node, block, partition or controller
    assert not {k.lower() for k in keys} & {"nodename", "partitionname", "slurmctldhost", "topologyplugin"}
    topo = tmp_path / "etc" / "topology.conf"
    assert topo.is_symlink() and str(topo.readlink()) == "/etc/slurm/topology.conf"
    assert "CgroupPlugin=disabled" in (tmp_path / "etc" / "cgroup.conf").read_text()
    gres = tmp_path / "etc" / "gres.conf"
    if gres_has_files((render / "gres.conf").read_text()):  # the render's, unchanged: the lab provides the files
        assert gres.is_symlink() and str(gres.readlink()) == "/etc/slurm/gres.conf"
    else:
        assert len(re.findall(r"File=/dev/nvidia\[0-3\]", gres.read_text())) == 36


@pytest.mark.parametrize("with_files", [True, False])
def test_gres_conf_is_the_renders_when_it_names_files(with_files: bool, tmp_path: Path) -> None:
    render = tmp_path / "render"
    render.mkdir()
    (render / "slurm.conf").write_text("ClusterName=x\n")
    line = "NodeName=n[1-2] Name=gpu File=/dev/nvidia[0-3]" if with_files else "NodeName=n[1-2] Name=gpu Count=4"
    (render / "gres.conf").write_text(f"AutoDetect=off\n{line}\n")
    lab_conf(Cluster(render, ["c"], ["n1", "n2"], {"n1": 4, "n2": 4}), tmp_path / "etc")
    gres = tmp_path / "etc" / "gres.conf"
    assert gres.is_symlink() is with_files
    if not with_files:
        assert gres.read_text().splitlines()[-2:] == [f"NodeName=n{i} Name=gpu File=/dev/nvidia[0-3]" for i in (1, 2)]


def _plan_with(nodes: int, blocks: int):
    node = SimpleNamespace(name="n", gpus=4)
    return SimpleNamespace(slurm=SimpleNamespace(nodes=[node] * nodes, blocks=[None] * blocks, controllers=["c"]))


@pytest.mark.parametrize(
    ("plan", "env", "root", "said"),
    [
        (SimpleNamespace(slurm=None), {}, True, "the phase has no scheduler"),
        (_plan_with(4032, 224), {}, True, "4032 trays in 224 blocks is more than the lab runs (72"),
        (
            _plan_with(36, 2),
            {"KASBAH_LAB_SLURM_MAX_NODES": "18"},
            True,
            "36 trays in 2 blocks is more than the lab runs (18",
        ),
        (_plan_with(36, 2), {}, False, "scripts/slurm-root.sh"),
    ],
)
def test_lab_up_says_why_slurm_does_not_start(
    plan,
    env: dict[str, str],
    root: bool,
    said: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("KASBAH_SLURM_ROOT", str(REPO if root else tmp_path / "absent"))
    if root:
        monkeypatch.setattr(slurm, "missing", lambda *_: None)
        monkeypatch.setattr(slurm.SlurmLab, "start", lambda *a, **k: pytest.fail("must not start"))
    messages: list[str] = []
    state = SimpleNamespace(dir=str(tmp_path), prefix="kx", namespaces=[], timings={})
    assert lab_up(plan, state, tmp_path, messages.append) is None
    assert len(messages) == 1 and said in messages[0], messages
    assert messages[0].startswith("Slurm: not started") or messages[0].startswith("Slurm: the phase")
    assert not state.namespaces


def test_missing_root_message_says_how_to_build_it(tmp_path: Path) -> None:
    text = slurm_root.missing(tmp_path / "nothing")
    assert text is not None and "scripts/slurm-root.sh" in text and str(tmp_path / "nothing") in text
    (tmp_path / "half" / "usr/sbin").mkdir(parents=True)
    (tmp_path / "half" / "usr/sbin/slurmctld").symlink_to("/etc/alternatives/slurmctld")
    assert slurm_root.missing(tmp_path / "half") is not None  # no stamp: an interrupted build is not a root
    (tmp_path / "half" / slurm_root.STAMP).write_text("debian trixie, slurmctld 24.11.5\n")
    # a root built before slurmdbd joined the lab's daemons is out of date: the build script rebuilds it
    assert slurm_root.missing(tmp_path / "half") is not None
    for daemon in slurm_root.DAEMONS:
        with contextlib.suppress(FileExistsError):
            (tmp_path / "half" / "usr/sbin" / daemon).symlink_to(f"/etc/alternatives/{daemon}")
    assert slurm_root.missing(tmp_path / "half") is None
    assert slurm_root.version(tmp_path / "half") == "debian trixie, slurmctld 24.11.5"


@pytest.mark.parametrize(
    ("drained", "down", "whole", "meaning"),
    [
        ([], [], True, "whole-block jobs can run"),
        (["n18"], [], False, "no whole-block job; segments up to 17 trays"),
        (["n1", "n2"], ["n3"], False, "no whole-block job; segments up to 15 trays"),
    ],
)
def test_block_view_says_what_a_drain_means(drained: list[str], down: list[str], whole: bool, meaning: str) -> None:
    b = BlockNow("b1", 18, 18 - len(drained) - len(down), drained, down)
    assert b.whole_block is whole and b.meaning == meaning


def test_layout_from_the_plan(lab_plan) -> None:
    layout = Layout.from_plan(lab_plan.slurm)
    assert layout.segment_max == 16 and layout.block_size == 18
    first = lab_plan.slurm.blocks[0]
    assert layout.block_of(first.nodes[5]) == first.name
    assert layout.blocks_of([first.nodes[0], lab_plan.slurm.blocks[1].nodes[0]]) == sorted(
        b.name for b in lab_plan.slurm.blocks
    )
