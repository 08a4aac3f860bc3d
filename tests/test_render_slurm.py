"""Slurm renders: what `kasbah render` writes under slurm/, held to the plan, byte-stable, escaped, and read by the
real Slurm 24.11 slurmctld where the lab's Debian 13 root is present."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kasbah import render as renders
from kasbah.render.escape import slurm_word
from kasbah.render.slurm import render_slurm
from tests.conftest import REPO, plan_of
from tests.test_plan_slurm import expand, small_phase

GOLDEN = REPO / "tests" / "golden" / "render" / "slurm"
SLURM_ROOT = Path("/var/lib/kasbah/slurm-root")


@pytest.fixture(scope="module")
def phase1():  # type: ignore[no-untyped-def]
    plan, _ = plan_of(REPO / "stacks" / "phase1.yaml")
    assert plan is not None
    return plan, render_slurm(plan)


def _lines(text: str, key: str) -> list[dict[str, str]]:
    out = []
    for line in text.splitlines():
        if line.startswith(f"{key}="):
            out.append(dict(word.split("=", 1) for word in line.split()))
    return out


@pytest.mark.parametrize("name", ["slurm.conf", "gres.conf", "topology.conf", "cgroup.conf"])
def test_golden_slurm_files_of_phase1(phase1, name: str) -> None:  # type: ignore[no-untyped-def]
    text = phase1[1][f"slurm/{name}"]
    golden = GOLDEN / name
    if os.environ.get("KASBAH_UPDATE_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text)
    assert text == golden.read_text(), f"slurm/{name} changed; regenerate with KASBAH_UPDATE_GOLDEN=1 if intended"


def test_the_normal_render_writes_the_slurm_files(phase1) -> None:  # type: ignore[no-untyped-def]
    plan, files = phase1
    everything = renders.render(plan)
    assert {p: t for p, t in everything.items() if p.startswith("slurm/")} == files
    assert set(files) >= {"slurm/slurm.conf", "slurm/gres.conf", "slurm/topology.conf", "slurm/cgroup.conf"}


def test_nodes_are_the_plans_hosts_with_four_gpus_and_no_address(phase1) -> None:  # type: ignore[no-untyped-def]
    plan, files = phase1
    conf = files["slurm/slurm.conf"]
    nodes = _lines(conf, "NodeName")
    names = [n for line in nodes for e in line["NodeName"].split(",") for n in expand(e)]
    assert names == [n.name for n in plan.slurm.nodes]
    assert len(names) == 224 * 18
    assert all(line["Gres"] == "gpu:4" for line in nodes)
    assert not [ln for ln in conf.splitlines() if "NodeAddr=" in ln and not ln.startswith("#")]
    assert [line["SlurmctldHost"] for line in _lines(conf, "SlurmctldHost")] == ["slurm1", "slurm2"]
    assert "SwitchType=switch/nvidia_imex" in conf and "TopologyPlugin=topology/block" in conf
    gres = _lines(files["slurm/gres.conf"], "NodeName")
    assert [n for line in gres for e in line["NodeName"].split(",") for n in expand(e)] == names
    assert {line["File"] for line in gres} == {"/dev/nvidia[0-3]"}


def test_one_block_line_per_rack_in_build_order(phase1) -> None:  # type: ignore[no-untyped-def]
    plan, files = phase1
    blocks = _lines(files["slurm/topology.conf"], "BlockName")
    assert [b["BlockName"] for b in blocks] == [b.name for b in plan.slurm.blocks]
    for line, block in zip(blocks, plan.slurm.blocks, strict=True):
        assert [n for e in line["Nodes"].split(",") for n in expand(e)] == block.nodes
    assert _lines(files["slurm/topology.conf"], "BlockSizes")[0]["BlockSizes"].split(",")[0] == "18"


def test_a_later_phase_only_appends_blocks() -> None:
    texts = []
    for phase in ("phase1", "phase2"):
        plan, _ = plan_of(REPO / "stacks" / f"{phase}.yaml")
        assert plan is not None
        texts.append([ln for ln in render_slurm(plan)["slurm/topology.conf"].splitlines() if ln.startswith("Block")])
    first = [ln for ln in texts[0] if ln.startswith("BlockName")]
    assert texts[1][: len(first)] == first


def test_renders_are_deterministic(tmp_path: Path) -> None:
    spec = small_phase(tmp_path, racks=3, pods=2)
    a, _ = plan_of(spec)
    b, _ = plan_of(spec)
    assert a is not None and b is not None
    assert render_slurm(a) == render_slurm(b)


def test_disabled_or_static_imex_has_no_switch_plugin(tmp_path: Path) -> None:
    plan, _ = plan_of(small_phase(tmp_path, scheduler="scheduler:\n  imex: static\n"))
    assert plan is not None
    files = render_slurm(plan)
    assert "SwitchType" not in files["slurm/slurm.conf"] and "slurm/prolog.d/50-imex.sh" not in files
    assert "OverSubscribe" not in files["slurm/slurm.conf"]  # trays may be shared without a per-job IMEX domain


def test_per_job_imex_makes_every_partition_whole_tray(tmp_path: Path) -> None:
    """The prolog points the tray's one IMEX daemon at one job's trays and restarts it: a second job on the tray
    would tear down the first one's domain, so no partition may share a tray."""
    plan, _ = plan_of(small_phase(tmp_path, racks=3, pods=2))
    assert plan is not None and plan.slurm is not None and plan.slurm.imex == "per-job"
    conf = render_slurm(plan)["slurm/slurm.conf"]
    partitions = [line for line in conf.splitlines() if line.startswith("PartitionName=")]
    assert partitions and all(" OverSubscribe=EXCLUSIVE " in line for line in partitions), partitions


