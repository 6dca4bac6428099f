"""Whole files or none: every file the kit writes in place of another goes through `whole_file`.

A reader (or the next run) sees the old file or the new one, never half of either: the new bytes go to a
`.partial` file beside the target and are renamed over it only once complete. A write that fails (a full disk,
a killed process, an error while producing the bytes) leaves no partial file behind and the old file as it was.
"""
from __future__ import annotations

import errno
import os
import uuid
from contextlib import contextmanager
from pathlib import Path

from bwkit.errors import DiskFull


def partial_path(path: Path) -> Path:
    """A name beside `path` that no other writer (another process, another thread) picks at the same time."""
    return path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:12]}.partial")


@contextmanager
def whole_file(path, *, durable: bool = False):
    """Yields the partial file to write; on leaving without an error it replaces `path`, otherwise it is removed.

    A full disk raises `DiskFull` naming the file (the old one kept); another OSError passes through as it is.
    `durable`: the bytes and the rename are flushed to the disk, so a power loss keeps one whole file too."""
    path = Path(path)
    partial = partial_path(path)
    try:
        yield partial
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


def _sync(path: Path) -> None:
    handle = os.open(path, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)
