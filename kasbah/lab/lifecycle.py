"""`kasbah lab up` and `down`: the phase on one machine, built in an order that can always be undone.

`up` records each namespace, process and directory in the state file the moment it exists; if any step fails, it
takes down what it made and reports the step. The edge routers start empty and get their configuration the way the
campus's do: `kasbah apply --tags wan_edge,monitoring` with the lab's overlay inventory, which points Ansible's
interpreter into each router's namespace. Session passwords and webhook tokens are random per lab and reach
`kasbah apply` only as VAULT_* environment variables.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from kasbah import netns
from kasbah.lab import monitoring as labmon
from kasbah.lab import network, procs
from kasbah.lab import slurm as labslurm
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
    "/usr/bin/prometheus-frr-exporter": "prometheus-frr-exporter",
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
        from kasbah.spec.load import load_spec

        renders.write(renders.render_phase(load_spec(spec), plan), build)
        step = "build the namespaces and links"
        say(f"namespaces: {len(plan.lab.nodes)}, links: {len(plan.lab.links)}")
        network.build(plan, state)
        step = "start FRR"
        # One source of truth for the lab's secrets: what the newest stack requires (every session password, every
        # webhook token); earlier stacks require a subset. The stand-ins need the passwords before any step runs.
        from kasbah.pulumi_program import required_secrets

        vault = LabVault(directory)
        passwords = vault.for_stack(required_secrets(plan))
        network.start_routers(plan, state, passwords)
        say(f"FRR: {len(state.frr)} routers")
        step = "start the S3 endpoint"
        _start_storage(plan, state, say)
        step = "start Prometheus, Alertmanager and the blackbox exporter"
        source = labmon.lab_source(build, directory / "monitoring-source" / plan.phase)
        campus_ns = state.netns(CAMPUS_NODE)
        for name, pid in sorted(labmon.start(campus_ns, directory / "monitoring").items()):
            state.add_process(name, pid, campus_ns, directory / "monitoring", expect=name)
        step = "start the edge routers' FRR exporters and the alert webhook sinks"
        labmon.start_frr_exporters(plan, state, network.frr_instances(state))
        labmon.start_sinks(state, campus_ns, labmon.sink_owners(source))
        step = "start Slurm (slurmctld, one slurmd per tray)"
        labslurm.lab_up(plan, state, build, say)
        step = "deploy the phase stacks' on-premises steps"
        for summary in plan.phases:
            phase_spec = spec if summary.id == plan.phase else Path(summary.file)
            deploy(phase_spec, state, say, vault=vault)
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


class LabVault:
    """The lab's secrets (session passwords, webhook tokens, anything else a stack requires): random per lab, kept
    in one 0600 file of the lab's directory (the lab's stand-in for the campus's vault and `pulumi config set
    --secret`), so every stack deployed on the lab gets the same values. Never in a log, report, render or state."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / "vault.json"
        self.values: dict[str, str] = {}
        if self.path.is_file():
            self.values = json.loads(self.path.read_text(encoding="utf-8"))

    def add(self, values: dict[str, str]) -> None:
        for key, value in values.items():
            self.values.setdefault(key, value)
        self.path.touch(mode=0o600)
        self.path.chmod(0o600)
        self.path.write_text(json.dumps(self.values, sort_keys=True), encoding="utf-8")

    def for_stack(self, keys: list[str]) -> dict[str, str]:
        """Values of a stack's required secrets: the lab's S3 keys, and a random value for any new one."""
        from kasbah import buckets

        creds = buckets.lab_credentials()
        fixed = {"s3AccessKey": creds["AWS_ACCESS_KEY_ID"], "s3SecretKey": creds["AWS_SECRET_ACCESS_KEY"]}
        self.add({k: secrets.token_hex(12) for k in keys if k not in fixed and k not in self.values})
        return {k: fixed.get(k) or self.values[k] for k in keys}


def _overlay(plan: Plan, state: LabState, source: Path) -> tuple[Path, set[str]]:
    """The lab's inventory layer for one phase's steps: how Ansible reaches each router and the monitoring host
    inside its namespace, and where each host keeps its phase record (namespaces share one filesystem). Returns
    the overlay and the hosts and groups it gives the lab (what a step's --limit must stay within)."""
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
            "wan_edge_restart_command": inst.restart_command(),
            # The lab starts each edge's FRR exporter itself, in its namespace, with the same listen address (the
            # host has Debian's package from .ci/setup); the role's ARGS line is written beside the router's state.
            "wan_edge_exporter_install": False,
            "wan_edge_exporter_defaults_file": str(directory / "hosts" / router.id / "prometheus-frr-exporter"),
            "wan_edge_exporter_restart_command": "true",
            "wan_edge_vtysh_command": " ".join(inst.vtysh_args()),
            "wan_edge_verify_retries": 60,
            "wan_edge_verify_delay": 1,
            "phase_guard_state_dir": str(directory / "hosts" / router.id),
        }
    monitors = [h.name for h in plan.service_hosts if h.role == "monitoring"]
    campus_ns = state.netns(CAMPUS_NODE)
    mon_vars = labmon.host_vars(campus_ns, directory / "monitoring", source, directory / "bin" / "python-campus")
    inventory = {
        "all": {
            "children": {
                "edge_routers": {"hosts": edges},
                "monitoring": {
                    "hosts": {m: {**mon_vars, "phase_guard_state_dir": str(directory / "hosts" / m)} for m in monitors}
                },
            }
        }
    }
    path = directory / "overlays" / f"{plan.phase}.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(inventory, sort_keys=True), encoding="utf-8")
    groups = inventory["all"]["children"]
    return path, set(groups) | {h for g in groups.values() for h in g["hosts"]}


def kasbah_command() -> str:
    """The `kasbah` the lab's steps run: this installation's console script (kasbahCommand of the stacks)."""
    script = Path(sys.executable).parent / "kasbah"
    return str(script) if script.is_file() else "kasbah"


def deploy(spec: Path, state: LabState, say: Say, *, vault: LabVault | None = None, replace: bool = False) -> Any:
    """Run the on-premises steps of `spec`'s phase stack on the lab, as `pulumi up -s <phase>` would."""
    from kasbah.findings import Level
    from kasbah.lab import stack
    from kasbah.plan.derive import derive
    from kasbah.spec.load import load_spec

    directory = Path(state.dir)
    plan, findings = derive(load_spec(spec))
    errors = [f for f in findings if f.level >= Level.ERROR]
    if plan is None or errors:
        raise LabError(f"{spec} has {len(errors)} error finding(s): `kasbah validate {spec}`")
    lab_plan = Plan.model_validate_json((directory / "build" / state.phase / "plan.json").read_text("utf-8"))
    if plan.campus != lab_plan.campus or plan.phase not in [p.id for p in lab_plan.phases]:
        chain = ", ".join(p.id for p in lab_plan.phases)
        raise LabError(f"{plan.campus} {plan.phase} is not a phase of the lab's campus ({lab_plan.campus}: {chain})")
    vault = vault or LabVault(directory)
    from kasbah.pulumi_program import required_secrets

    build_root = directory / "stacks" / "build"
    t0 = time.monotonic()
    steps = stack.registered_steps(
        spec,
        plan,
        build_dir=build_root,
        secrets=vault.for_stack(required_secrets(plan)),
        kasbah_command=kasbah_command(),
    )
    source = labmon.lab_source(build_root / plan.phase, directory / "monitoring-source" / plan.phase)
    overlay, lab_hosts = _overlay(plan, state, source)
    say(f"stack {plan.phase}: {len(steps)} steps registered by the program (under the mocks)")
    try:
        run = stack.run_steps(
            plan.phase,
            steps,
            lab_hosts=lab_hosts,
            extra_env={"KASBAH_EXTRA_INVENTORY": str(overlay), "COLUMNS": "160"},
            record=directory / "stacks" / f"{plan.phase}.steps.json",
            logs=directory / "logs" / "steps",
            say=say,
            replace=replace,
            on_start=lambda name, pid, log: state.add_process(
                f"step@{plan.phase}/{name}", pid, None, log, expect="kasbah"
            ),
        )
    except stack.StackRunError as exc:
        raise LabError(str(exc)) from None
    report = directory / "stacks" / f"{plan.phase}.run.json"
    report.write_text(json.dumps(run.as_dict(), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    if plan.phase not in state.deployed:
        state.deployed.append(plan.phase)
    state.timings[f"stack_{plan.phase}_s"] = round(time.monotonic() - t0, 1)
    state.save()
    say(
        f"stack {plan.phase}: ran {len(run.ran())} of {len(steps)} steps in {run.seconds:.1f} s "
        f"({sum(1 for s in run.steps if s.outcome == 'unchanged')} unchanged, "
        f"{sum(1 for s in run.steps if s.outcome == 'no-lab-host')} with no lab host)"
    )
    return run


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
