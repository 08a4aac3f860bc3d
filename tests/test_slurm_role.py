"""The slurm role through ansible-runner on local sandboxes (a controller and a GPU tray of phase 1): check mode
writes nothing, a real run installs the render unchanged and the munge key from the vault, a second run changes
nothing, a missing key fails without showing it; the health exporter turns sinfo/scontrol output into block metrics."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from kasbah import ansible_run
from kasbah import render as renders
from tests.conftest import REPO, plan_of

SPEC = REPO / "stacks" / "phase1.yaml"
CTL, NODE = "slurm1", "h1-su001-r01-n01"
KEY = "k" * 48
EXPORTER = REPO / "playbooks" / "roles" / "slurm" / "files" / "kasbah-slurm-exporter"


@pytest.fixture
def build(tmp_path: Path) -> Path:
    plan, _ = plan_of(SPEC)
    assert plan is not None
    out = tmp_path / "build" / "phase1"
    renders.write(renders.render(plan), out)
    host_vars = out / "inventory" / "host_vars"
    host_vars.mkdir()
    for host in (CTL, NODE):
        values = {
            "ansible_connection": "local",
            "ansible_python_interpreter": sys.executable,
            "slurm_config_root": str(tmp_path / host),
            "slurm_manage_packages": False,
            "slurm_manage_services": False,
            "slurm_set_owners": False,
            "phase_guard_state_dir": str(tmp_path / host / "state"),
        }
        (host_vars / f"{host}.yml").write_text(yaml.safe_dump(values))
    return out


def _run(build: Path, **kw: object) -> ansible_run.RunReport:
    return ansible_run.run(build, phase="phase1", limit=f"{CTL},{NODE}", tags=["slurm"], **kw)  # type: ignore[arg-type]


def test_check_mode_writes_nothing(build: Path, tmp_path: Path) -> None:
    result = _run(build, check=True, secret_vars={"vault_slurm_munge_key": KEY})
    assert result.succeeded, result.as_dict()
    assert set(result.hosts) == {CTL, NODE}
    assert not (tmp_path / CTL / "etc").exists() and not (tmp_path / NODE / "etc").exists()


def test_a_real_run_installs_the_render_and_a_second_changes_nothing(build: Path, tmp_path: Path) -> None:
    first = _run(build, secret_vars={"vault_slurm_munge_key": KEY})
    assert first.succeeded, first.as_dict()
    for host in (CTL, NODE):
        etc = tmp_path / host / "etc" / "slurm"
        for name in ("slurm.conf", "gres.conf", "topology.conf", "cgroup.conf"):
            assert (etc / name).read_text() == (build / "slurm" / name).read_text(), (host, name)
        prolog = etc / "prolog.d" / "50-imex.sh"
        assert prolog.read_text() == (build / "slurm/prolog.d/50-imex.sh").read_text()
        assert prolog.stat().st_mode & stat.S_IXUSR
        key = tmp_path / host / "etc" / "munge" / "munge.key"
        assert key.read_text() == KEY and stat.S_IMODE(key.stat().st_mode) == 0o400
    # the exporter runs on the controllers only
    assert (tmp_path / CTL / "usr/local/sbin/kasbah-slurm-exporter").exists()
    assert not (tmp_path / NODE / "usr/local/sbin/kasbah-slurm-exporter").exists()
    assert "kasbah-slurm-exporter --blocks" in (tmp_path / CTL / "etc/cron.d/kasbah-slurm-exporter").read_text()
    second = _run(build, secret_vars={"vault_slurm_munge_key": KEY})
    assert second.succeeded and all(h.changed == 0 for h in second.hosts.values()), second.as_dict()


def test_a_missing_munge_key_fails_and_is_never_shown(build: Path, tmp_path: Path) -> None:
    events: list[dict] = []
    result = _run(build, secret_vars={"vault_slurm_munge_key": "short-secret"}, on_event=events.append)
    assert not result.succeeded
    assert set(result.failed_hosts) == {CTL, NODE}
    assert "short-secret" not in repr(events)
    assert not (tmp_path / CTL / "etc" / "munge" / "munge.key").exists()


def test_phase_guard_protects_the_cluster_from_an_older_phase(build: Path, tmp_path: Path) -> None:
    for host in (CTL, NODE):
        state = tmp_path / host / "state"
        state.mkdir(parents=True)
        (state / "slurm.json").write_text('{"campus": "casablanca-ai", "phase": "phase2", "order": 2}\n')
    result = _run(build, secret_vars={"vault_slurm_munge_key": KEY})
    assert result.succeeded, result.as_dict()
    assert not (tmp_path / CTL / "etc" / "slurm").exists() and not (tmp_path / NODE / "etc" / "slurm").exists()


# -- the exporter ---------------------------------------------------------------------------------------------------

FAKE = """#!/bin/sh
case "$(basename "$0") $*" in
  "scontrol ping") printf 'Slurmctld(primary) at slurm1 is UP\\nSlurmctld(backup) at slurm2 is DOWN\\n' ;;
  "sinfo "*) cat {sinfo} ;;
  *) exit 3 ;;