def test_accounting_points_at_slurmdbd_on_the_controllers(tmp_path: Path) -> None:
    plan, _ = plan_of(small_phase(tmp_path, scheduler="scheduler:\n  accounting: true\n"))
    assert plan is not None
    conf = render_slurm(plan)["slurm/slurm.conf"]
    assert "AccountingStorageType=accounting_storage/slurmdbd" in conf
    assert "AccountingStorageHost=slurm1" in conf and "AccountingStorageBackupHost=slurm2" in conf


@given(st.text(min_size=1, max_size=40))
def test_slurm_word_passes_only_plain_words(value: str) -> None:
    plain = re.fullmatch(r"[A-Za-z0-9_.:/+\-\[\],]+", value) is not None
    if plain:
        assert slurm_word(value) == value
    else:
        with pytest.raises(ValueError):
            slurm_word(value)


@pytest.mark.parametrize("value", ["a b", "a#b", "a=b", "a\nb", "", "x\tNodeAddr=1.2.3.4"])
def test_slurm_word_refuses_syntax(value: str) -> None:
    with pytest.raises(ValueError):
        slurm_word(value)


# -- the real parser -------------------------------------------------------------------------------------------------

CHECK = r"""
set -e
R={root}
B={build}
S={state}
mkdir -p $S/lib/slurmctld $S/log $S/munge $S/mungelib $S/mungelog
SU=$(chroot $R id -u slurm); MU=$(chroot $R id -u munge)
chown -R $SU:$SU $S/lib $S/log
dd if=/dev/urandom of=$S/munge/munge.key bs=128 count=1 2>/dev/null
chmod 700 $S/munge; chmod 400 $S/munge/munge.key
chown -R $MU $S/munge $S/mungelib $S/mungelog
mount -t proc proc $R/proc
mount -t tmpfs tmpfs $R/run
mkdir -p $R/run/munge; chown $MU $R/run/munge
mount --bind $S/munge $R/etc/munge
mount --bind $S/mungelib $R/var/lib/munge
mount --bind $S/mungelog $R/var/log/munge
mount --bind $B/slurm $R/etc/slurm
mount --bind $S/lib $R/var/lib/slurm
mount --bind $S/log $R/var/log/slurm
sed -E 's/^[0-9.]+\t(slurm1)$/127.0.0.1\t\1/' $B/inventory/etc_hosts > $S/hosts
mount --bind $S/hosts $R/etc/hosts
ip link set lo up
ip link add spa type veth peer name spb
ip addr add 10.254.254.1/24 dev spa
ip link set spa up; ip link set spb up
hostname slurm1
chroot $R su -s /bin/sh munge -c "munged --force"
chroot $R slurmctld -D -c -vv > $S/ctld.log 2>&1 &
pid=$!
for i in $(seq 1 60); do
  chroot $R scontrol ping >/dev/null 2>&1 && break
  sleep 0.5
done
chroot $R scontrol show config > $S/config.txt
chroot $R scontrol show topology > $S/topology.txt 2>&1 || true
chroot $R sinfo -h -N -o "%N %P %G" > $S/sinfo.txt
kill $pid; wait $pid || true
"""


@pytest.mark.skipif(
    os.geteuid() != 0 or not os.path.lexists(SLURM_ROOT / "usr/sbin/slurmctld"),
    reason="needs root and slurm-lab's Debian 13 root at /var/lib/kasbah/slurm-root",
)
@pytest.mark.parametrize("sku", ["gb200-nvl72", "dgx-b200"])
def test_slurmctld_24_11_reads_the_render(tmp_path: Path, sku: str) -> None:
    """The render runs slurmctld 24.11.5 as written: it loads the topology, nodes, GRES and partitions of the plan.
    Everything happens in private mount/UTS/network/PID namespaces; the lab's root itself is never written."""
    (tmp_path / "spec").mkdir()
    spec = small_phase(tmp_path / "spec", racks=2 if sku == "gb200-nvl72" else 4, sku=sku)
    plan, _ = plan_of(spec)
    assert plan is not None and plan.slurm is not None
    build = tmp_path / "build"
    renders.write(renders.render(plan), build)
    state = tmp_path / "state"
    state.mkdir()
    script = CHECK.format(root=SLURM_ROOT, build=build, state=state)
    unshare = shutil.which("unshare")
    assert unshare
    done = subprocess.run(
        [unshare, "-m", "-u", "-n", "-p", "-f", "sh", "-c", script], capture_output=True, text=True, timeout=120
    )
    log = (state / "ctld.log").read_text(errors="replace") if (state / "ctld.log").exists() else ""
    assert done.returncode == 0, done.stderr + log[-3000:]
    assert "fatal" not in log, log[-3000:]
    config = (state / "config.txt").read_text()
    s = plan.slurm
    assert re.search(rf"^TopologyPlugin\s*=\s*topology/{s.topology}$", config, re.M), config
    if s.imex == "per-job":
        assert re.search(r"^SwitchType\s*=\s*switch/nvidia_imex$", config, re.M), config
    sinfo = [ln.split() for ln in (state / "sinfo.txt").read_text().splitlines()]
    assert sorted(n for n, _, _ in sinfo) == sorted(n.name for n in s.nodes)
    assert {g for _, _, g in sinfo} == {f"gpu:{s.nodes[0].gpus}"}
    topo = (state / "topology.txt").read_text()
    for name in (b.name for b in s.blocks) if s.topology == "block" else (sw.name for sw in s.switches):
        assert name in topo, topo
