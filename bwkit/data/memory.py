"""Will it fit? The memory a load needs against what the machine has, said before the work starts."""
from __future__ import annotations

import functools
from pathlib import Path

from bwkit.errors import DataError


def memory_available() -> int | None:
    """Bytes the kernel says a new allocation can get (MemAvailable), where /proc/meminfo exists."""
    try:
        line = next(x for x in Path("/proc/meminfo").read_text().splitlines() if x.startswith("MemAvailable"))
        return int(line.split()[1]) * 1024
    except (OSError, StopIteration, ValueError):
        return None


BYTES_PER_VALUE = 40   # a parsed number in the frame, its float64 array and the windows' float32 rows, with slack


def check_fits(path, rows: int, columns: int) -> None:
    """Refuse, before parsing, a file whose used columns would not fit in memory."""
    need, have = rows * (columns + 2) * BYTES_PER_VALUE, memory_available()
    if have is not None and need > have:
        raise DataError(f"{path}: {rows:,} rows x {columns} used columns need about {need / 2**30:.1f} GiB to load "
                        f"and window, and {have / 2**30:.1f} GiB is available; use fewer rows (a shorter period) "
                        "or fewer columns, or a machine with more memory")


@functools.lru_cache(maxsize=1)
def _malloc_trim():
    """glibc's malloc_trim, or None (macOS, musl: their allocators decide). Looked up once: find_library
    runs ldconfig."""
    import ctypes
    import ctypes.util

    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


def give_back() -> None:
    """Return freed heap memory to the operating system (glibc's malloc_trim; nothing elsewhere).

    pandas parses a big CSV in chunks of a few megabytes; once they are concatenated and freed, glibc
    keeps their pages for reuse, resident though no array holds them.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
