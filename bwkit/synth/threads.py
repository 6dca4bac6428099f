"""A function over blocks of rows on a few threads, results in order.

numpy and BLAS release the GIL inside array operations, so blocks of a large
table run in parallel on threads.  Results come back in the order of the
blocks, at most ``2 x WORKERS`` blocks ahead of the consumer, so what is built
from them is the same as on one thread and memory stays bounded.
"""
from __future__ import annotations

import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor

WORKERS = max(1, min(4, os.cpu_count() or 1))


def ordered_map(fn, items):
    """``map(fn, items)``, evaluated on ``WORKERS`` threads."""
    items = list(items)
    if WORKERS == 1 or len(items) < 2:
        yield from map(fn, items)
        return
    with ThreadPoolExecutor(WORKERS) as pool:
        pending = deque()
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= 2 * WORKERS:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
