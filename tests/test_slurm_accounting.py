"""The slurm role's accounting database, for real: a MariaDB the test starts on a private socket (Debian's
mariadb-server, which `.ci/setup` installs and the role installs on the accounting host), the role run through
ansible-runner on the accounting controller. It creates the database and a user that the vault's password opens,
changes nothing on a second run, follows a password rotated in the vault, and never shows the password."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from kasbah import ansible_run
from kasbah import render as renders
from kasbah.plan.derive import Plan
from tests.conftest import plan_of
from tests.test_plan_slurm import small_phase

KEY = "k" * 48
PASSWORD = "acct-pw-'quote\\back#hash-9Qz"
"""Quotes for SQL, a backslash and a "#" for Slurm's configuration parser (an escape and a comment there)."""
CTL = "slurm1"

pytestmark = pytest.mark.skipif(
    shutil.which("mariadbd") is None or shutil.which("mariadb-install-db") is None or os.geteuid() != 0,
    reason="needs Debian's mariadb-server (.ci/setup installs it) and root (its unix_socket root login)",
)


@pytest.fixture(scope="module")
def mariadb() -> Iterator[Path]:
    """A MariaDB server on a private socket and data directory, stopped and removed afterwards."""
    work = Path(tempfile.mkdtemp(prefix="kasbah-mariadb-"))
    work.chmod(0o755)  # the socket's directory: slurmdbd reaches it as its SlurmUser, as on a real host
    data, sock = work / "data", work / "mysqld.sock"
    subprocess.run(
        ["mariadb-install-db", "--user=root", f"--datadir={data}", "--auth-root-authentication-method=socket"],
        check=True,
        capture_output=True,
    )
    log = (work / "mariadbd.log").open("wb")
    proc = subprocess.Popen(
        [
            "mariadbd",
            "--no-defaults",
            "--user=root",
            f"--datadir={data}",
            f"--socket={sock}",
            f"--pid-file={work / 'mariadbd.pid'}",
            "--skip-networking",
            f"--log-error={work / 'error.log'}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while not sock.exists():
            assert proc.poll() is None, (work / "error.log").read_text(errors="replace")
            assert time.monotonic() < deadline, "mariadbd did not open its socket within 60 s"
            time.sleep(0.2)
        yield sock
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        shutil.rmtree(work, ignore_errors=True)


def _sql(
    sock: Path, query: str, *, user: str | None = None, password: str | None = None
) -> subprocess.CompletedProcess:  # type: ignore[type-arg]
    cmd = ["mysql", f"--socket={sock}", "--batch", "--skip-column-names", f"--execute={query}"]
    env = dict(os.environ)
    if user:
        cmd.insert(1, f"--user={user}")
        env["MYSQL_PWD"] = password or ""
    return subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)


@pytest.fixture
def build(tmp_path: Path, mariadb: Path) -> Path:
    folder = tmp_path / "spec"
    folder.mkdir()
    spec = small_phase(folder, scheduler="scheduler:\n  accounting: true\n")
    plan, findings = plan_of(spec)
    assert plan is not None and plan.slurm is not None and plan.slurm.accounting, findings
    out = tmp_path / "build" / "phase1"
    renders.write(renders.render(plan), out)
    host_vars = out / "inventory" / "host_vars"
    host_vars.mkdir()
    values = {
        "ansible_connection": "local",
        "ansible_python_interpreter": sys.executable,
        "slurm_config_root": str(tmp_path / CTL),
        "slurm_manage_packages": False,
        "slurm_manage_services": False,
        "slurm_set_owners": False,
        "slurm_exporter": False,
        "phase_guard_state_dir": str(tmp_path / CTL / "state"),
        # The database is the test's: the role's client talks to it over its socket, as root (unix_socket).
        "slurm_dbd_manage_database": True,
        "slurm_mysql_command": ["mysql", f"--socket={mariadb}"],
    }
    (host_vars / f"{CTL}.yml").write_text(yaml.safe_dump(values))
    # A fresh database and user for each test.
    _sql(mariadb, "DROP DATABASE IF EXISTS slurm_acct_db; DROP USER IF EXISTS 'slurm'@'localhost';")
    return out


def _run(
    build: Path,
    password: str,
    events: list[dict] | None = None,  # type: ignore[type-arg]
    extravars: dict[str, object] | None = None,
    check: bool = False,
) -> ansible_run.RunReport:
    return ansible_run.run(
        build,
        phase="phase1",
        limit=CTL,
        tags=["slurm"],
        check=check,
        extravars=extravars,
        secret_vars={"vault_slurm_munge_key": KEY, "vault_slurm_dbd_password": password},
        on_event=(events.append if events is not None else None),
    )


def test_the_role_creates_the_database_and_a_user_the_vault_password_opens(
    build: Path, mariadb: Path, tmp_path: Path
) -> None:
    assert _sql(mariadb, "SELECT 1", user="slurm", password=PASSWORD).returncode != 0  # nothing yet
    events: list[dict] = []  # type: ignore[type-arg]
    first = _run(build, PASSWORD, events)
    assert first.succeeded, first.as_dict()
    got = _sql(mariadb, "SELECT DATABASE()", user="slurm", password=PASSWORD)
    assert got.returncode == 0, got.stderr
    made = _sql(
        mariadb, "CREATE TABLE slurm_acct_db.t (i INT); DROP TABLE slurm_acct_db.t", user="slurm", password=PASSWORD
    )
    assert made.returncode == 0, made.stderr  # the grant lets slurmdbd create its tables
    assert _sql(mariadb, "SELECT 1", user="slurm", password="not-the-password").returncode != 0
    conf = tmp_path / CTL / "etc" / "slurm" / "slurmdbd.conf"
    escaped = PASSWORD.replace("\\", "\\\\").replace("#", "\\#")
    assert f"StoragePass={escaped}\n" in conf.read_text() and (conf.stat().st_mode & 0o777) == 0o600
    assert "StorageLoc=slurm_acct_db" in conf.read_text() and "StorageUser=slurm" in conf.read_text()
    # The password is in no event of the run (argv, stdin and results are no_log).
    assert PASSWORD not in repr(events) and "acct-pw" not in repr(events)

    second = _run(build, PASSWORD)
    assert second.succeeded and second.hosts[CTL].changed == 0, second.as_dict()


def test_a_password_rotated_in_the_vault_reaches_the_database(build: Path, mariadb: Path) -> None:
    assert _run(build, PASSWORD).succeeded
    rotated = "rotated-" + PASSWORD[::-1]
    again = _run(build, rotated)
    assert again.succeeded and again.hosts[CTL].changed > 0, again.as_dict()
    assert _sql(mariadb, "SELECT 1", user="slurm", password=rotated).returncode == 0
    assert _sql(mariadb, "SELECT 1", user="slurm", password=PASSWORD).returncode != 0


@pytest.mark.parametrize("password", ["two words", "tab\there", '"leading-quote', "line\nbreak"])
def test_a_password_slurmdbd_conf_cannot_hold_is_refused_naming_the_variable(
    build: Path, mariadb: Path, tmp_path: Path, password: str
) -> None:
    events: list[dict] = []  # type: ignore[type-arg]
    result = _run(build, password, events)
    assert not result.succeeded
    failed = [e for e in events if e.get("event") == "runner_on_failed"]
    assert failed and "vault_slurm_dbd_password holds whitespace" in repr(failed[0]["event_data"]["res"])
    assert password not in repr(events)
    assert not (tmp_path / CTL / "etc" / "slurm" / "slurmdbd.conf").exists()
    assert _sql(mariadb, "SHOW DATABASES LIKE 'slurm_acct_db'").stdout.strip() == ""


def test_check_mode_creates_nothing(build: Path, mariadb: Path) -> None:
    result = _run(build, PASSWORD, check=True)
    assert result.succeeded, result.as_dict()
    assert _sql(mariadb, "SHOW DATABASES LIKE 'slurm_acct_db'").stdout.strip() == ""


# --- slurmdbd for real: the role's slurmdbd.conf opens the database, its sacctmgr commands register the plan ---

ACCOUNTS = (
    "scheduler:\n  accounting: true\n"
    "  qos: [{name: gold, priority: 100, max_wall_minutes: 1440, max_gpus_per_user: 64}, {name: bronze}]\n"
    # the child first: the plan must hand sacctmgr the parent first, or `add account` fails on a missing parent
    "  accounts:\n    - {name: vision, parent: research, qos: [bronze]}\n"
    "    - {name: research, fairshare: 10, qos: [gold, bronze]}\n"
)


@pytest.fixture
def dbd_build(tmp_path: Path, mariadb: Path, build: Path) -> Path:
    """The `build` fixture's render re-made with accounts and QoS."""
    folder = tmp_path / "spec-acct"
    folder.mkdir()
    plan, findings = plan_of(small_phase(folder, scheduler=ACCOUNTS))
    assert plan is not None and plan.slurm is not None and len(plan.slurm.accounts) == 2, findings
    host_vars = (build / "inventory" / "host_vars" / f"{CTL}.yml").read_text()
    renders.write(renders.render(plan), build)
    (build / "inventory" / "host_vars").mkdir(exist_ok=True)  # the render replaced the tree
    (build / "inventory" / "host_vars" / f"{CTL}.yml").write_text(host_vars)
    return build


DBD_ADDRESS = "172.31.255.1"
"""slurm1's address in the test's namespace (the lab's Slurm range, which no network of the plan uses)."""


@contextlib.contextmanager
def _slurmdbd(plan: Plan, conf_dir: Path, munge_key: Path, mariadb: Path, work: Path) -> Iterator[Path]:
    """munged, slurmdbd and slurmctld of Debian 13's Slurm 24.11 in their own network, mount and UTS namespaces
    (host name slurm1, the render's DbdHost and first controller), chrooted into the lab's root, with the role's
    /etc/slurm and the test's MariaDB socket at /run/mysqld; slurmctld runs on the role's slurm.conf with the lab's
    overrides (no node runs: it registers the cluster's TRES, which a QoS's GPU limit needs). Yields a sacctmgr
    wrapper that runs next to them."""
    from kasbah import netns
    from kasbah.lab import procs
    from kasbah.lab.slurm import LAB_CONF_DIR, Cluster, _daemon_script, _dir, _root_ids, lab_conf
    from kasbah.lab.slurm_root import missing, root_dir

    problem = missing()
    if problem:
        pytest.skip(problem)
    root = root_dir()
    ns = f"kdbd{os.getpid() % 100000}"
    munge_ids = _root_ids(root, "munge")
    munge = _dir(work / "munge", munge_ids, 0o700)
    shutil.copyfile(munge_key, munge / "munge.key")
    os.chown(munge / "munge.key", *munge_ids)
    (munge / "munge.key").chmod(0o400)
    munge_run = _dir(work / "munge-run", munge_ids)
    hosts = work / "hosts"
    assert plan.slurm is not None
    nodes = [n.name for n in plan.slurm.nodes]
    names = ["127.0.0.1 localhost", f"{DBD_ADDRESS} {CTL}", "172.31.255.2 slurm2"]
    names += [f"127.0.{1 + i // 250}.{1 + i % 250} {n}" for i, n in enumerate(nodes)]  # named, never reached
    hosts.write_text("\n".join(names) + "\n")
    started: list[int] = []
    netns.add_namespace(ns)
    try:
        # An address besides loopback: slurmdbd binds with AI_ADDRCONFIG, which finds no family on loopback alone.
        # (A veth pair inside the namespace: this kernel has no dummy links.)
        netns.run(["ip", "link", "add", "eth0", "type", "veth", "peer", "name", "eth1"], netns=ns)
        netns.run(["ip", "addr", "add", f"{DBD_ADDRESS}/32", "dev", "eth0"], netns=ns)
        for link in ("eth0", "eth1"):
            netns.run(["ip", "link", "set", link, "up"], netns=ns)
        script = _daemon_script(
            root,
            CTL,
            [
                (munge, "/etc/munge", False),
                (_dir(munge / "lib", munge_ids, 0o700), "/var/lib/munge", False),
                (_dir(munge / "log", munge_ids, 0o700), "/var/log/munge", False),
                (_dir(work / "munged-run"), "/run", False),
                (munge_run, "/run/munge", False),
            ],
            ["/usr/sbin/munged", "--foreground"],
            user=munge_ids,
        )
        shell = ["unshare", "--mount", "--uts", "--propagation", "private", "--", "/bin/sh", "-c"]
        started.append(procs.start_daemon([*shell, script], work / "munged.log", netns=ns))
        _wait(lambda: (munge_run / "munge.socket.2").exists(), 10, work / "munged.log")
        # The owner a real host gives it (slurm_set_owners): slurmdbd refuses a conf its SlurmUser does not own.
        slurm_ids = _root_ids(root, "slurm")
        os.chown(conf_dir / "slurmdbd.conf", *slurm_ids)
        logs = _dir(work / "log", slurm_ids)
        script = _daemon_script(
            root,
            CTL,
            [
                (hosts, "/etc/hosts", True),
                (conf_dir, "/etc/slurm", True),
                (_dir(work / "run"), "/run", False),
                (munge_run, "/run/munge", False),
                (mariadb.parent, "/run/mysqld", False),  # libmariadb's default socket: /run/mysqld/mysqld.sock
                (logs, "/var/log/slurm", False),
            ],
            ["/usr/sbin/slurmdbd", "-D"],
        )
        pid = procs.start_daemon([*shell, script], work / "slurmdbd.out", netns=ns)
        started.append(pid)
        sacctmgr = work / "sacctmgr"
        sacctmgr.write_text(
            f"#!/bin/sh\nexec nsenter -t {pid} -m -n -u -r -- /usr/bin/env -C /tmp "
            'SLURM_CONF=/etc/slurm/slurm.conf sacctmgr "$@"\n'
        )
        sacctmgr.chmod(0o755)

        def answers() -> bool:
            assert netns.pid_alive(pid), (logs / "slurmdbd.log").read_text(errors="replace")[-3000:]
            return subprocess.run([sacctmgr, "-n", "show", "cluster"], capture_output=True).returncode == 0

        _wait(answers, 60, logs / "slurmdbd.log")
        lab_conf(Cluster(conf_dir, list(plan.slurm.controllers), nodes), work / "etc")
        state = _dir(work / "ctl-lib", slurm_ids)
        _dir(state / "slurmctld", slurm_ids)
        script = _daemon_script(
            root,
            CTL,
            [
                (hosts, "/etc/hosts", True),
                (conf_dir, "/etc/slurm", True),
                (work / "etc", LAB_CONF_DIR, True),
                (_dir(work / "ctl-run"), "/run", False),
                (munge_run, "/run/munge", False),
                (state, "/var/lib/slurm", False),
                (_dir(work / "ctl-log", slurm_ids), "/var/log/slurm", False),
            ],
            ["/usr/sbin/slurmctld", "-D", "-i", "-f", f"{LAB_CONF_DIR}/slurm.conf"],
        )
        started.append(procs.start_daemon([*shell, script], work / "slurmctld.out", netns=ns))
        yield sacctmgr
    finally:
        for pid in reversed(started):
            procs.stop_pid(pid, timeout=10)
        for pid in netns.namespace_pids(ns):
            procs.stop_pid(pid, timeout=2)
        netns.delete_namespace(ns)


def _wait(ok: Callable[[], bool], timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not ok():
        assert time.monotonic() < deadline, f"timed out after {timeout:.0f} s: {log}"
        time.sleep(0.5)


def _rows(sacctmgr: Path, *args: str) -> list[list[str]]:
    out = subprocess.run([sacctmgr, "-n", "-P", *args], capture_output=True, text=True, check=True).stdout
    return [line.split("|") for line in out.splitlines() if line]


def test_slurmdbd_runs_on_the_roles_config_and_the_role_registers_the_plans_accounts(
    dbd_build: Path, mariadb: Path, tmp_path: Path
) -> None:
    """Debian 13's slurmdbd 24.11 starts on the slurmdbd.conf the role wrote (the vault's password opens the
    role's database, slurmdbd creates its tables); the role's sacctmgr commands then register the cluster, the QoS
    with their limits and the accounts under their parents, and a second run changes nothing."""
    first = _run(dbd_build, PASSWORD)  # database, user, slurmdbd.conf; slurmdbd is not running yet
    assert first.succeeded, first.as_dict()
    plan, _ = plan_of(tmp_path / "spec-acct" / "phase1.yaml")
    assert plan is not None and plan.slurm is not None
    cluster = plan.slurm.cluster_name
    with _slurmdbd(
        plan,
        tmp_path / CTL / "etc" / "slurm",
        tmp_path / CTL / "etc" / "munge" / "munge.key",
        mariadb,
        tmp_path / "dbd",
    ) as sacctmgr:
        tables = _sql(mariadb, "SHOW TABLES FROM slurm_acct_db").stdout.split()
        assert "cluster_table" in tables and "acct_table" in tables, tables  # slurmdbd opened the database
        register = {
            "slurm_dbd_register": True,
            "slurm_sacctmgr": str(sacctmgr),
            "slurm_verify_retries": 60,
            "slurm_verify_delay": 1,
        }
        events: list[dict] = []  # type: ignore[type-arg]
        second = _run(dbd_build, PASSWORD, events, extravars=register)
        failed = [e["event_data"]["res"] for e in events if e.get("event") == "runner_on_failed"]
        # slurmctld registered the cluster itself; the QoS task and the accounts task each added theirs
        assert second.succeeded and second.hosts[CTL].changed == 2, json.dumps(failed)[:3000]
        assert PASSWORD not in repr(events)

        assert [cluster] in _rows(sacctmgr, "show", "cluster", "format=cluster")
        qos = {r[0]: r[1:] for r in _rows(sacctmgr, "show", "qos", "format=name,priority,maxwall,maxtrespu")}
        assert qos["gold"] == ["100", "1-00:00:00", "gres/gpu=64"], qos
        assert qos["bronze"] == ["0", "", ""], qos
        assoc = {
            r[0]: (r[2], r[3], set(r[4].split(",")))
            for r in _rows(sacctmgr, "show", "assoc", f"cluster={cluster}", "format=account,user,parentname,share,qos")
            if not r[1] and r[0] != "root"
        }
        assert assoc == {
            "research": ("root", "10", {"gold", "bronze"}),
            "vision": ("research", "1", {"bronze"}),
        }, assoc

        third = _run(dbd_build, PASSWORD, extravars=register)
        assert third.succeeded and third.hosts[CTL].changed == 0, third.as_dict()
