"""`vmroll run` limits glibc's malloc arenas (handlers/allocator.py): threads that allocate at
once share two arenas instead of getting one each, unless the environment sets its own limit."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from vmroll.handlers.allocator import VARIABLE

ARENAS_SEEN = textwrap.dedent(
    """
    import ctypes, ctypes.util, os, sys, threading
    from vmroll.handlers.allocator import limit_arenas

    print(limit_arenas())
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    libc.fdopen.restype = ctypes.c_void_p
    libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
    libc.fflush.argtypes = [ctypes.c_void_p]
    together = threading.Barrier(9)
    kept = []

    def allocate():
        kept.append([bytes(4096) + bytes([n % 256]) for n in range(64)])
        together.wait()
        together.wait()

    threads = [threading.Thread(target=allocate) for _ in range(8)]
    for thread in threads:
        thread.start()
    together.wait()
    read, write = os.pipe()
    stream = libc.fdopen(write, b"w")
    libc.malloc_info(0, stream)
    libc.fflush(stream)
    together.wait()
    os.close(write)
    print(os.read(read, 1 << 20).decode().count("<heap nr="))
    """
)


def run(env: dict[str, str]) -> tuple[str, int]:
    done = subprocess.run(
        [sys.executable, "-c", ARENAS_SEEN], env=env, capture_output=True, text=True, check=True
    )
    limited, heaps = done.stdout.split()
    return limited, int(heaps)


def test_threads_allocating_at_once_share_two_arenas() -> None:
    env = {k: v for k, v in os.environ.items() if k != VARIABLE}
    assert run(env) == ("True", 2)


def test_the_environments_own_limit_wins() -> None:
    env = {k: v for k, v in os.environ.items() if k != VARIABLE}
    limited, heaps = run({**env, VARIABLE: "8"})
    assert limited == "False"
    assert heaps > 2
