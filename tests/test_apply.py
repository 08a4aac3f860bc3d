"""`kasbah apply`: real ansible-runner runs of the base role on a sandbox (twice: the second changes nothing), the GPU
role in check mode against a fake nvidia-smi, unreachable and failing hosts named with a working retry, and runs
refused before anything starts."""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from kasbah import ansible_run
from kasbah import render as renders
from kasbah.cli import app
from kasbah.spec.load import load_spec
from tests.conftest import REPO, edit, plan_of

SPEC = REPO / "stacks" / "phase1.yaml"
N1, N2, N3 = "h1-su001-r01-n01", "h1-su001-r01-n02", "h1-su001-r01-n03"


@pytest.fixture
def build(tmp_path: Path) -> Path:
    plan, _ = plan_of(SPEC)
    assert plan is not None
    out = tmp_path / "build" / "phase1"
    renders.write(renders.render_phase(load_spec(SPEC), plan), out)  # as `kasbah render` writes it
    return out


def sandbox(build: Path, host: str, root: Path, **extra: object) -> None:
    """Make one planned host a local sandbox: an operator's host_vars beside the rendered inventory."""
    host_vars = build / "inventory" / "host_vars"
    host_vars.mkdir(exist_ok=True)
    values = {
        "ansible_connection": "local",
        "ansible_python_interpreter": sys.executable,
        "base_root": str(root),
        "base_sysctl_apply": False,
        "base_chrony_reload": False,
        "base_manage_users": False,
        "gpu_config_root": str(root),
        **extra,
    }
    (host_vars / f"{host}.yml").write_text(yaml.safe_dump(values))


def apply(build: Path, *args: str) -> tuple[int, str, dict]:
    report = build.parent / "report.json"
    result = CliRunner().invoke(
        app, ["apply", str(SPEC), "--build", str(build), "--report", str(report), *args], catch_exceptions=False
    )
    data = json.loads(report.read_text()) if report.exists() else {}
    return result.exit_code, result.output, data


def test_base_role_configures_a_sandbox_and_a_second_run_changes_nothing(build: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    sandbox(build, N1, root)
    code, out, report = apply(build, "--tags", "base", "--limit", N1)
    assert code == 0, out
    assert report["hosts"][N1]["changed"] >= 3 and report["hosts"][N1]["failed"] == 0
    assert (root / "etc/hosts").read_text() == (build / "inventory/etc_hosts").read_text()
    assert "server 0.pool.ntp.org iburst" in (root / "etc/chrony/chrony.conf").read_text()
    assert "net.ipv4.neigh.default.gc_thresh3 = 65536" in (root / "etc/sysctl.d/90-kasbah.conf").read_text()
    code, out, report = apply(build, "--tags", "base", "--limit", N1)
    assert code == 0, out
    assert report["hosts"][N1]["changed"] == 0
    assert report["totals"]["changed"] == 0


def test_unreachable_and_failed_hosts_are_named_and_the_retry_works(build: Path, tmp_path: Path) -> None:
    sandbox(build, N1, tmp_path / "ok")
    # N2: nothing listens on port 1, so SSH is refused at once; N3: its root is a file, so the first task fails.
    (tmp_path / "blocked").write_text("")
    sandbox(build, N3, tmp_path / "blocked")
    host_vars = build / "inventory" / "host_vars"
    (host_vars / f"{N2}.yml").write_text(yaml.safe_dump({"ansible_host": "127.0.0.1", "ansible_port": 1}))
    code, out, report = apply(build, "--tags", "base", "--limit", f"{N1},{N2},{N3}")
    assert code == 1
    assert report["unreachable_hosts"] == [N2]
    assert report["failed_hosts"] == [N3]
    assert report["hosts"][N1]["failed"] == 0 and report["hosts"][N1]["changed"] > 0  # the others continued
    assert f"--limit {N2},{N3}" in out.replace("\n", "")
    sandbox(build, N3, tmp_path / "fixed")
    (host_vars / f"{N2}.yml").unlink()
    sandbox(build, N2, tmp_path / "n2")
    code, out, report = apply(build, "--tags", "base", "--limit", report["retry_limit"])
    assert code == 0, out
    assert sorted(report["hosts"]) == [N2, N3]


FAKE_SMI = """#!/bin/sh
# A fake nvidia-smi: four GPUs whose driver allows at most 1,000 W, one already limited to 1,000 W.
case "$*" in
  *--query-gpu=*)
    echo "0, Disabled, 1200.00, 200.00, 1000.00"
    echo "1, Enabled, 1200.00, 200.00, 1000.00"
    echo "2, Enabled, 1000.00, 200.00, 1000.00"
    echo "3, Enabled, 1100.00, 200.00, 1000.00"
    ;;
  *) echo "unexpected call: $*" >&2; exit 3 ;;
esac
"""


def test_gpu_role_in_check_mode_computes_power_limits_from_the_plan(build: Path, tmp_path: Path) -> None:
    fake = tmp_path / "bin"
    fake.mkdir()
    smi = fake / "nvidia-smi"
    smi.write_text(FAKE_SMI)
    smi.chmod(smi.stat().st_mode | stat.S_IEXEC)
    sandbox(build, N1, tmp_path / "root", gpu_manage_packages=False, gpu_manage_services=False, gpu_nvidia_smi=str(smi))
    events: list[dict] = []
    result = ansible_run.run(build, phase="phase1", check=True, limit=N1, tags=["gpu"], on_event=events.append)
    assert result.succeeded, result.as_dict()
    planned = [
        e["event_data"]["res"]["msg"]
        for e in events
        if e.get("event") == "runner_on_ok" and e["event_data"].get("task") == "Report the planned limits"
    ]
    # The plan allows 1,200 W per GB200 GPU; the driver's maximum (1,000 W) is lower, so it wins.
    assert planned == [[1000.0, 1000.0, 1000.0, 1000.0]]
    targets = [
        e["event_data"]["res"]["ansible_facts"]["gpu_targets"]
        for e in events
        if e.get("event") == "runner_item_on_ok"
        and e["event_data"].get("task") == "Compute the power limit of each GPU"
    ][-1]
    # GPUs 0, 1 and 3 sit above the target and would be set; GPU 2 is already there; GPU 0 lacks persistence mode.
    assert [t["index"] for t in targets if t["limit_w"] != t["target_w"]] == [0, 1, 3]
    assert [t["persistence"] for t in targets] == ["Disabled", "Enabled", "Enabled", "Enabled"]
    # Check mode writes nothing.
    assert not (tmp_path / "root" / "etc" / "nvidia-imex" / "nodes_config.cfg").exists()


def test_a_spec_with_errors_runs_nothing(stacks: Path, tmp_path: Path) -> None:
    edit(stacks / "phase1.yaml", "budget_mw: 40", "budget_mw: 4")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["apply", str(stacks / "phase1.yaml"), "--out", str(out)])
    assert result.exit_code == 1
    assert "nothing was written or applied" in result.output
    assert not out.exists()


