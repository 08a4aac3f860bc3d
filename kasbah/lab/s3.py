"""moto's S3 server as the lab's campus endpoint: a detached daemon on loopback, recorded and stopped by PID."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from kasbah.lab.procs import stop_pid

MOTO_START_TIMEOUT = 15.0


class MotoError(RuntimeError):
    """The moto server did not start or answer; the message names its log file."""


def moto_endpoint(host: str, port: int) -> str:
    """The endpoint URL of a server listening on host:port (a wildcard address is reached on loopback)."""
    host = _reachable(host)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _reachable(host: str) -> str:
    return {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(host, host)


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now (another process may still take it before it is used)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def start_moto(
    host: str,
    port: int,
    log: Path,
    *,
    python: str = sys.executable,
    timeout: float = MOTO_START_TIMEOUT,
    on_start: Callable[[int], None] | None = None,
) -> int:
    """Start moto's server as a detached daemon and return its PID once it answers HTTP.

    Its own session, so it outlives the command that started it and a Ctrl-C there does not reach it; output goes
    to `log`. On failure whatever was started is killed and MotoError names the log. `on_start` gets the PID at
    once, before the server answers, so a caller that records it loses nothing if it crashes while waiting.
    """
    url = moto_endpoint(host, port)
    if _answers_tcp(_reachable(host), port):
        raise MotoError(f"cannot start moto on {host}:{port}: something already listens there")
    log.parent.mkdir(parents=True, exist_ok=True)
    command = [python, "-m", "moto.server", "-H", host, "-p", str(port)]
    with log.open("ab") as out:
        try:
            proc = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        except OSError as exc:
            raise MotoError(f"cannot start moto with {python}: {exc.strerror or exc}") from None
    if on_start is not None:
        on_start(proc.pid)
    deadline = time.monotonic() + timeout
    while True:
        status = proc.poll()
        if status is not None:
            last = _last_line(log)
            raise MotoError(
                f"moto exited with status {status} before answering on {url}"
                + (f" ({last})" if last else "")
                + f"; see {log}"
            )
        if _answers_http(url):
            return proc.pid
        if time.monotonic() > deadline:
            stop_pid(proc.pid)
            proc.wait(timeout=5)
            raise MotoError(f"moto did not answer on {url} within {timeout:g} s (stopped it); see {log}")
        time.sleep(0.1)


def _answers_tcp(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _answers_http(url: str) -> bool:
    """Any HTTP response counts; proxies from the environment are bypassed (the server is local)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        opener.open(f"{url}/", timeout=1).close()
    except urllib.error.HTTPError:
        return True
    except (OSError, ValueError):
        return False
    return True


def _last_line(log: Path) -> str:
    try:
        lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return lines[-1][:200] if lines else ""
