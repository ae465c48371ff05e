"""Two malloc arenas for the operator's process, as `MALLOC_ARENA_MAX=2` would give.

glibc gives each thread that allocates its own arena, up to eight per core, and an arena keeps
the pages its freed blocks sit on for as long as one block on them lives. The operator's
Kubernetes calls run in asyncio's thread pool (handlers/kube.py), so the responses they decode
spread over as many arenas as the pool has threads; after the create phase, when every pool had
work, the process kept its high-water mark in partly used arenas (`malloc_trim` returned 30 of
370 MiB). Set by `vmroll run` itself before any thread starts, so that it holds wherever the
operator runs (the image, the chart, `vmroll devstack`, the benchmarks); an explicit
`MALLOC_ARENA_MAX` in the environment wins, and a C library without `mallopt` is left as it is.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

ARENAS = 2
M_ARENA_MAX = -8
"""glibc's `mallopt` parameter number for the arena limit (malloc.h)."""
VARIABLE = "MALLOC_ARENA_MAX"


def limit_arenas(arenas: int = ARENAS) -> bool:
    """Whether the limit was set; False when the environment sets its own or libc has none."""
    if VARIABLE in os.environ:
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    mallopt = getattr(ctypes.CDLL(name), "mallopt", None)
    if mallopt is None:
        return False
    return bool(mallopt(M_ARENA_MAX, arenas))
