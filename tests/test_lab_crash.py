"""A lab that fails or crashes half-way: `lab up` undoes its own failure; a crash is found and `lab down` cleans it.

Both start real namespaces and FRR (root), then stop before the slow parts (the role runs, Prometheus).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kasbah import netns
from kasbah.lab import lifecycle, procs
from kasbah.lab import monitoring as labmon
from kasbah.lab.state import LabState
from tests.conftest import REPO, plan_of

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root (network namespaces, FRR)")

SPEC = REPO / "stacks" / "phase1.yaml"


@pytest.fixture
def lab_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, str]]:
    base = Path(tempfile.mkdtemp(prefix="kasbah-lab-crash-"))
    base.chmod(0o755)
    directory, prefix = base / "lab", f"kc{os.getpid() % 100000}"
    monkeypatch.setenv("KASBAH_LAB_DIR", str(directory))
    monkeypatch.setenv("KASBAH_LAB_PREFIX", prefix)
    yield directory, prefix
    lifecycle.down(LabState.load(directory), say=lambda _m: None)  # whatever a failed test left
    for ns in netns.namespaces():
        if ns.startswith(f"{prefix}-"):
            netns.delete_namespace(ns)
    subprocess.run(["rm", "-rf", str(base)], check=False)


def running_from(directory: Path) -> list[int]:
    """Every live process whose command line names a path under `directory` (FRR, Prometheus... of that lab),
    found from /proc whether or not the lab recorded it."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and netns.pid_alive(int(entry.name)):
            try:
                cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if str(directory) in cmdline:
                found.append(int(entry.name))
    return found


def leftovers(prefix: str, pids: list[int], directory: Path) -> list[str]:
    found = [f"namespace {ns}" for ns in netns.namespaces() if ns.startswith(f"{prefix}-")]
    found += [f"process {pid}" for pid in {*pids, *running_from(directory)} if netns.pid_alive(pid)]
    if directory.exists():
        found.append(f"directory {directory}")
    return found


def test_a_failure_mid_way_takes_down_what_up_made(lab_env: tuple[Path, str], monkeypatch: pytest.MonkeyPatch) -> None:
    directory, prefix = lab_env
    plan, _ = plan_of(SPEC)
    assert plan is not None
    seen: dict[str, list[int]] = {}

    def broken_start(netns_name: str, base: Path, timeout: float = 20) -> dict[str, int]:
        state = LabState.load(directory)
        assert state is not None
        seen["pids"] = [p.pid for p in state.processes]
        raise procs.ProcessError("prometheus exited at once (stand-in failure of this test)")

    monkeypatch.setattr(labmon, "start", broken_start)
    messages: list[str] = []
    with pytest.raises(lifecycle.LabError, match=r"could not start Prometheus.*stand-in failure"):
        lifecycle.up(SPEC, plan, say=messages.append)
    assert len(seen["pids"]) > 40  # FRR everywhere and moto were running when it failed
    assert any("taking down" in m for m in messages)
    assert leftovers(prefix, seen["pids"], directory) == []


def test_a_crashed_lab_up_is_reported_and_lab_down_cleans_it(lab_env: tuple[Path, str]) -> None:
    directory, prefix = lab_env
    env = dict(os.environ)
    up = subprocess.Popen(
        [sys.executable, "-m", "kasbah.cli", "lab", "up", str(SPEC)],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    state = None
    while time.monotonic() < deadline:  # crash it once FRR runs in some namespaces
        state = LabState.load(directory) if (directory / "state.json").exists() else None
        if state is not None and len(state.processes) >= 12:
            break
        time.sleep(0.05)
    up.send_signal(signal.SIGKILL)
    up.wait(timeout=10)
    state = LabState.load(directory)
    assert state is not None and state.status == "starting" and len(state.processes) >= 12
    pids = [p.pid for p in state.processes]
    assert any(netns.pid_alive(pid) for pid in pids)

    def kasbah(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "kasbah.cli", *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=120
        )

    again = kasbah("lab", "up", str(SPEC))
    assert again.returncode == 2
    assert "half-started" in again.stderr and "kasbah lab down" in again.stderr
    down = kasbah("lab", "down")
    assert down.returncode == 0, down.stderr
    assert leftovers(prefix, pids, directory) == []
