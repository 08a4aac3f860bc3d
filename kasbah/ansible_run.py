"""Run the playbooks on a rendered phase through ansible-runner: the entry point of `kasbah apply` and of Pulumi's
command resources.

Each run gets a fresh private data directory and `suppress_env_files`, because ansible-runner otherwise writes the
command line and variables into `env/` and silently reuses them on the next run (a "real" run would stay in check
mode). Per-host results come from the runner's events and stats; the report names the failed and unreachable hosts
so `--limit` can retry exactly them.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO_PLAYBOOKS = Path(__file__).resolve().parents[1] / "playbooks"
TAGS = ("base", "gpu", "fabric", "wan_edge", "monitoring", "slurm")
"""The tags every play carries; `--tags` accepts these."""

OUTCOMES = ("ok", "changed", "failed", "unreachable", "skipped")
GUARD_NOTICE_TASK = "Leave the host as a newer phase configured it"
"""The phase_guard task whose message `kasbah apply` repeats: a host a newer phase owns was left unchanged."""


class ApplyError(Exception):
    """Something the operator must fix before a run can start (missing playbook, inventory, vault password)."""


@dataclass
class HostResult:
    ok: int = 0
    changed: int = 0
    failed: int = 0
    unreachable: int = 0
    skipped: int = 0
    failed_tasks: list[str] = field(default_factory=list)


@dataclass
class RunReport:
    phase: str
    playbook: str
    check: bool
    limit: str | None
    tags: list[str]
    status: str
    rc: int
    hosts: dict[str, HostResult]
    notices: list[str] = field(default_factory=list)
    """What the phase guard said of hosts it left unchanged (a newer phase owns them)."""

    @property
    def failed_hosts(self) -> list[str]:
        return sorted(h for h, r in self.hosts.items() if r.failed)

    @property
    def unreachable_hosts(self) -> list[str]:
        return sorted(h for h, r in self.hosts.items() if r.unreachable)

    @property
    def retry_limit(self) -> str | None:
        """The `--limit` that re-runs exactly the hosts that did not finish."""
        hosts = sorted(set(self.failed_hosts) | set(self.unreachable_hosts))
        return ",".join(hosts) or None

    @property
    def succeeded(self) -> bool:
        return self.rc == 0 and not self.failed_hosts and not self.unreachable_hosts

    def totals(self) -> dict[str, int]:
        return {o: sum(1 for r in self.hosts.values() if getattr(r, o)) for o in OUTCOMES}

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        data.update(
            failed_hosts=self.failed_hosts,
            unreachable_hosts=self.unreachable_hosts,
            retry_limit=self.retry_limit,
            totals=self.totals(),
        )
        return data


EventHook = Callable[[str, str], None]
"""Called with (host, outcome) after each task result, for progress views."""

_EVENT_OUTCOME = {
    "runner_on_ok": "ok",
    "runner_on_failed": "failed",
    "runner_on_unreachable": "unreachable",
    "runner_on_skipped": "skipped",
}


def run(
    build: Path,
    *,
    phase: str,
    playbook: Path | None = None,
    check: bool = False,
    limit: str | None = None,
    tags: list[str] | None = None,
    extravars: dict[str, object] | None = None,
    vault_password_file: Path | None = None,
    on_result: EventHook | None = None,
    on_event: Callable[[dict], None] | None = None,
    secret_vars: dict[str, str] | None = None,
    inventories: list[Path] | None = None,
) -> RunReport:
    import ansible_runner

    playbook = (playbook or REPO_PLAYBOOKS / "site.yml").resolve()
    build = build.resolve()
    inventory = build / "inventory" / "kasbah.yml"
    config = build / "ansible.cfg"
    if not playbook.is_file():
        raise ApplyError(f"playbook {playbook} not found: run from a Kasbah checkout (playbooks/site.yml)")
    if not inventory.is_file() or not config.is_file():
        raise ApplyError(f"{build} holds no rendered inventory: run `kasbah render` first (or drop --build)")
    for extra in inventories or []:
        if not extra.is_file():
            raise ApplyError(f"inventory {extra} not found")
    if vault_password_file is not None and not vault_password_file.is_file():
        raise ApplyError(f"vault password file {vault_password_file} not found")
    unknown = sorted(set(tags or ()) - set(TAGS))
    if unknown:
        raise ApplyError(f"unknown tag(s) {', '.join(unknown)}: the plays are tagged {', '.join(TAGS)}")
    binaries = str(Path(sys.executable).parent)
    env = {
        "ANSIBLE_CONFIG": str(config),
        "PATH": f"{binaries}{os.pathsep}{os.environ.get('PATH', '')}",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_NOCOLOR": "1",
    }
    cmdline: list[str] = []
    if check:
        cmdline.append("--check")
    if vault_password_file is not None:
        cmdline += ["--vault-password-file", str(vault_password_file.resolve())]
    hosts: dict[str, HostResult] = {}
    notices: list[str] = []

    def handler(event: dict) -> bool:
        if on_event is not None:
            on_event(event)
        outcome = _EVENT_OUTCOME.get(event.get("event", ""))
        data = event.get("event_data", {})
        host = data.get("host")
        if outcome is None or host is None:
            return True
        result = hosts.setdefault(host, HostResult())
        msg = data.get("res", {}).get("msg")
        if outcome == "ok" and data.get("task") == GUARD_NOTICE_TASK and isinstance(msg, str):
            notices.append(" ".join(msg.split()))
        if outcome == "ok" and data.get("res", {}).get("changed"):
            outcome = "changed"
        if outcome == "failed" and data.get("ignore_errors"):
            outcome = "ok"
        setattr(result, outcome, getattr(result, outcome) + 1)
        if outcome in ("failed", "unreachable"):
            result.failed_tasks.append(str(data.get("task", "")))
        if on_result is not None:
            on_result(host, outcome)
        return True

    private = Path(tempfile.mkdtemp(prefix="kasbah-run-"))
    try:
        if secret_vars:
            # Never on the command line (visible in ps) nor in runner's env/ files: a 0600 file removed after the run.
            secrets = private / "secret_vars.json"
            secrets.touch(mode=0o600)
            secrets.write_text(json.dumps(secret_vars), encoding="utf-8")
            cmdline += ["--extra-vars", f"@{secrets}"]
        r = ansible_runner.run(
            private_data_dir=str(private),
            playbook=str(playbook),
            # Later sources win: an overlay (the lab's connection variables) layers over the rendered inventory.
            inventory=[str(inventory), *(str(i.resolve()) for i in inventories or [])],
            envvars=env,
            extravars=extravars or {},
            limit=limit,
            tags=",".join(tags) if tags else None,
            cmdline=" ".join(cmdline) or None,
            suppress_env_files=True,
            quiet=True,
            event_handler=handler,
        )
        stats = r.stats or {}  # read from the artifacts, so before they go
        status, rc = str(r.status), int(r.rc if r.rc is not None else 1)
    finally:
        shutil.rmtree(private, ignore_errors=True)
    for host in stats.get("dark", {}):
        hosts.setdefault(host, HostResult()).unreachable = max(hosts[host].unreachable, 1)
    for host in stats.get("failures", {}):
        hosts.setdefault(host, HostResult()).failed = max(hosts[host].failed, 1)
    for host in stats.get("ok", {}):
        hosts.setdefault(host, HostResult())
    # A no_log task's events are censored, `changed` included: the play's own recap still counts it.
    for host, count in stats.get("changed", {}).items():
        result = hosts.setdefault(host, HostResult())
        if count > result.changed:
            result.ok = max(result.ok - (count - result.changed), 0)
            result.changed = count
    return RunReport(
        phase=phase,
        playbook=str(playbook),
        check=check,
        limit=limit,
        tags=list(tags or []),
        status=status,
        rc=rc,
        hosts=dict(sorted(hosts.items())),
        notices=sorted(set(notices)),
    )


def secrets_from_environment(environ: dict[str, str]) -> dict[str, str]:
    """`VAULT_BGP_PASSWORD_EDGE1_MTWA_NORTH=...` -> `vault_bgp_password_edge1_mtwa_north`: how Pulumi's command
    resources hand `kasbah apply` the secrets of its stack config without writing them anywhere."""
    return {k.lower(): v for k, v in sorted(environ.items()) if k.startswith("VAULT_") and len(k) > len("VAULT_")}


def write_report(report: RunReport, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report.as_dict(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
