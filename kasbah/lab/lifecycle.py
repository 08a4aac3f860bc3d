"""`kasbah lab up` and `down`: the phase on one machine, built in an order that can always be undone.

`up` records each namespace, process and directory in the state file the moment it exists; if any step fails, it
takes down what it made and reports the step. The edge routers start empty and get their configuration the way the
campus's do: `kasbah apply --tags wan_edge,monitoring` with the lab's overlay inventory, which points Ansible's
interpreter into each router's namespace. Session passwords and webhook tokens are random per lab and reach
`kasbah apply` only as VAULT_* environment variables.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from kasbah import netns
from kasbah.lab import monitoring as labmon
from kasbah.lab import network, procs
from kasbah.lab.state import LabState, lab_dir, namespace_prefix
from kasbah.plan.derive import Plan
from kasbah.plan.lab import CAMPUS_NODE

Say = Callable[[str], None]

REQUIRED: dict[str, str] = {
    "/usr/sbin/ip": "iproute2",
    "/usr/sbin/nft": "nftables",
    "/usr/bin/ping": "iputils-ping",
    "/usr/lib/frr/zebra": "frr",
    "/usr/lib/frr/bgpd": "frr",
    "/usr/lib/frr/bfdd": "frr",
    "/usr/bin/vtysh": "frr",
    "/usr/lib/frr/frr-reload.py": "frr-pythontools",
    "/usr/bin/prometheus": "prometheus",
    "/usr/bin/promtool": "prometheus",
    "/usr/bin/prometheus-alertmanager": "prometheus-alertmanager",
    "/usr/bin/amtool": "prometheus-alertmanager",
    "/usr/bin/prometheus-blackbox-exporter": "prometheus-blackbox-exporter",
}
"""What the lab runs, and the Debian package that installs each (`bash .ci/run` installs them all)."""


class LabError(RuntimeError):
    """Something the operator must act on; the message says what and how."""


def _which(path: str) -> bool:
    return Path(path).exists() or shutil.which(Path(path).name) is not None


def preflight() -> None:
    """Root, namespaces, the frr user and every binary, checked before anything is made."""
    if os.geteuid() != 0:
        raise LabError("the lab needs root (network namespaces, veth links, FRR): run it with sudo")
    if not Path("/proc/self/ns/net").exists():
        raise LabError("this kernel has no network namespaces (/proc/self/ns/net): the lab cannot run here")
    missing = sorted({pkg for path, pkg in REQUIRED.items() if not _which(path)})
    if missing:
        raise LabError(f"missing Debian package(s): {', '.join(missing)}: apt-get install {' '.join(missing)}")
    try:
        import pwd

        pwd.getpwnam(netns.FRR_USER)
    except KeyError:
        raise LabError("user frr does not exist: install the frr package") from None
    try:
        import moto.server  # noqa: F401
    except ImportError:
        raise LabError("moto's server is not installed: pip install 'moto[server]'") from None


def current() -> LabState | None:
    return LabState.load(lab_dir())


def _check_free(directory: Path, prefix: str) -> None:
    state = LabState.load(directory)
    if state is not None:
        if state.status == "up":
            raise LabError(
                f"a lab is already up for {state.phase} ({state.spec}), state in {state.path}: `kasbah lab down` first"
            )
        if netns.pid_alive(state.pid):
            raise LabError(f"`kasbah lab up` (PID {state.pid}) is still starting a lab for {state.phase}: wait")
        raise LabError(
            f"a lab for {state.phase} was half-started (its `lab up` is gone): `kasbah lab down` removes what it made"
        )
    if directory.exists() and any(directory.iterdir()):
        raise LabError(f"{directory} exists and holds no lab: set KASBAH_LAB_DIR to an absent or empty directory")
    leftover = sorted(ns for ns in netns.namespaces() if ns.startswith(f"{prefix}-"))
    if leftover:
        raise LabError(
            f"namespace(s) {', '.join(leftover)} exist but no lab state records them; remove them "
            f"(`ip netns delete NAME`) or set KASBAH_LAB_PREFIX to another prefix"
        )


def up(spec: Path, plan: Plan, say: Say) -> LabState:
    """Start the lab for `plan`; on any failure take down what was made and raise LabError naming the step."""
    from kasbah import render as renders

    preflight()
    directory, prefix = lab_dir(), namespace_prefix()
    _check_free(directory, prefix)
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o755)
    state = LabState(dir=str(directory), spec=str(spec.resolve()), phase=plan.phase, prefix=prefix, pid=os.getpid())
    state.save()
    t0 = time.monotonic()
    step = "start"
    try:
        step = "render the phase"
        build = directory / "build" / plan.phase
        renders.write(renders.render(plan), build)
        step = "build the namespaces and links"
        say(f"namespaces: {len(plan.lab.nodes)}, links: {len(plan.lab.links)}")
        network.build(plan, state)
        step = "start FRR"
        passwords = {s.password_var: secrets.token_hex(12) for r in plan.edge.routers for s in r.sessions}
        network.start_routers(plan, state, passwords)
        say(f"FRR: {len(state.frr)} routers")
        step = "start the S3 endpoint"
        _start_storage(plan, state, say)
        step = "start Prometheus, Alertmanager and the blackbox exporter"
        source = labmon.lab_source(build, directory / "monitoring-source")
        campus_ns = state.netns(CAMPUS_NODE)
        for name, pid in sorted(labmon.start(campus_ns, directory / "monitoring").items()):
            state.add_process(name, pid, campus_ns, directory / "monitoring", expect=name)
        step = "apply the wan_edge and monitoring roles (kasbah apply)"
        tokens = {var: secrets.token_hex(12) for var in labmon.token_vars(source)}
        overlay = _overlay(plan, state, source)
        _apply(spec, build, overlay, {**passwords, **tokens}, state, say)
        step = "wait for the BGP and BFD sessions"
        state.timings["sessions_s"] = round(_wait_sessions(plan, state), 2)
        state.status = "up"
        state.timings["up_s"] = round(time.monotonic() - t0, 1)
        state.save()
    except BaseException as exc:
        say(f"lab up failed at: {step}; taking down what it made")
        down(state, say=lambda _m: None)
        if isinstance(exc, Exception):  # every failure is reported as the step it broke; Ctrl-C stays Ctrl-C
            raise LabError(f"could not {step}: {exc}") from None
        raise
    return state


def _start_storage(plan: Plan, state: LabState, say: Say) -> None:
    from kasbah import buckets
    from kasbah.bootstrap import bootstrap
    from kasbah.lab import s3

    directory = Path(state.dir)
    port = s3.free_port("127.0.0.1")
    log = directory / "logs" / "moto.log"
    s3.start_moto(
        "127.0.0.1", port, log, on_start=lambda pid: state.add_process("moto", pid, None, log, expect="moto.server")
    )
    state.s3_endpoint = f"http://127.0.0.1:{port}"
    state.save()
    os.environ.update(buckets.lab_credentials())
    result = bootstrap(state.s3_endpoint, plan.storage.state_bucket, plan.storage.region)
    changes = buckets.ensure_buckets(state.s3_endpoint, plan.storage, campus=plan.campus)
    say(
        f"S3 on {state.s3_endpoint}: state bucket {result.bucket}, {len(plan.storage.buckets)} buckets "
        f"({len(changes)} settings applied)"
    )


def _overlay(plan: Plan, state: LabState, source: Path) -> Path:
    """The lab's inventory layer: how Ansible reaches each router and the monitoring host inside its namespace."""
    directory = Path(state.dir)
    instances = network.frr_instances(state)
    edges = {}
    for router in plan.edge.routers:
        inst = instances[router.id]
        edges[router.id] = {
            "ansible_connection": "local",
            "ansible_python_interpreter": str(procs.python_in(inst.netns, directory / "bin" / f"python-{router.id}")),
            "wan_edge_config_dir": str(inst.config_dir),
            "wan_edge_reload_command": " ".join(inst.reload_command()),
            "wan_edge_vtysh_command": " ".join(inst.vtysh_args()),
            "wan_edge_verify_retries": 60,
            "wan_edge_verify_delay": 1,
        }
    monitors = [h.name for h in plan.service_hosts if h.role == "monitoring"]
    campus_ns = state.netns(CAMPUS_NODE)
    mon_vars = labmon.host_vars(campus_ns, directory / "monitoring", source, directory / "bin" / "python-campus")
    inventory = {
        "all": {
            "children": {
                "edge_routers": {"hosts": edges},
                "monitoring": {"hosts": dict.fromkeys(monitors, mon_vars)},
            }
        }
    }
    path = directory / "inventory.yml"
    path.write_text(yaml.safe_dump(inventory, sort_keys=True), encoding="utf-8")
    return path


