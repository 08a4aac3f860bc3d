"""Daemons the lab starts: detached (they outlive the command that started them), in a namespace, stopped by PID.

`ip netns exec` sets the namespace and then execs the command, so the PID `Popen` returns is the daemon's own: the
lab records it in its state file and `kasbah lab down` stops exactly that process, never something found by name.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from kasbah.netns import pid_alive


class ProcessError(RuntimeError):
    """A daemon did not start or answer; the message names its log file."""


def start_daemon(
    args: Sequence[str], log: Path, netns: str | None = None, env: dict[str, str] | None = None, cwd: Path | None = None
) -> int:
    """Start `args` (inside `netns` when given) in its own session, output to `log`; return its PID."""
    log.parent.mkdir(parents=True, exist_ok=True)
    cmd = (["ip", "netns", "exec", netns] if netns else []) + list(args)
    with log.open("ab") as out:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **(env or {})},
            cwd=cwd,
        )
    return proc.pid


def reap(pid: int) -> None:
    """Collect an exited child of this process so it does not linger as a zombie; not our child is fine."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def stop_pid(pid: int, timeout: float = 5, *, expect: str | None = None) -> bool:
    """SIGTERM, wait up to `timeout`, then SIGKILL; True when it was running. An absent PID is fine (idempotent).

    `expect`: stop it only if its command line contains this, so a PID recorded before a crash and since reused by
    an unrelated process is left alone.
    """
    if pid <= 0:
        raise ValueError(f"not a process id: {pid}")  # os.kill(0 or -1) would signal whole process groups
    reap(pid)
    if not pid_alive(pid):
        return False
    if expect is not None and expect not in command_line(pid):
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reap(pid)
        if not pid_alive(pid):
            return True
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    for _ in range(100):
        reap(pid)
        if not pid_alive(pid):
            break
        time.sleep(0.02)
    return True


def python_in(netns: str, path: Path) -> Path:
    """A wrapper that runs this interpreter inside `netns`: Ansible's `ansible_python_interpreter` for a lab host
    (Ansible will not take a command with arguments there), so modules run in the router's namespace."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'#!/bin/sh\nexec ip netns exec {netns} {sys.executable} "$@"\n', encoding="utf-8")
    path.chmod(0o755)
    return path


HTTP_GET = (
    "import sys, urllib.request\n"
    "try:\n"
    "    with urllib.request.urlopen(sys.argv[1], timeout=float(sys.argv[2])) as r:\n"
    "        sys.stdout.write(r.read().decode())\n"
    "except Exception as exc:\n"
    "    sys.stderr.write(str(exc)); sys.exit(1)\n"
)


def http_get(netns: str, url: str, timeout: float = 5) -> str | None:
    """GET `url` from inside `netns` (Prometheus and Alertmanager listen on the lab host's loopback); None on error."""
    proc = subprocess.run(
        ["ip", "netns", "exec", netns, sys.executable, "-c", HTTP_GET, url, str(timeout)],
        capture_output=True,
        text=True,
        timeout=timeout + 10,
        check=False,
    )
    return proc.stdout if proc.returncode == 0 else None
