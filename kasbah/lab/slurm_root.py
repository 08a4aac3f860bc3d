"""The Debian 13 root the lab runs Slurm in: where it is, whether it is built, and how to build it.

Debian 12 (the lab's host) ships Slurm 22.05, which has no `topology/block` and no `--segment`; Debian 13 ships 24.11.
The root is built once by `scripts/slurm-root.sh` (mmdebstrap from deb.debian.org; `.ci/setup` calls it), and the
lab only reads it: each daemon sees it through its own mount namespace, with its own writable directories on top.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

DEFAULT_ROOT = Path("/var/lib/kasbah/slurm-root")
STAMP = ".kasbah-slurm-root"
"""Written last by the build script: a root without it is not finished."""
DAEMONS = ("slurmctld", "slurmd", "slurmdbd", "munged")
"""What the lab runs from the root; a root built before one of them was added counts as not built."""
BUILD_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "slurm-root.sh"


def root_dir() -> Path:
    """The root the lab uses: KASBAH_SLURM_ROOT, else /var/lib/kasbah/slurm-root."""
    return Path(os.environ.get("KASBAH_SLURM_ROOT") or DEFAULT_ROOT)


def missing(root: Path | None = None) -> str | None:
    """None when the root is built; else a sentence saying how to build it."""
    root = root or root_dir()
    if (root / STAMP).is_file() and all(os.path.lexists(root / "usr/sbin" / d) for d in DAEMONS):
        return None
    return (
        f"the Debian 13 root with Slurm 24.11 is not built at {root}: run `sudo {BUILD_SCRIPT} {root}` "
        f"(mmdebstrap from deb.debian.org, about half a minute; `.ci/setup` does it)"
    )


def version(root: Path | None = None) -> str:
    """What the build stamp says (`debian trixie, slurmctld 24.11.5-...`), or '' for an unbuilt root."""
    stamp = (root or root_dir()) / STAMP
    return stamp.read_text(encoding="utf-8").strip() if stamp.is_file() else ""


def build(root: Path | None = None) -> str:
    """Build the root (idempotent); returns the script's last line. Raises RuntimeError with its output on failure."""
    root = root or root_dir()
    proc = subprocess.run(["bash", str(BUILD_SCRIPT), str(root)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{BUILD_SCRIPT} exited {proc.returncode}: {(proc.stderr or proc.stdout).strip()[-2000:]}")
    lines = proc.stdout.strip().splitlines()
    return lines[-1] if lines else ""
