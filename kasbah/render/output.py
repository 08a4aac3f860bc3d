"""Writing a render to disk so that any number of writers and readers can share one `build/<phase>/`.

`pulumi up` starts every step whose dependencies are met at once, and each step reads the phase's render; operators
also run `kasbah render` and `kasbah apply` by hand beside a running stack. So:

- writers take an exclusive `flock` on `<parent>/.<name>.lock`, readers (`kasbah apply --build`) a shared one for
  their whole run: a step never sees a tree mid-swap, and a render waits for the runs reading the old tree;
- the new tree is written beside the target under a unique name, then swapped in with one `renameat2(EXCHANGE)`
  (two renames where the kernel lacks it), so the path always names a complete tree;
- a render identical to what is on disk is left alone (concurrent renders of one spec are cheap and change nothing);
- a symlinked target or lock is refused, never followed, and a target that is a file is a clear error;
- the tree carries a manifest (`.kasbah-render.json`: SHA-256 per file and the render's digest), so `kasbah apply
  --build` can check it applies exactly what was rendered without re-planning the spec.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

MANIFEST = ".kasbah-render.json"
"""The render's own description inside the tree; hidden, and not part of any scope's digest."""

Files = dict[str, str]


class RenderTargetError(ValueError):
    """The output path cannot receive a render (a file, a symlink, an unwritable parent); the message says why."""


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def manifest(files: Files, digest: str) -> str:
    body = {"digest": digest, "files": {rel: _sha(text) for rel, text in sorted(files.items())}}
    return json.dumps(body, indent=1, sort_keys=True) + "\n"


def _target(out_dir: Path) -> Path:
    """Absolute, without resolving symlinks (a symlink at the target itself must be seen, not followed)."""
    target = Path(os.path.abspath(out_dir))
    if target.is_symlink():
        raise RenderTargetError(
            f"{out_dir} is a symbolic link: Kasbah does not write through links; remove it or give the real directory"
        )
    if target.exists() and not target.is_dir():
        raise RenderTargetError(f"{out_dir} is a file, not a directory: give --out a directory (it receives <phase>/)")
    for parent in target.parents:
        if parent.exists() and not parent.is_dir():
            raise RenderTargetError(f"{parent} is a file: {out_dir} cannot be created under it")
    return target


@contextlib.contextmanager
def _locked(target: Path, mode: int) -> Iterator[None]:
    lock = target.with_name(f".{target.name}.lock")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise RenderTargetError(f"{lock} is a symbolic link: remove it (Kasbah's lock files are plain)") from None
        raise RenderTargetError(f"cannot lock {target}: {exc.strerror}") from None
    try:
        fcntl.flock(fd, mode)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def reading(out_dir: Path) -> contextlib.AbstractContextManager[None]:
    """Hold a shared lock on a render while a run reads it: no writer swaps it meanwhile."""
    return _locked(_target(out_dir), fcntl.LOCK_SH)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux renameat2 RENAME_EXCHANGE); False where the kernel or libc lacks it."""
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(a))


def _same_tree(files: Files, text_manifest: str, target: Path) -> bool:
    if not target.is_dir():
        return False
    try:
        if (target / MANIFEST).read_text(encoding="utf-8") != text_manifest:
            return False
        on_disk = {p.relative_to(target).as_posix() for p in target.rglob("*") if not p.is_dir()}
        if on_disk != set(files) | {MANIFEST}:
            return False
        return all((target / rel).read_text(encoding="utf-8") == text for rel, text in files.items())
    except (OSError, UnicodeDecodeError):
        return False


def write(files: Files, out_dir: Path, digest: str) -> bool:
    """Make `out_dir` hold exactly `files` (and the manifest); True when something changed on disk."""
    target = _target(out_dir)
    text_manifest = manifest(files, digest)
    with _locked(target, fcntl.LOCK_EX):
        if _same_tree(files, text_manifest, target):
            return False
        try:
            tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.new-", dir=target.parent))
        except OSError as exc:
            raise RenderTargetError(f"cannot write beside {out_dir}: {exc.strerror}") from None
        try:
            for rel, text in {**files, MANIFEST: text_manifest}.items():
                path = tmp / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
                if text.startswith("#!"):
                    path.chmod(0o755)
            tmp.chmod(0o755)
            if target.is_dir() and _exchange(tmp, target):
                pass  # tmp now holds the old tree
            else:
                if target.exists():
                    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
                    os.replace(target, old / "tree")
                    shutil.rmtree(old, ignore_errors=True)
                os.replace(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return True


def verify(out_dir: Path) -> tuple[str, list[str]]:
    """The digest a render's manifest records, and the files that no longer match it (missing or changed)."""
    target = _target(out_dir)
    try:
        data = json.loads((target / MANIFEST).read_text(encoding="utf-8"))
        recorded: dict[str, str] = data["files"]
        digest = str(data["digest"])
    except (OSError, ValueError, KeyError, TypeError):
        raise RenderTargetError(
            f"{out_dir} has no readable render manifest ({MANIFEST}): render it with `kasbah render SPEC --out DIR`"
        ) from None
    bad = []
    for rel, sha in sorted(recorded.items()):
        try:
            same = _sha((target / rel).read_text(encoding="utf-8")) == sha
        except (OSError, UnicodeDecodeError):
            same = False
        if not same:
            bad.append(rel)
    return digest, bad
