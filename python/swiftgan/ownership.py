"""A user's files are theirs: SwiftGAN writes only into folders it created or recognises as its own (a run, a
checkpoint, a comparison, a study), never removes what it did not write, holds an exclusive lock on a folder while
it writes there, and names its temporary files so that no two can collide.

- `is_checkpoint(path)`: a folder that `GAN.save` wrote (its trainer.json names a SwiftGAN checkpoint format).
- `claim_folder(path, marker, ours, force)`: makes `path` a SwiftGAN folder of kind `marker`, or refuses.
- `temporary_sibling(path)` / `remove_stale_temporaries(path)`: temporary folders beside `path` whose names
  hold the writing process's id and the exact name of `path`; a stale one is removed only when its process is
  gone and it is a temporary of exactly this `path`.
- `FolderLock(path)`: an exclusive `flock` on `path/.swiftgan-lock`, refused (`FolderInUseError`, naming the
  holder) while another process holds it.
"""
from __future__ import annotations

import errno
import fcntl
import os
import re
import shutil
import socket
import time
from typing import Iterable, List, Optional

LOCK_NAME = ".swiftgan-lock"
_TEMPORARY = re.compile(r"^\.swiftgan-tmp\.(\d+)\.([0-9a-f]{12})\.(.+)$")


class FolderInUseError(RuntimeError):
    """A folder SwiftGAN is writing in is locked by another process (named in the message)."""


CHECKPOINT_FILES = ("weights.safetensors", "optimizer.safetensors", "trainer.json", "checksums.sha256")


def is_checkpoint(path: str) -> bool:
    """Whether `path` is a folder `GAN.save` wrote (complete or damaged): it holds only a checkpoint's files, among
    them weights.safetensors or a trainer.json that names a SwiftGAN checkpoint format."""
    try:
        names = set(os.listdir(path))
    except OSError:
        return False
    if not names or not names <= set(CHECKPOINT_FILES):
        return False
    if "weights.safetensors" in names:
        return True
    try:
        with open(os.path.join(path, "trainer.json"), "rb") as f:
            return b"swiftgan-checkpoint-" in f.read(4096)
    except OSError:
        return False


def _marker_kind(path: str, marker: str) -> Optional[str]:
    try:
        with open(os.path.join(path, marker)) as f:
            return f.readline().strip()
    except OSError:
        return None


def claim_folder(path: str, marker: str, kind: str, ours: Iterable[str], force: bool = False,
                 legacy=None, create: bool = True) -> bool:
    """Makes `path` a folder of `kind` (written in its `marker` file), creating it if need be. Returns whether it
    held one already (a run to resume, a comparison to complete, ...).

    A folder is SwiftGAN's when it holds `marker` naming `kind` (or `legacy(path)` says it is one written before
    markers existed). An empty folder becomes SwiftGAN's. A folder holding other files is refused unless `force`,
    and then only when none of the names SwiftGAN writes there (`ours`) is taken. With `create` false, only checks
    (nothing is created or written).

    Raises:
        FileExistsError: for a path that is a file, a folder of another kind, or a folder holding files SwiftGAN did
            not write (without `force`, or with `force` when a name SwiftGAN writes is taken); the message says how
            to proceed.
    """
    if os.path.lexists(path) and not os.path.isdir(path):
        raise FileExistsError(f"{path} is a file, not a folder: choose another path")
    if not os.path.isdir(path):
        if create:
            os.makedirs(path)
            _write_marker(path, marker, kind)
        return False
    found = _marker_kind(path, marker)
    if found == kind or (found is None and legacy is not None and legacy(path)):
        if found is None and create:
            _write_marker(path, marker, kind)
        return True
    if found is not None:
        raise FileExistsError(f"{path} is a SwiftGAN {found} folder, not a {kind} one: choose another folder")
    present = sorted(name for name in os.listdir(path) if name != LOCK_NAME)
    if present and not force:
        shown = ", ".join(present[:5]) + (f" and {len(present) - 5} more" if len(present) > 5 else "")
        raise FileExistsError(f"{path} holds files SwiftGAN did not write ({shown}): choose another folder, or pass "
                              f"--force (force=True) to write the {kind} beside them (nothing of theirs is changed "
                              "or removed)")
    taken = sorted(set(present) & set(ours))
    if taken:
        raise FileExistsError(f"{path}: {', '.join(taken)} already exist{'s' if len(taken) == 1 else ''} and "
                              f"{'is' if len(taken) == 1 else 'are'} not SwiftGAN's: choose another folder (even "
                              "with --force, SwiftGAN never replaces a file it did not write)")
    if create:
        _write_marker(path, marker, kind)
    return False


