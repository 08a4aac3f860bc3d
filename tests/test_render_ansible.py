"""Renders for Ansible: the inventory loads in ansible-inventory with every planned host in its groups, renders are
byte-identical, goldens of phase 1, and the playbooks pass syntax check and ansible-lint's production profile."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from kasbah import render as renders
from kasbah.render import Files
from tests.conftest import REPO, edit, plan_of

BIN = Path(sys.executable).parent
GOLDEN = REPO / "tests" / "golden" / "render"
GOLDEN_FILES = (
    "ansible.cfg",
    "requirements.yml",
    "execution-environment.yml",
    "inventory/kasbah.yml",
    "inventory/inventory.json",
    "inventory/group_vars/all.yml",
    "inventory/group_vars/edge_routers.yml",
    "inventory/hosts/h1-su001.tsv",
    "gpu/pods/h1-su001.yml",
    "gpu/imex/h1-su001/r01.cfg",
    "gpu/dcgm-counters.csv",
    "fabric/phase1/qm9700-d0/opensm.conf.j2",
    "fabric/phase1/qm9700-d0/partitions.conf",
)


def _files(name: str) -> Files:
    plan, _ = plan_of(REPO / "stacks" / f"{name}.yaml")
    assert plan is not None
    return renders.render(plan)


@pytest.fixture(scope="module")
def phase1(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("build") / "phase1"
    renders.write(_files("phase1"), out)
    return out


def _inventory(build: Path, *args: str) -> dict:
    env = {**os.environ, "ANSIBLE_CONFIG": str(build / "ansible.cfg")}
    done = subprocess.run(
        [str(BIN / "ansible-inventory"), *args], env=env, capture_output=True, text=True, check=True, cwd=build
    )
    assert "WARNING" not in done.stderr, done.stderr
    return json.loads(done.stdout)


def _plain(value: object) -> object:
    """ansible-inventory --list shows values a plugin set as {"__ansible_unsafe": ...} (not templated)."""
    return value["__ansible_unsafe"] if isinstance(value, dict) and "__ansible_unsafe" in value else value


def test_every_planned_host_loads_into_its_pod_hall_phase_and_sku_groups(phase1: Path) -> None:
    plan, _ = plan_of(REPO / "stacks" / "phase1.yaml")
    assert plan is not None
    inv = _inventory(phase1, "--list")
    hostvars = inv["_meta"]["hostvars"]
    assert len([h for h in hostvars if "-su" in h]) == plan.cumulative.nodes == 4032
    pod = inv["pod_h1_su001"]["hosts"]
    assert len(pod) == 144 and pod[0] == "h1-su001-r01-n01"
    assert "pod_h1_su001" in inv["hall_h1"]["children"] and "pod_h1_su001" in inv["phase_phase1"]["children"]
    assert "pod_h1_su001" in inv["sku_gb200_nvl72"]["children"] and "pod_h2_su014" in inv["gpu_nodes"]["children"]
    assert inv["edge_routers"]["hosts"] == ["edge1", "edge2"]
    assert _plain(hostvars["edge1"]["ansible_host"]) == plan.edge.routers[0].loopback.split("/")[0]
    assert inv["subnet_managers"]["hosts"] == ["sm-phase1-d0-1", "sm-phase1-d0-2"]
    # Hosts carry their address and the campus-wide values only; pod values live in gpu/pods/.
    assert set(hostvars["h1-su001-r01-n01"]) == {
        "ansible_host",
        "ansible_local",
        "kasbah_build_dir",
        "kasbah_campus",
        "kasbah_phase",
        "kasbah_phase_order",
    }
    assert hostvars["edge1"]["kasbah_phase_order"] == 1 and _plain(hostvars["edge1"]["kasbah_phase"]) == "phase1"
    assert _plain(hostvars["h1-su001-r01-n01"]["kasbah_build_dir"]) == str(phase1)
    addresses = [_plain(v["ansible_host"]) for v in hostvars.values()]
    assert len(set(addresses)) == len(addresses)


def test_the_hosts_file_lists_every_host_once(phase1: Path) -> None:
    lines = [ln for ln in (phase1 / "inventory" / "etc_hosts").read_text().splitlines() if not ln.startswith("#")]
    names = [ln.split("\t")[1] for ln in lines if "localhost" not in ln]
    # trays, edge routers, monitoring, subnet managers, Slurm controllers
    assert len(names) == len(set(names)) == 4032 + 2 + 1 + 2 + 2
    assert lines[0] == "127.0.0.1\tlocalhost"


def test_imex_peers_are_the_trays_of_one_rack(phase1: Path) -> None:
    peers = (phase1 / "gpu" / "imex" / "h1-su001" / "r02.cfg").read_text().split()
    table = [ln.split("\t") for ln in (phase1 / "inventory" / "hosts" / "h1-su001.tsv").read_text().splitlines()]
    assert peers == [address for name, address, rack, _ in table if rack == "2"]
    assert len(peers) == 18


def test_renders_are_byte_identical_and_follow_the_spec(stacks: Path) -> None:
    first, second = _files("phase2"), _files("phase2")
    assert first == second
    assert renders.digest(first) == renders.digest(second)
    edit(stacks / "phase1.yaml", "count: 8", "count: 7")
    plan, _ = plan_of(stacks / "phase2.yaml")
    assert plan is not None
    changed = renders.render(plan)
    pod = ("inventory/hosts/h1-su001.",)
    assert renders.digest(changed, pod) != renders.digest(first, pod)


def test_a_stale_build_is_detected(phase1: Path, tmp_path: Path) -> None:
    files = _files("phase1")
    assert renders.stale(files, phase1) == []
    copy = tmp_path / "copy"
    renders.write(files, copy)
    (copy / "inventory" / "hosts" / "h1-su001.tsv").write_text("x\n")
    (copy / "inventory" / "host_vars").mkdir()  # an operator's addition is not staleness
    assert renders.stale(files, copy) == ["inventory/hosts/h1-su001.tsv"]


def test_write_replaces_the_directory_all_or_nothing(tmp_path: Path) -> None:
    out = tmp_path / "phase1"
    renders.write({"a.txt": "1\n", "d/b.txt": "2\n"}, out)
    renders.write({"a.txt": "3\n"}, out)
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == [".kasbah-render.json", "a.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".phase1.lock", "phase1"]  # no temp tree left


@pytest.mark.parametrize("path", GOLDEN_FILES)
def test_golden_render_of_phase1(phase1: Path, path: str) -> None:
    text = (phase1 / path).read_text()
    golden = GOLDEN / path
    if os.environ.get("KASBAH_UPDATE_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text)
    assert text == golden.read_text(), f"{path} changed; regenerate with KASBAH_UPDATE_GOLDEN=1 if intended"


PLAYBOOKS = sorted(p.name for p in (REPO / "playbooks").glob("*.yml"))


@pytest.mark.parametrize("playbook", PLAYBOOKS)
def test_playbook_syntax(playbook: str, phase1: Path) -> None:
    env = {**os.environ, "ANSIBLE_CONFIG": str(phase1 / "ansible.cfg")}
    done = subprocess.run(
        [str(BIN / "ansible-playbook"), "--syntax-check", str(REPO / "playbooks" / playbook)],
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_ansible_lint_production_profile() -> None:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "NO_COLOR": "1"}
    done = subprocess.run(
        [str(BIN / "ansible-lint"), "--offline", "--profile", "production", "--format", "pep8"],
        cwd=REPO / "playbooks",
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "production" in done.stderr


ROLES = sorted(p.name for p in (REPO / "playbooks" / "roles").iterdir() if p.is_dir())


@pytest.mark.parametrize("role", ROLES)
def test_role_has_the_standard_layout_and_specifies_every_default(role: str) -> None:
    base = REPO / "playbooks" / "roles" / role
    for rel in ("defaults/main.yml", "tasks/main.yml", "handlers/main.yml", "meta/main.yml", "meta/argument_specs.yml"):
        assert (base / rel).is_file(), rel
    defaults = yaml.safe_load((base / "defaults/main.yml").read_text()) or {}
    spec = yaml.safe_load((base / "meta/argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    assert set(defaults) <= set(spec), set(defaults) - set(spec)
    assert all(name.startswith(f"{role}_") for name in defaults), "role variables carry the role's prefix"
