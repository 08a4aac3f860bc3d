"""The slurm role's accounting database, for real: a MariaDB the test starts on a private socket (Debian's
mariadb-server, which `.ci/setup` installs and the role installs on the accounting host), the role run through
ansible-runner on the accounting controller. It creates the database and a user that the vault's password opens,
changes nothing on a second run, follows a password rotated in the vault, and never shows the password."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from kasbah import ansible_run
from kasbah import render as renders
from tests.conftest import plan_of
from tests.test_plan_slurm import small_phase

KEY = "k" * 48
PASSWORD = "acct-pw-'quote\\back-9Qz"
CTL = "slurm1"

pytestmark = pytest.mark.skipif(
    shutil.which("mariadbd") is None or shutil.which("mariadb-install-db") is None or os.geteuid() != 0,
    reason="needs Debian's mariadb-server (.ci/setup installs it) and root (its unix_socket root login)",
)


@pytest.fixture(scope="module")
def mariadb() -> Iterator[Path]:
    """A MariaDB server on a private socket and data directory, stopped and removed afterwards."""
    work = Path(tempfile.mkdtemp(prefix="kasbah-mariadb-"))
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


def _run(build: Path, password: str, events: list[dict] | None = None) -> ansible_run.RunReport:  # type: ignore[type-arg]
    return ansible_run.run(
        build,
        phase="phase1",
        limit=CTL,
        tags=["slurm"],
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
    assert f"StoragePass={PASSWORD}\n" in conf.read_text() and (conf.stat().st_mode & 0o777) == 0o600
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


def test_check_mode_creates_nothing(build: Path, mariadb: Path) -> None:
    result = ansible_run.run(
        build,
        phase="phase1",
        limit=CTL,
        tags=["slurm"],
        check=True,
        secret_vars={"vault_slurm_munge_key": KEY, "vault_slurm_dbd_password": PASSWORD},
    )
    assert result.succeeded, result.as_dict()
    assert _sql(mariadb, "SHOW DATABASES LIKE 'slurm_acct_db'").stdout.strip() == ""
