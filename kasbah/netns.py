"""Network namespaces, veth links and FRR daemons per namespace: the pieces the WAN edge tests and the lab stand on.

Everything here is a thin, explicit wrapper over `ip` and FRR's own binaries (see reference/tooling.md): each FRR
instance gets its own config dir, run dir (pid files, vty sockets, zserv socket) and log files, so several routers
run side by side on one machine without touching /etc/frr or /var/run/frr. Whatever a caller starts it stops by PID
(`FrrInstance.stop`, `delete_namespace`): nothing is found or killed by name. Needs root and Linux namespaces.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FRR_LIBEXEC = Path("/usr/lib/frr")
"""Where Debian's `frr` package installs the daemons and frr-reload.py."""
VTYSH = "/usr/bin/vtysh"
FRR_USER = "frr"
DAEMONS: tuple[str, ...] = ("zebra", "bgpd", "bfdd")
"""What a WAN router needs: zebra (RIB, interfaces), bgpd, bfdd. zebra first: the others connect to its socket."""


class NetnsError(RuntimeError):
    """A command of this module failed; the message carries the command and its stderr."""


def run(
    args: Sequence[str],
    netns: str | None = None,
    check: bool = True,
    timeout: float = 30,
    input_text: str | None = None,
) -> str:
    """Run a command (inside `netns` when given) and return its stdout; raise NetnsError with stderr on failure."""
    cmd = (["ip", "netns", "exec", netns] if netns else []) + list(args)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False, input=input_text)
    if check and proc.returncode != 0:
        raise NetnsError(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout


def namespaces() -> set[str]:
    """Names of the network namespaces that exist now."""
    out = run(["ip", "-j", "netns", "list"]) or "[]"
    return {entry["name"] for entry in json.loads(out)}


def namespace_pids(name: str) -> list[int]:
    """PIDs of the processes inside a namespace (the kernel's list): what must stop before it can really go."""
    if name not in namespaces():
        return []
    return [int(p) for p in run(["ip", "netns", "pids", name], check=False).split() if p.isdigit()]


def add_namespace(name: str) -> None:
    """Create a namespace with its loopback up; an existing one is an error (someone else may own it)."""
    run(["ip", "netns", "add", name])
    run(["ip", "link", "set", "lo", "up"], netns=name)


def delete_namespace(name: str) -> None:
    """Delete a namespace (its veth ends go with it); absent is fine, so cleanup can run twice."""
    if name in namespaces():
        run(["ip", "netns", "delete", name])


def add_veth(ns_a: str, if_a: str, cidr_a: str | None, ns_b: str, if_b: str, cidr_b: str | None) -> None:
    """A veth pair between two namespaces, both ends up; each end addressed (`100.64.0.0/31`) unless its cidr is None
    (a router whose own config puts the address there)."""
    run(["ip", "link", "add", if_a, "netns", ns_a, "type", "veth", "peer", "name", if_b, "netns", ns_b])
    for ns, ifname, cidr in ((ns_a, if_a, cidr_a), (ns_b, if_b, cidr_b)):
        if cidr is not None:
            add_address(ns, ifname, cidr)
        run(["ip", "link", "set", ifname, "up"], netns=ns)


def add_address(netns: str, ifname: str, cidr: str) -> None:
    """Add an address to an interface (e.g. a prefix on `lo`: this kernel has no dummy interfaces)."""
    run(["ip", "addr", "add", cidr, "dev", ifname], netns=netns)


def set_link(netns: str, ifname: str, up: bool) -> None:
    run(["ip", "link", "set", ifname, "up" if up else "down"], netns=netns)


def _chown_frr(path: Path) -> None:
    entry = pwd.getpwnam(FRR_USER)
    os.chown(path, entry.pw_uid, entry.pw_gid)


def pid_alive(pid: int) -> bool:
    """True while the process runs; a zombie counts as gone (PID 1 here may not reap daemonised children)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


@dataclass
class FrrInstance:
    """One FRR instance in one namespace: `base/etc` holds the configs, `base/run` the pids and sockets.

    `start()` launches the daemons with empty per-daemon files and then loads the integrated `frr.conf` (if any)
    with `vtysh -b`, as FRR's own init script does; `reload_command()` is what the WAN edge role's handler runs to
    apply a new integrated config to this very instance.
    """

    netns: str
    base: Path
    daemons: tuple[str, ...] = DAEMONS
    pids: dict[str, int] = field(default_factory=dict)

    @property
    def config_dir(self) -> Path:
        return self.base / "etc"

    @property
    def run_dir(self) -> Path:
        return self.base / "run"

    @property
    def config_file(self) -> Path:
        return self.config_dir / "frr.conf"

    def log_file(self, daemon: str) -> Path:
        return self.run_dir / f"{daemon}.log"

    def vtysh_args(self) -> list[str]:
        """vtysh bound to this instance (inside its namespace, through its own vty sockets)."""
        return [
            "ip",
            "netns",
            "exec",
            self.netns,
            VTYSH,
            "--config_dir",
            str(self.config_dir),
            "--vty_socket",
            str(self.run_dir),
        ]

    def reload_command(self) -> list[str]:
        """frr-reload.py applying `frr.conf` of this instance to its running daemons (diff, not restart)."""
        return [
            "ip",
            "netns",
            "exec",
            self.netns,
            str(FRR_LIBEXEC / "frr-reload.py"),
            "--reload",
            "--stdout",
            "--bindir",
            str(Path(VTYSH).parent),
            "--confdir",
            str(self.config_dir),
            "--rundir",
            str(self.run_dir),
            "--vty_socket",
            str(self.run_dir),
            str(self.config_file),
        ]

    def prepare(self, config: str | None = None) -> None:
        """Create the dirs (owned by frr, as the daemons drop to that user) and the config files."""
        self.base.mkdir(parents=True, exist_ok=True)
        self.base.chmod(0o755)
        for parent in self.base.resolve().parents:
            if not parent.stat().st_mode & 0o001:
                raise NetnsError(f"{parent} is not searchable by others: user frr cannot reach {self.base}")
        for d in (self.config_dir, self.run_dir):
            d.mkdir(exist_ok=True)
            d.chmod(0o755)
            _chown_frr(d)
        vtysh_conf = self.config_dir / "vtysh.conf"
        vtysh_conf.write_text("service integrated-vtysh-config\n", encoding="utf-8")
        for daemon in self.daemons:
            path = self.config_dir / f"{daemon}.conf"
            path.write_text("", encoding="utf-8")
            _chown_frr(path)
        # FRR's `daemons` file as Debian's package has it, saying which daemons this instance runs (zebra always
        # does): the wan_edge role enables what its render needs there, and finds these already on.
        lines = [f"{d}=yes" for d in self.daemons if d != "zebra"]
        daemons_file = self.config_dir / "daemons"
        daemons_file.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
        daemons_file.chmod(0o640)  # frr:frr 0640, as Debian's package installs it
        _chown_frr(daemons_file)
        if config is not None:  # it may hold session passwords: readable by frr only, as the wan_edge role writes it
            self.config_file.touch(mode=0o640)
            self.config_file.chmod(0o640)
            self.config_file.write_text(config, encoding="utf-8")
            _chown_frr(self.config_file)

    def restart_command(self) -> str:
        """What the wan_edge role runs if it had to enable a daemon: this instance was started with a fixed set of
        daemons, so a render needing another one fails loudly here instead of loading a config nothing runs."""
        message = f"FRR in {self.netns} runs {' '.join(self.daemons)} only; start it again with the daemons needed"
        return shlex.join(["sh", "-c", f"echo {shlex.quote(message)} >&2; exit 1"])

    def start(self, config: str | None = None, timeout: float = 10) -> None:
        """Start the daemons in the namespace and load `config` (integrated syntax) when given."""
        self.prepare(config)
        run_dir = self.run_dir
        for daemon in self.daemons:
            args = [
                str(FRR_LIBEXEC / daemon),
                "-d",
                "-P",
                "0",
                "--vty_socket",
                str(run_dir),
                "-z",
                str(run_dir / "zserv.api"),
                "-i",
                str(run_dir / f"{daemon}.pid"),
                "-f",
                str(self.config_dir / f"{daemon}.conf"),
                "--log",
                f"file:{self.log_file(daemon)}",
            ]
            if daemon == "bfdd":
                args += ["--bfdctl", str(run_dir / "bfdd.sock")]
            run(args, netns=self.netns)
            self.pids[daemon] = self._wait_pid(daemon, timeout)
        if config is not None:
            self._wait_vty(timeout)
            run([*self.vtysh_args(), "-b"])

    def _wait_pid(self, daemon: str, timeout: float) -> int:
        pid_file = self.run_dir / f"{daemon}.pid"
        sock = self.run_dir / f"{daemon}.vty"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if pid_file.exists() and sock.exists():
                text = pid_file.read_text().strip()
                if text.isdigit() and pid_alive(int(text)):
                    return int(text)
            time.sleep(0.05)
        raise NetnsError(
            f"{daemon} in namespace {self.netns} did not start within {timeout:g} s (see {self.log_file(daemon)})"
        )

    def _wait_vty(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            proc = subprocess.run([*self.vtysh_args(), "-c", "show version"], capture_output=True, check=False)
            if proc.returncode == 0 or time.monotonic() > deadline:
                return
            time.sleep(0.1)

    def terminate(self) -> None:
        """Send SIGTERM to every daemon this instance started (by PID); `wait_stopped` finishes the job."""
        for pid in self.pids.values():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    def wait_stopped(self, timeout: float = 5) -> None:
        """Wait for the daemons to exit (FRR takes about 2 s on SIGTERM); SIGKILL what is left after `timeout`."""
        deadline = time.monotonic() + timeout
        for pid in self.pids.values():
            while pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if pid_alive(pid):
                os.kill(pid, signal.SIGKILL)
        self.pids.clear()

    def stop(self, timeout: float = 5) -> None:
        """Stop every daemon this instance started, by PID (TERM, then KILL after `timeout`)."""
        self.terminate()
        self.wait_stopped(timeout)

    def vtysh(self, *commands: str) -> str:
        """Run vtysh commands against this instance and return the text."""
        args = self.vtysh_args()
        for c in commands:
            args += ["-c", c]
        return run(args)

    def query(self, command: str) -> Any:
        """A `show ... json` command, parsed."""
        if not command.rstrip().endswith("json"):
            command += " json"
        return json.loads(self.vtysh(command) or "{}")

    def bgp_peers(self) -> dict[str, dict[str, Any]]:
        """IPv4 unicast peers from `show bgp summary json`: address -> FRR's per-peer fields (state, pfxRcd...)."""
        summary = self.query("show bgp ipv4 unicast summary json")
        return summary.get("peers", {})

    def bfd_peers(self) -> dict[str, str]:
        """BFD peer address -> status (`up`, `down`, `init`)."""
        return {p["peer"]: p["status"] for p in self.query("show bfd peers json")}

    def best_path(self, prefix: str) -> tuple[str, int | None] | None:
        """(peer address, local-pref) of the best BGP path to `prefix`, or None when there is none."""
        for path in self.query(f"show bgp ipv4 unicast {prefix} json").get("paths", []):
            if path.get("bestpath", {}).get("overall"):
                return path["peer"]["peerId"], path.get("locPrf")
        return None

    def wait_for_sessions(self, peers: Iterable[str], timeout: float = 30, bfd: bool = False) -> float:
        """Wait until every peer is Established (and its BFD session up when `bfd`); return seconds waited.

        Raises NetnsError naming the peers still down, with their states, when `timeout` passes.
        """
        wanted = sorted(peers)
        start = time.monotonic()
        while True:
            states = {p: v.get("state", "?") for p, v in self.bgp_peers().items()}
            down = {p: states.get(p, "absent") for p in wanted if states.get(p) != "Established"}
            if bfd and not down:
                bfd_state = self.bfd_peers()
                down = {p: f"bfd {bfd_state.get(p, 'absent')}" for p in wanted if bfd_state.get(p) != "up"}
            waited = time.monotonic() - start
            if not down:
                return waited
            if waited > timeout:
                detail = ", ".join(f"{p} {s}" for p, s in sorted(down.items()))
                raise NetnsError(f"{self.netns}: sessions not up after {timeout:g} s: {detail}")
            time.sleep(0.2)

    def cleanup(self) -> None:
        """Stop the daemons and remove the instance's files."""
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)


def stop_all(instances: Iterable[FrrInstance], timeout: float = 5) -> None:
    """Stop several instances at once: TERM to all first, then wait, so shutdowns overlap instead of adding up."""
    items = list(instances)
    for instance in items:
        instance.terminate()
    for instance in items:
        instance.wait_stopped(timeout)


def check_config(text_or_path: str | Path, config_dir: Path | None = None) -> tuple[bool, str]:
    """`vtysh -C` on a config without daemons: (valid, vtysh's output naming the bad line)."""
    with tempfile.TemporaryDirectory(prefix="kasbah-vtysh-") as tmp:
        if isinstance(text_or_path, Path):
            path = text_or_path
        else:
            path = Path(tmp) / "frr.conf"
            path.write_text(text_or_path, encoding="utf-8")
        cdir = config_dir or Path(tmp)
        proc = subprocess.run(
            [VTYSH, "--config_dir", str(cdir), "-C", "-f", str(path)], capture_output=True, text=True, check=False
        )
    return proc.returncode == 0, (proc.stdout + proc.stderr).strip()