def check_new_file(path: str, force: bool = False) -> None:
    """Refuses to write the file `path` over an existing one unless `force` (a folder is always refused).

    Raises:
        FileExistsError: saying how to proceed.
    """
    if os.path.isdir(path):
        raise FileExistsError(f"{path} is a folder: give a file name")
    if os.path.lexists(path) and not force:
        raise FileExistsError(f"{path} exists: choose another name, or pass --force (force=True) to replace it")


def _write_marker(path: str, marker: str, kind: str) -> None:
    partial = os.path.join(path, f"{marker}.{os.getpid()}.{os.urandom(6).hex()}")
    with open(partial, "w") as f:
        f.write(f"{kind}\nwritten by SwiftGAN: this folder's files are SwiftGAN's, and it may replace them\n")
    os.replace(partial, os.path.join(path, marker))


def owned_by(path: str, marker: str, kind: str, legacy=None) -> bool:
    """Whether `path` is a SwiftGAN folder of `kind` (see `claim_folder`)."""
    found = _marker_kind(path, marker)
    return found == kind or (found is None and legacy is not None and legacy(path))


# ---- temporary names ---------------------------------------------------------------------------

def temporary_sibling(path: str) -> str:
    """A new, empty temporary folder beside `path`: `.swiftgan-tmp.<pid>.<random>.<name of path>`."""
    parent, name = os.path.split(os.path.abspath(path))
    while True:
        candidate = os.path.join(parent, f".swiftgan-tmp.{os.getpid()}.{os.urandom(6).hex()}.{name}")
        try:
            os.mkdir(candidate, 0o700)
            return candidate
        except FileExistsError:
            continue


def process_is_gone(pid: int) -> bool:
    """Whether no process has the id `pid` (one of another user's counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def remove_stale_temporaries(path: str) -> List[str]:
    """Removes the temporary folders of saves of exactly `path` whose process is gone (killed midway); returns
    them. Another path's temporaries, and those of live processes, are never touched."""
    parent, name = os.path.split(os.path.abspath(path))
    removed = []
    try:
        entries = os.listdir(parent)
    except OSError:
        return removed
    for entry in entries:
        match = _TEMPORARY.match(entry)
        if match and match.group(3) == name and int(match.group(1)) != os.getpid() and process_is_gone(int(match.group(1))):
            shutil.rmtree(os.path.join(parent, entry), ignore_errors=True)
            removed.append(os.path.join(parent, entry))
    return removed


# ---- the lock ------------------------------------------------------------------------------------

class FolderLock:
    """An exclusive lock on the folder `path` (`flock` on `path/.swiftgan-lock`, released when the process ends,
    however it ends), holding the holder's process id, host and start time for the refusal's message."""

    def __init__(self, path: str, what: str = "folder"):
        self.path, self.what = path, what
        self.file = None

    def __enter__(self) -> "FolderLock":
        lock_path = os.path.join(self.path, LOCK_NAME)
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            holder = os.pread(fd, 512, 0).decode("utf-8", "replace").strip() or "another process"
            os.close(fd)
            if error.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise FolderInUseError(f"{self.path}: the {self.what} is in use by {holder}: wait for it to end, or "
                                       "choose another folder") from None
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"process {os.getpid()} on {socket.gethostname()} since "
                      f"{time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode(), 0)
        self.file = fd
        return self

    def __exit__(self, *exc) -> None:
        if self.file is not None:
            os.ftruncate(self.file, 0)
            os.close(self.file)  # closing releases the lock
            self.file = None