esac
"""


def _exporter(tmp_path: Path, sinfo: str) -> dict[str, float]:
    fake = tmp_path / "bin"
    fake.mkdir(exist_ok=True)
    (tmp_path / "sinfo.txt").write_text(sinfo)
    for name in ("scontrol", "sinfo"):
        path = fake / name
        path.write_text(FAKE.format(sinfo=tmp_path / "sinfo.txt"))
        path.chmod(0o755)
    blocks = tmp_path / "blocks.tsv"
    blocks.write_text("".join(f"b1-n{i:02d}\tb1\t18\n" for i in range(1, 19)) + "b2-n01\tb2\t18\n")
    out = tmp_path / "kasbah_slurm.prom"
    env = {**os.environ, "PATH": f"{fake}:{os.environ['PATH']}"}
    done = subprocess.run(
        [sys.executable, str(EXPORTER), "--blocks", str(blocks), "--out", str(out)], env=env, capture_output=True
    )
    assert done.returncode == 0, done.stderr
    values = {}
    for line in out.read_text().splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return values


@pytest.mark.parametrize(
    ("states", "up", "drained", "down"),
    [
        ({}, 18, 0, 0),
        ({3: "drained"}, 17, 1, 0),
        ({3: "draining", 4: "drained*"}, 16, 2, 0),
        ({5: "down*", 6: "idle*"}, 16, 0, 2),
        ({7: "allocated", 8: "mixed", 9: "completing"}, 18, 0, 0),
        ({1: "future", 2: "maint"}, 16, 0, 2),
    ],
)
def test_exporter_counts_block_states(tmp_path: Path, states: dict[int, str], up: int, drained: int, down: int) -> None:
    lines = [f"b1-n{i:02d}|{states.get(i, 'idle')}" for i in range(1, 19)]
    values = _exporter(tmp_path, "\n".join(lines) + "\n")
    assert values['kasbah_slurm_block_nodes{block="b1",state="up"}'] == up
    assert values['kasbah_slurm_block_nodes{block="b1",state="drained"}'] == drained
    assert values['kasbah_slurm_block_nodes{block="b1",state="down"}'] == down
    assert values['kasbah_slurm_block_size{block="b1"}'] == 18
    # b2-n01 is in the plan but sinfo does not list it: it cannot run a job
    assert values['kasbah_slurm_block_nodes{block="b2",state="down"}'] == 1
    assert values['kasbah_slurm_controller_up{controller="slurm1"}'] == 1
    assert values['kasbah_slurm_controller_up{controller="slurm2"}'] == 0
    assert values["kasbah_slurm_exporter_last_run_timestamp_seconds"] > 0
