"""Whole files or none: the files the kit writes in place of another go through `whole_file`.

A reader (or the next run) sees the old file or the new one, never half of either: the new bytes go to a
`.partial` file beside the target and are renamed over it only once complete. A write that fails (a full disk,
an error while producing the bytes, Ctrl-C) removes its partial file and leaves the old file as it was. A process
killed outright (SIGKILL, a power loss) cannot remove its own: the next write of the same file does.
"""
from __future__ import annotations

import contextlib
import errno
import glob
import os
import stat
import uuid
from contextlib import contextmanager
from pathlib import Path

from bwkit.errors import DiskFull


def partial_path(path: Path) -> Path:
    """A name beside `path` that no other writer (another process, another thread) picks at the same time; it holds
    the writing process's id, so that a writer killed outright can be told from one still writing."""
    return path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:12]}.partial")


@contextmanager
def whole_file(path, *, durable: bool = False):
    """Yields the partial file to write; on leaving without an error it replaces `path`, otherwise it is removed.

    A symlink is written through (the file it points to is replaced, the link kept), and the replaced file's
    permissions are kept. A full disk raises `DiskFull` naming the file (the old one kept); another OSError passes
    through as it is. `durable`: the bytes and the rename are flushed to the disk, so a power loss keeps one whole
    file too."""
    path = Path(path)
    path = path.resolve() if path.is_symlink() else path
    _clear_orphans(path)
    partial = partial_path(path)
    try:
        yield partial
        _keep_mode(path, partial)
        if durable:
            _sync(partial)
        os.replace(partial, path)
        if durable:
            _sync(path.parent)
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise DiskFull(f"no space left on {path.parent} (writing {path.name})") from None
        raise
    finally:
        partial.unlink(missing_ok=True)


def _clear_orphans(path: Path) -> None:
    """Remove the partial files of `path` whose writing process is gone (killed before it could remove its own)."""
    with contextlib.suppress(OSError):
        for orphan in path.parent.glob(f".{glob.escape(path.name)}.*.partial"):   # a name may hold [ ] * ?
            pid = orphan.name[len(path.name) + 2:].split(".")[0]
            if pid.isdigit() and not _alive(int(pid)):
                orphan.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:   # a live process of another user's
        pass
    return True


def _keep_mode(path: Path, partial: Path) -> None:
    with contextlib.suppress(FileNotFoundError):   # a new file: the process's umask decides
        os.chmod(partial, stat.S_IMODE(os.stat(path).st_mode))


def _sync(path: Path) -> None:
    handle = os.open(path, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)