def test_missing_vault_password_file_and_unknown_tags_are_refused(build: Path, tmp_path: Path) -> None:
    code, out, report = apply(build, "--vault-password-file", str(tmp_path / "nope"))
    assert code == 2 and "vault password file" in out and report == {}
    code, out, report = apply(build, "--tags", "gpus")
    assert code == 2 and "unknown tag(s) gpus" in out


def test_a_stale_build_is_refused(build: Path) -> None:
    (build / "inventory" / "inventory.json").write_text("{}")
    code, out, _ = apply(build, "--tags", "base")
    assert code == 1 and "changed after it was rendered" in out


def test_missing_playbook_is_a_clear_error(build: Path, tmp_path: Path) -> None:
    with pytest.raises(ansible_run.ApplyError, match=r"playbook .* not found"):
        ansible_run.run(build, phase="phase1", playbook=tmp_path / "missing.yml")


def test_secrets_come_from_the_environment_and_stay_out_of_the_report(build: Path, tmp_path: Path) -> None:
    assert ansible_run.secrets_from_environment({"VAULT_BGP_X": "s3cret", "HOME": "/root", "VAULT_": "x"}) == {
        "vault_bgp_x": "s3cret"
    }
    sandbox(build, N1, tmp_path / "root")
    report = tmp_path / "r.json"
    env = {**os.environ, "VAULT_BGP_PASSWORD_EDGE1_MTWA_NORTH": "do-not-print-me"}
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "kasbah"),
            "apply",
            str(SPEC),
            "--build",
            str(build),
            "--tags",
            "base",
            "--limit",
            N1,
            "--report",
            str(report),
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "do-not-print-me" not in done.stdout + done.stderr + report.read_text()


def test_base_role_creates_users_with_their_keys_once(build: Path, tmp_path: Path) -> None:
    """Real users on this machine (CI runs as root): created, keyed, unchanged on the second run, then removed."""
    if os.geteuid() != 0:
        pytest.skip("creating users needs root")
    name = "kasbahtest"
    key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKasbahTestKeyOnlyForTheBaseRoleTest kasbah@test"
    sandbox(build, N1, tmp_path / "root", base_manage_users=True, base_users=[{"name": name, "ssh_keys": [key]}])
    try:
        code, out, report = apply(build, "--tags", "base", "--limit", N1)
        assert code == 0, out
        home = Path(f"~{name}").expanduser()
        keys = home / ".ssh" / "authorized_keys"
        assert keys.read_text() == key + "\n"
        assert stat.S_IMODE(keys.stat().st_mode) == 0o600 and stat.S_IMODE(keys.parent.stat().st_mode) == 0o700
        code, out, report = apply(build, "--tags", "base", "--limit", N1)
        assert code == 0 and report["hosts"][N1]["changed"] == 0, out
    finally:
        subprocess.run(["userdel", "-r", name], capture_output=True, check=False)


