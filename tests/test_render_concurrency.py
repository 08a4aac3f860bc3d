"""Render once, apply many: concurrent renders into one directory, readers never see a half-swapped tree, and
targets that are files, symlinks or leftovers of older versions are handled with a message, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kasbah import render as renders
from kasbah.apply_locks import limit_tokens
from kasbah.cli import app
from kasbah.render.output import MANIFEST, RenderTargetError, reading, verify

REPO = Path(__file__).resolve().parents[1]
SPEC = REPO / "stacks" / "phase1.yaml"


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _render(out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kasbah.cli", "render", str(SPEC), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )


def test_eight_concurrent_renders_equal_a_serial_one(tmp_path: Path) -> None:
    serial = tmp_path / "serial"
    assert _render(serial).returncode == 0
    shared = tmp_path / "shared"
    # a leftover of the old writer (fixed `.phase1.old`) must not disturb anything
    (shared / ".phase1.old" / "x").mkdir(parents=True)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "kasbah.cli", "render", str(SPEC), "--out", str(shared)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        for _ in range(8)
    ]
    results = [(p.wait(timeout=600), p.stderr.read() if p.stderr else "") for p in procs]
    assert [code for code, _ in results] == [0] * 8, results
    assert all("Traceback" not in err for _, err in results)
    assert _tree(shared / "phase1") == _tree(serial / "phase1")
    leftovers = sorted(p.name for p in shared.iterdir() if p.name.startswith(".phase1.") and p.is_dir())
    assert leftovers == [".phase1.old"], leftovers  # no temp trees left behind, the stranger untouched


def test_writers_wait_for_readers_and_readers_never_see_a_partial_tree(tmp_path: Path) -> None:
    out = tmp_path / "phase1"
    files_a = {f"d/{i}.txt": "a\n" for i in range(200)}
    files_b = {f"d/{i}.txt": "b\n" for i in range(200)}
    renders.write(files_a, out)
    seen: list[set[str]] = []
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            with reading(out):
                seen.append({(out / rel).read_text() for rel in files_a})

    def writer() -> None:
        for i in range(20):
            renders.write(files_b if i % 2 else files_a, out)

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    writer()
    stop.set()
    for t in threads:
        t.join()
    assert seen and all(len(s) == 1 for s in seen), "a reader saw files of two renders at once"


def test_an_identical_render_leaves_the_tree_alone(tmp_path: Path) -> None:
    out = tmp_path / "p"
    assert renders.write({"a.txt": "1\n"}, out) is True
    inode = out.stat().st_ino
    assert renders.write({"a.txt": "1\n"}, out) is False
    assert out.stat().st_ino == inode
    assert renders.write({"a.txt": "2\n"}, out) is True
    assert (out / "a.txt").read_text() == "2\n"


def test_symlinked_targets_are_refused_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("mine\n")
    link = tmp_path / "phase1"
    link.symlink_to(victim)
    with pytest.raises(RenderTargetError, match="symbolic link"):
        renders.write({"a.txt": "1\n"}, link)
    assert sorted(p.name for p in victim.iterdir()) == ["keep.txt"]
    lock_target = tmp_path / "other"
    (tmp_path / ".other.lock").symlink_to(victim / "keep.txt")
    with pytest.raises(RenderTargetError, match="symbolic link"):
        renders.write({"a.txt": "1\n"}, lock_target)
    assert (victim / "keep.txt").read_text() == "mine\n"


@pytest.mark.parametrize("case", ["file", "file-parent", "symlink"])
def test_render_out_that_cannot_hold_a_render_is_exit_2(tmp_path: Path, case: str) -> None:
    if case == "file":
        out = tmp_path / "build"
        out.mkdir()
        (out / "phase1").write_text("a file where phase1/ should go\n")
    elif case == "file-parent":
        (tmp_path / "f").write_text("x\n")
        out = tmp_path / "f" / "build"
    else:
        out = tmp_path / "build"
        out.mkdir()
        (out / "phase1").symlink_to(tmp_path)
    result = CliRunner().invoke(app, ["render", str(SPEC), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "error:" in result.output and "Traceback" not in result.output


def test_render_writes_a_manifest_and_verify_finds_hand_edits(tmp_path: Path) -> None:
    assert _render(tmp_path).returncode == 0
    build = tmp_path / "phase1"
    assert (build / MANIFEST).is_file()
    digest, bad = verify(build)
    assert bad == [] and len(digest) == 64
    (build / "frr" / "edge1.conf.j2").write_text("tampered\n")
    assert verify(build)[1] == ["frr/edge1.conf.j2"]
    result = CliRunner().invoke(app, ["apply", "--build", str(build), "--tags", "wan_edge", "--check"])
    assert result.exit_code == 1 and "changed after it was rendered" in result.output


def test_apply_build_needs_no_spec_but_a_render(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["apply", "--build", str(tmp_path / "none")])
    assert result.exit_code == 2 and "holds no rendered inventory" in result.output
    result = CliRunner().invoke(app, ["apply"])
    assert result.exit_code == 2 and "--build" in result.output


def test_limit_tokens_name_every_host_and_group() -> None:
    assert limit_tokens(None) == ["all"]
    assert limit_tokens("edge1") == ["edge1"]
    assert limit_tokens("edge_routers:monitoring,!mon1") == ["edge_routers", "mon1", "monitoring"]


def test_concurrent_apply_runs_on_one_host_take_turns(tmp_path: Path) -> None:
    """Two processes locking the same limit never overlap; different limits may."""
    script = (
        "import sys,time,pathlib\n"
        "from kasbah.apply_locks import apply_locks\n"
        "root=pathlib.Path(sys.argv[1]); log=root/'log'\n"
        "with apply_locks(root, sys.argv[2]):\n"
        "    with log.open('a') as f: f.write('start '+sys.argv[2]+'\\n')\n"
        "    time.sleep(0.4)\n"
        "    with log.open('a') as f: f.write('end '+sys.argv[2]+'\\n')\n"
    )
    env = {**os.environ, "KASBAH_APPLY_SLOTS": "4"}
    procs = [
        subprocess.Popen([sys.executable, "-c", script, str(tmp_path), limit], env=env, cwd=REPO)
        for limit in ("edge1", "edge1", "edge1")
    ]
    assert [p.wait(timeout=60) for p in procs] == [0, 0, 0]
    lines = (tmp_path / "log").read_text().split()
    events = [lines[i] for i in range(0, len(lines), 2)]
    assert events == ["start", "end"] * 3, lines
