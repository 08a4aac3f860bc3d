"""`kasbah energy --out` and `kasbah report --out` run at once into one directory, as a cron job and an operator
would: every writer succeeds, a reader polling meanwhile only ever sees whole files, and what is left is byte for byte
what one writer alone writes."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

from tests.conftest import REPO

SPEC = REPO / "stacks" / "phase1.yaml"
KASBAH = [str(Path(sys.executable).parent / "kasbah")]


def _run(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([*KASBAH, *args], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_writers_at_once_leave_whole_files_and_readers_never_see_half(tmp_path: Path) -> None:
    alone = tmp_path / "alone"
    for args in (("energy", str(SPEC), "--out", str(alone)), ("report", str(SPEC), "--out", str(alone))):
        done = subprocess.run([*KASBAH, *args], cwd=REPO, capture_output=True, text=True, check=False)
        assert done.returncode in (0, 1), done.stderr
    shared = tmp_path / "shared"
    shared.mkdir()
    seen: list[str] = []
    problems: list[str] = []
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            for name in ("power_schedule.json", "energy.json", "phase1.html"):
                try:
                    text = (shared / name).read_text(encoding="utf-8")
                except FileNotFoundError:
                    continue
                seen.append(name)
                if name.endswith(".json"):
                    try:
                        json.loads(text)
                    except ValueError as exc:
                        problems.append(f"{name}: {exc}")
                elif not text.rstrip().endswith("</html>"):
                    problems.append(f"{name}: cut short at {len(text)} characters")

    poll = threading.Thread(target=reader, daemon=True)
    poll.start()
    procs = [_run("energy", str(SPEC), "--out", str(shared)) for _ in range(3)]
    procs += [_run("report", str(SPEC), "--out", str(shared)) for _ in range(2)]
    results = [(p.wait(timeout=600), p.stderr.read() if p.stderr else "") for p in procs]
    stop.set()
    poll.join(timeout=10)
    assert all(code in (0, 1) for code, _ in results), results  # 1: the example's own warnings
    assert not problems, problems[:5]
    assert seen  # the reader did read while the writers ran
    left = sorted(p.name for p in shared.iterdir())
    assert left == sorted(p.name for p in alone.iterdir()), left  # no temporary file left behind
    for name in left:
        assert (shared / name).read_bytes() == (alone / name).read_bytes(), name