def test_gpu_role_fails_a_node_that_lost_a_gpu(build: Path, tmp_path: Path) -> None:
    fake = tmp_path / "bin"
    fake.mkdir()
    smi = fake / "nvidia-smi"
    smi.write_text(FAKE_SMI.replace('    echo "3, Enabled, 1100.00, 200.00, 1000.00"\n', ""))
    smi.chmod(smi.stat().st_mode | stat.S_IEXEC)
    sandbox(build, N1, tmp_path / "root", gpu_manage_packages=False, gpu_manage_services=False, gpu_nvidia_smi=str(smi))
    events: list[dict] = []
    result = ansible_run.run(build, phase="phase1", check=True, limit=N1, tags=["gpu"], on_event=events.append)
    assert result.failed_hosts == [N1]
    (msg,) = [e["event_data"]["res"]["msg"] for e in events if e.get("event") == "runner_on_failed"]
    assert f"{N1} sees 3 GPU(s), the plan has 4 per node" in msg


def test_a_build_without_an_inventory_is_refused(tmp_path: Path) -> None:
    report = tmp_path / "r.json"
    result = CliRunner().invoke(
        app, ["apply", str(SPEC), "--build", str(tmp_path / "nothing"), "--report", str(report)]
    )
    assert result.exit_code == 2 and "holds no rendered inventory" in result.output
    assert not report.exists()


STATEFUL_SMI = """#!{python}
# A fake nvidia-smi with state: four GPUs whose driver allows at most 1,000 W; -pm and -pl change the state file.
import json, sys
state_file = {state!r}
with open(state_file) as fh:
    gpus = json.load(fh)
args = sys.argv[1:]
if any(a.startswith("--query-gpu=") for a in args):
    for i, g in enumerate(gpus):
        print(f"{{i}}, {{g['pm']}}, {{g['limit']:.2f}}, 200.00, 1000.00")
    sys.exit(0)
index = int(args[args.index("-i") + 1])
if "-pm" in args:
    gpus[index]["pm"] = "Enabled" if args[args.index("-pm") + 1] == "1" else "Disabled"
elif "-pl" in args:
    watts = float(args[args.index("-pl") + 1])
    if not 200 <= watts <= 1000:
        sys.exit(f"power limit {{watts}} out of range")
    gpus[index]["limit"] = watts
else:
    sys.exit("unexpected call: " + " ".join(args))
with open(state_file, "w") as fh:
    json.dump(gpus, fh)
with open(state_file + ".calls", "a") as fh:
    fh.write(" ".join(args) + "\\n")
"""


def uncapped_now(build: Path) -> str | None:
    """A time in an hour the rendered power schedule caps nothing (None: no schedule): the role then sets the plan's
    own limits, whatever the wall clock says (the schedule caps about half the hours of the year)."""
    path = build / "energy" / "power_schedule.json"
    if not path.is_file():
        return None
    capped = {int(h) for h in json.loads(path.read_text())["hours"]}
    hour = next(h for h in range(8760) if h not in capped)
    return (dt.datetime(2025, 1, 1, tzinfo=dt.UTC) + dt.timedelta(hours=hour, minutes=5)).isoformat()


def test_gpu_role_sets_persistence_and_power_limits_once(build: Path, tmp_path: Path) -> None:
    state = tmp_path / "gpus.json"
    limits = [1200.0, 1200.0, 1000.0, 1100.0]
    state.write_text(
        json.dumps([{"pm": "Disabled" if i == 0 else "Enabled", "limit": w} for i, w in enumerate(limits)])
    )
    smi = tmp_path / "nvidia-smi"
    smi.write_text(STATEFUL_SMI.format(python=sys.executable, state=str(state)))
    smi.chmod(smi.stat().st_mode | stat.S_IEXEC)
    root = tmp_path / "root"
    # gpu_imex: true forces the static rack-wide IMEX domain (phase 1's Slurm starts IMEX per job instead).
    sandbox(
        build,
        N1,
        root,
        gpu_manage_packages=False,
        gpu_manage_services=False,
        gpu_nvidia_smi=str(smi),
        gpu_imex=True,
        gpu_power_follow_now=uncapped_now(build),
    )
    first = ansible_run.run(build, phase="phase1", limit=N1, tags=["gpu"])
    assert first.succeeded, first.as_dict()
    calls = Path(f"{state}.calls").read_text().splitlines()
    assert calls == ["-i 0 -pm 1", "-i 0 -pl 1000", "-i 1 -pl 1000", "-i 3 -pl 1000"]
    assert [g["limit"] for g in json.loads(state.read_text())] == [1000.0] * 4
    imex = (root / "etc/nvidia-imex/nodes_config.cfg").read_text().split()
    assert len(imex) == 18 and imex[0] == "10.48.0.1"
    dropin = (root / "etc/systemd/system/dcgm-exporter.service.d/kasbah.conf").read_text()
    assert "DCGM_EXPORTER_COLLECTORS=/etc/dcgm-exporter/kasbah-counters.csv" in dropin
    assert (root / "etc/dcgm-exporter/kasbah-counters.csv").read_text() == (build / "gpu/dcgm-counters.csv").read_text()
    second = ansible_run.run(build, phase="phase1", limit=N1, tags=["gpu"])
    assert second.succeeded and second.hosts[N1].changed == 0
    assert len(Path(f"{state}.calls").read_text().splitlines()) == 4
