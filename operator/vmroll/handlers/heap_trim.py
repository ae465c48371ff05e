"""Gives the C allocator's free pages back to the system every `TRIM_SECONDS`.

glibc keeps what the process frees for reuse and returns to the system only the top of its
heap. What a busy operator frees in the middle (list pages decoded, request and TLS buffers,
status models of passes that ended) stays resident, so RSS keeps the high-water mark of the
busiest moment. Measured after a 1,000 x 10 rollout (benchmarks/README.md): glibc held 98 MB,
56 MB of it in use, and one `malloc_trim(0)` took the operator from 324 to 293 MiB. A trim took
15-40 ms on a fragmented heap of that size; every 15 s that is well under 1 % of a core.

Python's own arenas for small objects are not touched: it unmaps them when they empty. Where the
C library has no `malloc_trim` (not glibc), nothing runs.
"""

from __future__ import annotations

import asyncio
import ctypes
from collections.abc import Awaitable, Callable

TRIM_SECONDS = 15.0

Trim = Callable[[], object]


def libc_trim() -> Trim | None:
    """`malloc_trim(0)` of the process's own C library, or None where it has none."""
    try:
        libc = ctypes.CDLL(None)
    except OSError:
        return None
    trim = getattr(libc, "malloc_trim", None)
    if trim is None:
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return lambda: trim(0)


async def trim_every(
    seconds: float,
    trim: Trim,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """Trim after every `seconds`, until cancelled."""
    while True:
        await sleep(seconds)
        trim()


def start_trimming() -> asyncio.Task[None] | None:
    """The task that trims the heap for as long as the operator runs; None where it cannot."""
    trim = libc_trim()
    if trim is None:
        return None
    return asyncio.create_task(trim_every(TRIM_SECONDS, trim), name="vmroll-heap-trim")
