"""Bounds on concurrent `kasbah apply` runs: one run per host (or group) at a time, a few runs at a time in all.

Pulumi starts every step whose dependencies are met at once, and two phase stacks may run side by side (each
holds only its own stack lock). Two runs configuring the same host at once would interleave their writes, so each
run takes an exclusive lock per `--limit` pattern it names, in sorted order (no deadlock); and the controller's
CPU and connection budget is bounded by a fixed number of slots (`KASBAH_APPLY_SLOTS`, default 4). Locks are
`flock`s on files under `<build root>/.locks/`, released when the process ends, however it ends.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

SLOTS_ENV = "KASBAH_APPLY_SLOTS"
DEFAULT_SLOTS = 4
_SAFE = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")


def limit_tokens(limit: str | None) -> list[str]:
    """The hosts and groups a `--limit` names (`a,b:c:!d` -> a, b, c, d); `all` when there is no limit."""
    if not limit:
        return ["all"]
    parts = re.split(r"[,:]", limit)
    return sorted({p.lstrip("!&").strip() for p in parts if p.lstrip("!&").strip()})


def _file_name(token: str) -> str:
    if _SAFE.match(token):
        return f"limit-{token}.lock"
    return "limit-" + hashlib.sha256(token.encode()).hexdigest()[:24] + ".lock"


def _open(path: Path) -> int:
    return os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)


def slots() -> int:
    raw = os.environ.get(SLOTS_ENV, "")
    return int(raw) if raw.isdigit() and int(raw) > 0 else DEFAULT_SLOTS


@contextlib.contextmanager
def apply_locks(root: Path, limit: str | None, say: Callable[[str], None] = lambda _m: None) -> Iterator[None]:
    """Hold a slot and the lock of every host/group of `limit` under `root/.locks/` for the run."""
    locks = root / ".locks"
    locks.mkdir(parents=True, exist_ok=True)
    fds: list[int] = []
    try:
        total, waited = slots(), False
        while True:
            for i in range(total):
                fd = _open(locks / f"slot-{i}.lock")
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    os.close(fd)
                    continue
                fds.append(fd)
                break
            if fds:
                break
            if not waited:
                say(f"waiting for one of {total} apply slots ({SLOTS_ENV})")
                waited = True
            time.sleep(0.2)
        for token in limit_tokens(limit):
            fd = _open(locks / _file_name(token))
            fds.append(fd)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                say(f"waiting for another run on {token} to finish")
                fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        for fd in reversed(fds):
            os.close(fd)
