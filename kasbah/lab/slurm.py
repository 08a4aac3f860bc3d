"""Slurm 24.11 for real in the lab: slurmctld and one slurmd per tray, each in its own network and mount namespace.

Why one namespace per daemon: a render names nodes `NodeName=<host>` with no NodeAddr and default ports, so every
slurmd needs its own address on port 6818; separate namespaces give that whether or not Debian built slurmd with
--enable-multiple-slurmd. The namespaces hang off one bridge in a hub namespace (172.31.0.0/16: no network of the
plan uses it, and the bridge reaches nothing else); every daemon's /etc/hosts maps the render's names to them.

Each daemon runs `unshare --mount --uts` + chroot into the Debian 13 root (kasbah.lab.slurm_root), with its own /run,
/var/lib/slurm, /var/log/slurm bound over the read-only root, the phase's rendered `slurm/` directory unchanged at
/etc/slurm, and the lab's overrides in /etc/slurm-lab: a slurm.conf that `Include`s the render's and then sets only
what needs hardware the lab has not (cgroups, IMEX channels, the tray's real CPUs and memory). Slurm keeps the last
value of a repeated key, so the render stays the source of every name, block and partition. Controllers share one
/var/lib/slurm (StateSaveLocation is shared storage in a real pair). One munged serves every daemon of the root over
its Unix socket with a key the lab generates (0400, never in the repo). Daemons are stopped by PID.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shlex
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

from kasbah import netns
from kasbah.lab import procs
from kasbah.lab.slurm_root import missing, root_dir

LAB_CONF_DIR = "/etc/slurm-lab"
"""Inside the root: the lab's slurm.conf (Include of the render + overrides) and links to the render's other files."""
SUBNET_BASE = IPv4Address("172.31.0.0")
SUBNET_PREFIX = 16
OVERRIDES = (
    ("SlurmdParameters", "config_overrides"),  # trays declare 72+ cores and hundreds of GB; the lab host has 2 cores
    ("ProctrackType", "proctrack/linuxproc"),  # 40 slurmd in one cgroup tree without systemd: no cgroup plugins
    ("TaskPlugin", "task/none"),
    ("JobAcctGatherType", "jobacct_gather/none"),
    ("SwitchType", "switch/none"),  # switch/nvidia_imex needs NVLink IMEX channel devices: render-only in the lab
    ("Prolog", "/bin/true"),  # a render's prolog/epilog set up IMEX or GPUs; Slurm takes no empty value here
    ("Epilog", "/bin/true"),
)
"""What the lab sets over the render, and why; nothing that names a node, block, partition or controller."""

Record = Callable[[str, int, str | None, Path, str], None]


class SlurmLabError(RuntimeError):
    """The lab's Slurm part failed; the message says what and where its log is."""


@dataclass
class Cluster:
    """What the lab runs: the render's slurm/ directory and the names it uses (from the plan, or a test's conf)."""

    conf_dir: Path
    controllers: list[str]
    nodes: list[str]
    gpus: dict[str, int] = field(default_factory=dict)
    extra: list[tuple[str, str]] = field(default_factory=list)
    """More overrides after OVERRIDES: a test that turns block scheduling off to see the probes fail."""
    """Node -> GPU count: the lab's count-only gres.conf when the render's names device files."""


