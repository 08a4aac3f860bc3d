"""Compute fabric renders: OpenSM per InfiniBand domain, and for Spectrum-X one BGP configuration per switch that
FRR accepts, with an AS and loopback of its own; the fabric role installs a switch's configuration for real."""

from __future__ import annotations

import shutil
import subprocess
import sys
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import pytest
import yaml

from kasbah import ansible_run
from kasbah import render as renders
from kasbah.findings import Level
from kasbah.plan.switches import ethernet_switches
from tests.conftest import REPO, edit, plan_of

VTYSH = shutil.which("vtysh") or "/usr/bin/vtysh"


@pytest.fixture(scope="module")
def spectrum(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    stacks = tmp_path_factory.mktemp("sx") / "stacks"
    shutil.copytree(REPO / "stacks", stacks)
    edit(stacks / "phase1.yaml", "kind: infiniband-ndr, switch: qm9700", "kind: spectrum-x, switch: sn5600")
    plan, findings = plan_of(stacks / "phase1.yaml")
    assert plan is not None and not [f for f in findings if f.level >= Level.ERROR], findings
    return plan, renders.render(plan)


def test_every_ethernet_switch_has_its_own_as_and_loopback(spectrum) -> None:  # type: ignore[no-untyped-def]
    plan, files = spectrum
    switches = list(ethernet_switches(plan))
    assert len(switches) == sum(plan.fabrics[0].compute[0].totals.values())
    asns = [s.asn for s in switches]
    assert asns == list(range(plan.fabric_asn_base, plan.fabric_asn_base + len(switches)))
    block = next(IPv4Network(a.cidr) for a in plan.addresses.allocations if a.network == "loopbacks")
    loopbacks = {IPv4Address(s.loopback) for s in switches}
    assert len(loopbacks) == len(switches) and all(lb in block for lb in loopbacks)
    edge = {r.loopback.split("/")[0] for r in plan.edge.routers}
    assert not {str(lb) for lb in loopbacks} & edge
    assert len([p for p in files if p.startswith("fabric/phase1/switches/")]) == len(switches)


@pytest.mark.parametrize("tier", ["leaf", "spine", "core"])
def test_switch_configs_pass_vtysh(spectrum, tier: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    plan, files = spectrum
    sw = next(s for s in ethernet_switches(plan) if s.tier == tier)
    text = files[f"fabric/phase1/switches/{sw.name}.conf"]
    conf = tmp_path / "frr.conf"
    conf.write_text(text)
    done = subprocess.run([VTYSH, "--config_dir", str(tmp_path), "-C", "-f", str(conf)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"router bgp {sw.asn}" in text and f"bgp router-id {sw.loopback}" in text
    peers = text.count("interface peer-group FABRIC")
    assert peers == (sw.ports_up if tier == "leaf" else sw.ports_down + sw.ports_up)
    assert peers > 0


def test_infiniband_domains_get_ftree_and_a_partition_per_phase() -> None:
    plan, _ = plan_of(REPO / "stacks" / "phase3.yaml")
    assert plan is not None
    files = renders.render(plan)
    confs = sorted(p for p in files if p.endswith("opensm.conf.j2"))
    assert confs == [
        "fabric/phase1/qm9700-d0/opensm.conf.j2",
        "fabric/phase2/q3400-d0/opensm.conf.j2",
        "fabric/phase3/q3400-d0/opensm.conf.j2",
    ]
    assert all("routing_engine ftree" in files[c] for c in confs)
    assert "phase3=0x1002" in files["fabric/phase3/q3400-d0/partitions.conf"]


def test_fabric_role_installs_a_switch_config_once(spectrum, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    plan, files = spectrum
    build = tmp_path / "build" / "phase1"
    renders.write(files, build)
    sw = next(s for s in ethernet_switches(plan) if s.tier == "leaf")
    root = tmp_path / "root"
    (root / "etc" / "frr").mkdir(parents=True)
    shutil.chown(root / "etc" / "frr", "frr", "frr")
    (build / "inventory" / "host_vars").mkdir()
    (build / "inventory" / "host_vars" / f"{sw.name}.yml").write_text(
        yaml.safe_dump(
            {
                "ansible_connection": "local",
                "ansible_python_interpreter": sys.executable,
                "fabric_config_root": str(root),
                "fabric_frr_reload_command": "true",
            }
        )
    )
    first = ansible_run.run(build, phase="phase1", limit=sw.name, tags=["fabric"])
    assert first.succeeded, first.as_dict()
    assert first.hosts[sw.name].changed == 2  # the file, then the reload handler
    assert (root / "etc" / "frr" / "frr.conf").read_text() == files[f"fabric/phase1/switches/{sw.name}.conf"]
    second = ansible_run.run(build, phase="phase1", limit=sw.name, tags=["fabric"])
    assert second.succeeded and second.hosts[sw.name].changed == 0
