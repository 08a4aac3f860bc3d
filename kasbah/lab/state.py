"""The lab's state file: every namespace, process, directory and cut the lab made, written as soon as each exists.

`kasbah lab status`, `cut`, `restore` and `down` read only this file (never a listing of the machine), so they work
after the command that started the lab crashed, and `down` removes exactly what the lab made. `status` is
`starting` until `lab up` has finished: a file still `starting` with no live `lab up` means a half-started lab.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

DEFAULT_DIR = Path("/run/kasbah-lab")
"""Where the lab lives unless KASBAH_LAB_DIR says otherwise: on tmpfs, so a reboot (which ends the lab) clears it."""
DEFAULT_PREFIX = "kl"
STATE_FILE = "state.json"


def lab_dir() -> Path:
    return Path(os.environ.get("KASBAH_LAB_DIR") or DEFAULT_DIR)


def namespace_prefix() -> str:
    """Prefix of the lab's namespace names (KASBAH_LAB_PREFIX), so a test lab never meets an operator's lab."""
    return os.environ.get("KASBAH_LAB_PREFIX") or DEFAULT_PREFIX


@dataclass
class Process:
    name: str
    pid: int
    netns: str | None
    log: str
    expect: str = ""
    """A word of its command line: `down` leaves alone a PID that was reused by something else since."""


@dataclass
class LabState:
    dir: str
    spec: str
    phase: str
    prefix: str
    pid: int
    """PID of the `kasbah lab up` that made this lab (alive while it is starting)."""
    status: str = "starting"
    namespaces: list[str] = field(default_factory=list)
    processes: list[Process] = field(default_factory=list)
    frr: dict[str, str] = field(default_factory=dict)
    """Node id -> FRR instance base directory."""
    s3_endpoint: str = ""
    deployed: list[str] = field(default_factory=list)
    """Phase stacks whose steps ran on the lab, in order."""
    cuts: dict[str, str] = field(default_factory=dict)
    """Cable -> namespace holding its nftables drop table."""
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return Path(self.dir) / STATE_FILE

    def netns(self, node_id: str) -> str:
        return f"{self.prefix}-{node_id}"

    def save(self) -> None:
        """Atomic: a crash mid-write leaves the previous state, never half a file."""
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2, sort_keys=True) + "\n", encoding="utf-8")
        tmp.replace(self.path)

    def add_process(self, name: str, pid: int, netns: str | None, log: Path, expect: str = "") -> None:
        self.processes.append(Process(name=name, pid=pid, netns=netns, log=str(log), expect=expect))
        self.save()

    @classmethod
    def load(cls, directory: Path) -> LabState | None:
        path = directory / STATE_FILE
        if not path.is_file():
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
        data["processes"] = [Process(**p) for p in data.get("processes", [])]
        return cls(**data)