def kasbah_command() -> list[str]:
    return [sys.executable, "-m", "kasbah.cli"]


def _apply(spec: Path, build: Path, overlay: Path, secret_vars: dict[str, str], state: LabState, say: Say) -> None:
    directory = Path(state.dir)
    log = directory / "logs" / "apply.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **{k.upper(): v for k, v in secret_vars.items()}, "COLUMNS": "160"}
    args = [
        *kasbah_command(),
        "apply",
        str(spec),
        "--build",
        str(build),
        "--tags",
        "wan_edge,monitoring",
        "--limit",
        "edge_routers:monitoring",
        "--inventory",
        str(overlay),
        "--out",
        str(directory / "build"),
        "--report",
        str(directory / "apply.json"),
    ]
    say("kasbah apply --tags wan_edge,monitoring --limit edge_routers:monitoring (the lab's inventory overlay)")
    t0 = time.monotonic()
    with log.open("w", encoding="utf-8") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env)
        state.add_process("kasbah apply", proc.pid, None, log, expect="kasbah.cli")
        proc.wait(timeout=900)
    if proc.returncode != 0:
        tail = "\n".join(log.read_text(encoding="utf-8").splitlines()[-8:])
        raise LabError(f"kasbah apply exited {proc.returncode} (log {log}):\n{tail}")
    say(f"applied in {time.monotonic() - t0:.1f} s (report {directory / 'apply.json'})")