@dataclass
class Running:
    """What `start` made, saved as slurm.json in the lab's directory so later commands find the controller."""

    dir: str
    root: str
    hub: str
    controller_pid: int
    namespaces: dict[str, str]
    """Host name -> its namespace."""
    addresses: dict[str, str]
    timings: dict[str, float] = field(default_factory=dict)

    def save(self) -> None:
        path = Path(self.dir) / "slurm.json"
        path.write_text(json.dumps(asdict(self), indent=1, sort_keys=True) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> Running | None:
        """What `start` saved in `directory` (the lab's slurm/ directory); None when it never started."""
        path = directory / "slurm.json"
        if not path.is_file():
            return None
        return cls(**json.loads(path.read_text(encoding="utf-8")))


def address(index: int) -> str:
    """Host `index`'s address on the Slurm bridge: .1 to .250 of consecutive /24s of 172.31.0.0/16."""
    return str(SUBNET_BASE + (index // 250) * 256 + index % 250 + 1)


def _root_ids(root: Path, name: str) -> tuple[int, int]:
    """uid, gid of `name` in the root's own passwd (the chrooted daemons run as these numbers)."""
    for line in (root / "etc/passwd").read_text(encoding="utf-8").splitlines():
        parts = line.split(":")
        if parts[0] == name:
            return int(parts[2]), int(parts[3])
    raise SlurmLabError(f"user {name} is not in {root}/etc/passwd: rebuild the root")


def _dir(path: Path, owner: tuple[int, int] | None = None, mode: int = 0o755) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    if owner:
        os.chown(path, *owner)
    path.chmod(mode)
    return path


def gres_has_files(text: str) -> bool:
    """True when a gres.conf names device files (File=...): the lab gives each slurmd stand-ins for them."""
    for line in text.splitlines():
        line = line.split("#", 1)[0]
        if any(word.lower().startswith("file=") for word in line.split()):
            return True
    return False


def lab_gres(gpus: dict[str, int]) -> str:
    """A gres.conf for a render without File= lines: slurmd 24.11 drops a file-less GPU ("Ignoring file-less GPU"),
    even with Flags=CountOnly, so the lab names its stand-in device files."""
    lines = ["# The lab's gres.conf: the render's has no File=, and Slurm ignores a GPU without one.", "AutoDetect=off"]
    lines += [
        f"NodeName={node} Name=gpu File=/dev/nvidia[0-{count - 1}]"
        if count > 1
        else f"NodeName={node} Name=gpu File=/dev/nvidia0"
        for node, count in sorted(gpus.items())
        if count
    ]
    return "\n".join(lines) + "\n"


def lab_conf(cluster: Cluster, etc: Path) -> None:
    """/etc/slurm-lab: slurm.conf = Include of the render's + OVERRIDES; the render's other files linked unchanged."""
    _dir(etc)
    body = [
        "# The lab's Slurm configuration: the render's, then what the lab cannot do without hardware.",
        "Include /etc/slurm/slurm.conf",
    ]
    body += [f"{key}={value}" for key, value in [*OVERRIDES, *cluster.extra]]
    (etc / "slurm.conf").write_text("\n".join(body) + "\n", encoding="utf-8")
    for src in sorted(cluster.conf_dir.iterdir()):
        if src.name == "slurm.conf" or not src.is_file():
            continue
        target = etc / src.name
        if src.name == "gres.conf" and not gres_has_files(src.read_text(encoding="utf-8")):
            target.write_text(lab_gres(cluster.gpus), encoding="utf-8")
        elif src.name == "cgroup.conf":  # no cgroup plugin in the lab (OVERRIDES), so none to configure
            target.write_text("# The lab's cgroup.conf: no cgroup plugin runs in the lab.\nCgroupPlugin=disabled\n")
        else:
            target.symlink_to(f"/etc/slurm/{src.name}")


def _daemon_script(
    root: Path,
    host: str,
    binds: list[tuple[Path, str, bool]],
    command: list[str],
    user: tuple[int, int] | None = None,
    gpus: int = 0,
) -> str:
    """The shell run inside `unshare --mount --uts`: hostname, binds over the root, proc/sys/dev, then exec chroot."""
    lines = ["set -e", f"hostname {shlex.quote(host)}", f"R={shlex.quote(str(root))}"]
    for src, target, ro in binds:
        if src.is_dir():  # a mount point under a directory bound just before (/run/munge) may not exist yet
            lines.append(f'[ -d "$R{target}" ] || mkdir -p "$R{target}"')
        else:
            lines.append(f'[ -e "$R{target}" ] || touch "$R{target}"')
        lines.append(f'mount --bind {shlex.quote(str(src))} "$R{target}"')
        if ro:
            lines.append(f'mount -o remount,bind,ro "$R{target}"')
    lines += [
        'mount -t proc proc "$R/proc"',
        'mount --rbind /sys "$R/sys"',
        # A private /dev: the usual nodes, and per GPU a stand-in /dev/nvidiaN (the null device's numbers) so a
        # gres.conf naming File=/dev/nvidia[0-3] finds its files; Slurm ignores a GPU with no file.
        'mount -t tmpfs -o mode=755 tmpfs "$R/dev"',
        'for d in null zero full random urandom tty; do cp -a /dev/$d "$R/dev/"; done',
        'mkdir "$R/dev/pts" "$R/dev/shm" && mount -t tmpfs -o mode=1777 tmpfs "$R/dev/shm"',
        *[f'mknod -m 666 "$R/dev/nvidia{i}" c 1 3' for i in range(gpus)],
        'mount -t tmpfs -o mode=1777 tmpfs "$R/tmp"',
        f'exec chroot {f"--userspec={user[0]}:{user[1]} " if user else ""}"$R" {shlex.join(command)}',
    ]
    return "\n".join(lines)


class SlurmLab:
    """Start and stop the lab's Slurm daemons; run Slurm's client commands next to the controller."""

    def __init__(self, cluster: Cluster, directory: Path, prefix: str, root: Path | None = None) -> None:
        self.cluster = cluster
        self.dir = directory
        self.prefix = prefix
        self.root = root or root_dir()
        self.hosts = [*cluster.controllers, *cluster.nodes]
        self.namespaces = {h: f"{prefix}-sl{i}" for i, h in enumerate(self.hosts)}
        self.addresses = {h: address(i) for i, h in enumerate(self.hosts)}
        self.hub = f"{prefix}-slhub"

    def _network(self, add_ns: Callable[[str], None]) -> None:
        netns.add_namespace(self.hub)
        add_ns(self.hub)
        netns.run(["ip", "link", "add", "br0", "type", "bridge"], netns=self.hub)
        netns.run(["ip", "link", "set", "br0", "up"], netns=self.hub)
        for i, host in enumerate(self.hosts):
            if host not in self.namespaces:
                continue
            ns = self.namespaces[host]
            netns.add_namespace(ns)
            add_ns(ns)
            netns.run(
                ["ip", "link", "add", "eth0", "netns", ns, "type", "veth", "peer", "name", f"p{i}", "netns", self.hub]
            )
            netns.run(["ip", "link", "set", f"p{i}", "master", "br0", "up"], netns=self.hub)
            netns.run(["ip", "addr", "add", f"{self.addresses[host]}/{SUBNET_PREFIX}", "dev", "eth0"], netns=ns)
            netns.run(["ip", "link", "set", "eth0", "up"], netns=ns)

    def start(
        self,
        record: Record,
        add_ns: Callable[[str], None],
        timeout: float = 120,
        *,
        slurmd: bool = True,
        wait_idle: bool = True,
    ) -> Running:
        """Namespaces, munged, slurmctld (each controller), slurmd per node; waits until every node is idle.

        `slurmd=False`: the controllers only, every node still named in /etc/hosts (a parse check of a render too
        large to run: slurmctld loads every node, block and partition and answers `scontrol show topology`).
        `wait_idle=False`: return once the daemons are started (a test whose nodes are meant to register invalid)."""
        problem = missing(self.root)
        if problem:
            raise SlurmLabError(problem)
        t0 = time.monotonic()
        timings: dict[str, float] = {}
        _dir(self.dir)
        slurm_ids, munge_ids = _root_ids(self.root, "slurm"), _root_ids(self.root, "munge")
        lab_conf(self.cluster, self.dir / "etc")
        (self.dir / "hosts").write_text(
            "127.0.0.1 localhost\n" + "".join(f"{self.addresses[h]} {h}\n" for h in self.hosts), encoding="utf-8"
        )
        # munge: a fresh key per lab, 0400 and owned by the root's munge user, as munged demands.
        munge = _dir(self.dir / "munge", munge_ids, 0o700)
        key = munge / "munge.key"
        key.write_bytes(secrets.token_bytes(1024))
        os.chown(key, *munge_ids)
        key.chmod(0o400)
        munge_run = _dir(self.dir / "munge-run", munge_ids, 0o755)
        munge_lib = _dir(munge / "lib", munge_ids, 0o700)
        munge_log = _dir(munge / "log", munge_ids, 0o700)
        if not slurmd:
            self.namespaces = {h: self.namespaces[h] for h in self.cluster.controllers}
        self._network(add_ns)
        timings["network_s"] = round(time.monotonic() - t0, 2)

        common = [
            (self.dir / "hosts", "/etc/hosts", True),
            (self.cluster.conf_dir, "/etc/slurm", True),
            (self.dir / "etc", LAB_CONF_DIR, True),
        ]
        first = self.cluster.controllers[0]
        log = self.dir / "logs" / "munged.log"
        script = _daemon_script(
            self.root,
            first,
            [
                (munge, "/etc/munge", False),
                (munge_lib, "/var/lib/munge", False),
                (munge_log, "/var/log/munge", False),
                (_dir(self.dir / "run" / "munged"), "/run", False),
                (munge_run, "/run/munge", False),
            ],
            ["/usr/sbin/munged", "--foreground", "--num-threads=4"],
            user=munge_ids,  # munged refuses to run as root
        )
        pid = self._spawn(first, script, log)
        record("munged", pid, self.namespaces[first], log, "munged")
        self._wait_file(munge_run / "munge.socket.2", 10, log)

        ctl_lib = _dir(self.dir / "ctl-lib", slurm_ids)
        _dir(ctl_lib / "slurmctld", slurm_ids)
        # The primary first: started together, the primary's "shut down, backup" message to a backup still starting
        # times out (MessageTimeout) and costs half a minute. Each controller counts as up once ping says so.
        ctl_pid = 0
        for host in self.cluster.controllers:
            pid = self._daemon(host, "slurmctld", ctl_lib, slurm_ids, common, munge_run, record)
            ctl_pid = ctl_pid or pid  # the primary: clients run next to it
            self._wait(
                lambda host=host, ctl_pid=ctl_pid: (
                    f"at {host} is UP" in self.client(["scontrol", "ping"], controller_pid=ctl_pid, check=False)[1]
                ),
                60,
                f"slurmctld on {host} to answer `scontrol ping`",
                self.dir / "logs" / "slurmctld" / f"{host}.log",
            )
        timings["slurmctld_s"] = round(time.monotonic() - t0, 2)
        for host in self.cluster.nodes if slurmd else []:
            node_lib = _dir(self.dir / "nodes" / host / "lib", slurm_ids)
            _dir(node_lib / "slurmd")  # Debian's SlurmdSpoolDir; slurmd runs as root
            self._daemon(host, "slurmd", node_lib, slurm_ids, common, munge_run, record)
        running = Running(
            dir=str(self.dir),
            root=str(self.root),
            hub=self.hub,
            controller_pid=ctl_pid,
            namespaces=self.namespaces,
            addresses=self.addresses,
        )
        running.save()

        def all_idle() -> bool:
            states = node_states(running)
            return len(states) >= len(self.cluster.nodes) and all(s.startswith("idle") for s in states.values())

        if slurmd and wait_idle:
            self._wait(all_idle, timeout, f"{len(self.cluster.nodes)} slurmd to register idle", self.dir / "logs")
        timings["daemons_up_s"] = round(time.monotonic() - t0, 2)
        running.timings = timings
        running.save()
        return running

    def _daemon(
        self,
        host: str,
        kind: str,
        lib: Path,
        slurm_ids: tuple[int, int],
        common: list[tuple[Path, str, bool]],
        munge_run: Path,
        record: Record,
    ) -> int:
        base = self.dir / ("controllers" if kind == "slurmctld" else "nodes") / host
        run = _dir(base / "run")
        logs = _dir(base / "log", slurm_ids)
        binds = [
            *common,
            (run, "/run", False),
            (munge_run, "/run/munge", False),
            (lib, "/var/lib/slurm", False),
            (logs, "/var/log/slurm", False),
        ]
        conf = f"{LAB_CONF_DIR}/slurm.conf"
        command = [f"/usr/sbin/{kind}", "-D", "-f", conf] + (["-N", host] if kind == "slurmd" else ["-i"])
        log = self.dir / "logs" / kind / f"{host}.log"
        script = _daemon_script(self.root, host, binds, command, gpus=self.cluster.gpus.get(host, 0))
        pid = self._spawn(host, script, log)
        record(f"{kind}@{host}", pid, self.namespaces[host], log, kind)
        return pid

    def _spawn(self, host: str, script: str, log: Path) -> int:
        args = ["unshare", "--mount", "--uts", "--propagation", "private", "--", "/bin/sh", "-c", script]
        return procs.start_daemon(args, log, netns=self.namespaces[host])

    def client(
        self, args: list[str], *, controller_pid: int, check: bool = True, timeout: float = 30
    ) -> tuple[int, str]:
        return client(controller_pid, args, check=check, timeout=timeout)

    @staticmethod
    def _wait_file(path: Path, timeout: float, log: Path) -> None:
        SlurmLab._wait(path.exists, timeout, f"{path.name}", log)

    @staticmethod
    def _wait(ok: Callable[[], bool], timeout: float, what: str, log: Path) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ok():
                return
            time.sleep(0.5)
        raise SlurmLabError(f"timed out after {timeout:.0f} s waiting for {what}: see {log}")


def client(controller_pid: int, args: list[str], *, check: bool = True, timeout: float = 30) -> tuple[int, str]:
    """Run a Slurm client command (scontrol, sbatch, squeue...) in the first controller's namespaces and root."""
    if controller_pid <= 0 or not netns.pid_alive(controller_pid):
        raise SlurmLabError(f"slurmctld (PID {controller_pid}) is not running: `kasbah lab down` and `lab up` again")
    cmd = [
        "nsenter",
        "-t",
        str(controller_pid),
        "-m",
        "-n",
        "-u",
        "-r",
        "--",
        "/usr/bin/env",
        "-C",
        "/tmp",
        f"SLURM_CONF={LAB_CONF_DIR}/slurm.conf",
        *args,
    ]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise SlurmLabError(f"{' '.join(args)} did not answer within {timeout:.0f} s: is slurmctld stuck?") from None
    if check and proc.returncode != 0:
        raise SlurmLabError(f"{' '.join(args)} exited {proc.returncode}: {(proc.stderr or proc.stdout).strip()}")
    return proc.returncode, proc.stdout


def node_states(running: Running) -> dict[str, str]:
    """Node -> Slurm state (`idle`, `alloc`, `drain`, ...), from sinfo."""
    code, out = client(running.controller_pid, ["sinfo", "-h", "-N", "-o", "%N %t"], check=False)
    if code != 0:
        return {}
    return dict(line.split() for line in out.splitlines() if len(line.split()) == 2)


MAX_NODES = 72
"""The most slurmd the lab starts (KASBAH_LAB_SLURM_MAX_NODES): four NVL72 racks, about 10 MB each."""


def lab_dir_of(state_dir: str | Path) -> Path:
    return Path(state_dir) / "slurm"


def lab_up(plan: Any, state: Any, build: Path, say: Callable[[str], None]) -> Running | None:
    """`kasbah lab up`'s Slurm step: the phase's render run for real, or a notice saying why not (never a failure
    for a phase the lab cannot schedule: no scheduler, too many trays, no root)."""
    slurm = getattr(plan, "slurm", None)
    if slurm is None:
        say("Slurm: the phase has no scheduler (no GPU nodes, or scheduler.enabled: false): not started")
        return None
    nodes = slurm.nodes
    limit = int(os.environ.get("KASBAH_LAB_SLURM_MAX_NODES") or MAX_NODES)
    if len(nodes) > limit:
        say(
            f"Slurm: not started: {len(nodes)} trays in {len(slurm.blocks)} blocks is more than the lab runs "
            f"({limit}, KASBAH_LAB_SLURM_MAX_NODES); tests/data/slurm-lab/phase1.yaml is a lab-size phase"
        )
        return None
    problem = missing()
    if problem:
        say(f"Slurm: not started: {problem}")
        return None
    cluster = Cluster(
        build / "slurm", list(slurm.controllers), [n.name for n in nodes], {n.name: n.gpus for n in nodes}
    )

    def add_ns(ns: str) -> None:
        state.namespaces.append(ns)
        state.save()

    lab = SlurmLab(cluster, lab_dir_of(state.dir), state.prefix)
    running = lab.start(record=state.add_process, add_ns=add_ns)
    state.timings["slurm_up_s"] = running.timings.get("daemons_up_s", 0.0)
    state.save()
    say(
        f"Slurm ({version_of(running)}): slurmctld on {', '.join(slurm.controllers)}, {len(nodes)} slurmd in "
        f"{len(slurm.blocks)} blocks, all idle in {state.timings['slurm_up_s']:.1f} s"
    )
    return running


def version_of(running: Running) -> str:
    from kasbah.lab.slurm_root import version

    return version(Path(running.root)).removeprefix("debian trixie, ") or "unknown version"


@contextlib.contextmanager
def standalone(
    plan: Any,
    directory: Path,
    prefix: str,
    *,
    slurmd: bool = True,
    extra: list[tuple[str, str]] | None = None,
    wait_idle: bool = True,
) -> Iterator[Running]:
    """The Slurm part of the lab alone, for tests and benchmarks: render `plan`'s slurm/ files into `directory`,
    start them, yield, then stop every process started and delete every namespace made (by PID and name)."""
    from kasbah.render import write
    from kasbah.render.slurm import render_slurm

    files = {k: v for k, v in render_slurm(plan).items() if k.startswith("slurm/")}
    if not files:
        raise SlurmLabError(f"{plan.campus} {plan.phase} runs no scheduler: nothing to start")
    write(files, directory / "build")
    nodes = plan.slurm.nodes
    cluster = Cluster(
        directory / "build" / "slurm",
        list(plan.slurm.controllers),
        [n.name for n in nodes],
        {n.name: n.gpus for n in nodes},
        list(extra or []),
    )
    made: list[str] = []
    started: list[int] = []
    try:
        yield SlurmLab(cluster, directory / "lab", prefix).start(
            lambda _name, pid, *_: started.append(pid), made.append, slurmd=slurmd, wait_idle=wait_idle
        )
    finally:
        for pid in started:
            procs.stop_pid(pid, timeout=5)
        for ns in reversed(made):
            for pid in netns.namespace_pids(ns):
                procs.stop_pid(pid, timeout=2)
            netns.delete_namespace(ns)
