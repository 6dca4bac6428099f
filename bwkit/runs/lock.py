"""A folder one process works in at a time: a sweep or a search is locked while its client runs it.

An advisory `flock` on a dotfile: the operating system releases it when the holder exits or is
killed, so a stale lock never blocks anyone; the file names the holder for the message.
"""
from __future__ import annotations

import fcntl
import os
import socket
from contextlib import contextmanager
from pathlib import Path

from bwkit.errors import RunError


@contextmanager
def held(path: Path, what: str):
    """Hold the lock at `path` for the block; another holder is refused at once, naming its pid and host."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+", encoding="utf-8")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise RunError(f"{what} is in use by {holder}; wait for it to finish (or stop it) and run again") from None
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {socket.gethostname()}")
        handle.flush()
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()