def _wait_sessions(plan: Plan, state: LabState, timeout: float = 60) -> float:
    t0 = time.monotonic()
    instances = network.frr_instances(state)
    loopbacks = {r.id: r.loopback.split("/")[0] for r in plan.edge.routers}
    for router in plan.edge.routers:
        peers = [s.peer_address for s in router.sessions]
        instances[router.id].wait_for_sessions(peers, timeout=timeout, bfd=True)
        ibgp = [a for r, a in loopbacks.items() if r != router.id]
        instances[router.id].wait_for_sessions(ibgp, timeout=timeout)
    return time.monotonic() - t0


def down(state: LabState | None, say: Say) -> bool:
    """Stop every recorded process by PID, delete the recorded namespaces and the lab's directory; idempotent."""
    if state is None:
        return False
    recorded = {
        p.pid: p.expect
        for p in state.processes
        if p.pid > 0 and netns.pid_alive(p.pid) and p.expect in procs.command_line(p.pid)
    }
    # Whatever runs inside the lab's own namespaces is the lab's too: a daemon started just before a crash, before
    # its PID reached the state file, or a drill's ping.
    inside = {pid: None for ns in state.namespaces for pid in netns.namespace_pids(ns) if pid not in recorded}
    ours: dict[int, str | None] = {**recorded, **inside}
    for pid in ours:  # TERM to all first, so the shutdowns overlap
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)
    for pid, expect in ours.items():
        procs.stop_pid(pid, timeout=8, expect=expect)
    for ns in reversed(state.namespaces):
        netns.delete_namespace(ns)
    shutil.rmtree(state.dir, ignore_errors=True)
    say(f"stopped {len(ours)} process(es), deleted {len(state.namespaces)} namespace(s) and {state.dir}")
    return True
