"""The heap's free pages go back to the system: on this machine's glibc, and on a schedule."""

from __future__ import annotations

import asyncio
import ctypes
from pathlib import Path
from typing import Any

import pytest

from vmroll.handlers import heap_trim
from vmroll.handlers.heap_trim import libc_trim, start_trimming, trim_every


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS in /proc/self/status")


def test_trim_returns_the_pages_freed_in_the_middle_of_the_heap() -> None:
    trim = libc_trim()
    assert trim is not None, "glibc has malloc_trim"
    trim()
    # 16 KiB blocks come from the heap, not from mmap; every other one freed leaves free pages
    # between live blocks, which only a trim returns.
    blocks = [ctypes.create_string_buffer(16 * 1024) for _ in range(2_000)]
    for block in blocks:
        block[0] = b"x"  # touched: resident
    del blocks[::2]
    before = _rss_kib()
    assert trim() in (0, 1)
    returned = before - _rss_kib()
    assert returned >= 8 * 1024, f"only {returned} KiB returned of ~16 MiB freed"
    del blocks


def test_no_trim_where_the_c_library_has_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(heap_trim.ctypes, "CDLL", lambda _name: object())
    assert libc_trim() is None


def test_no_trim_where_the_c_library_cannot_be_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(_name: Any) -> Any:
        raise OSError("no such library")

    monkeypatch.setattr(heap_trim.ctypes, "CDLL", refuse)
    assert libc_trim() is None
    assert start_trimming() is None


async def test_trims_after_every_interval_until_cancelled() -> None:
    slept: list[float] = []
    trims: list[int] = []

    async def sleep(seconds: float) -> None:
        if len(slept) == 3:
            raise asyncio.CancelledError
        slept.append(seconds)

    with pytest.raises(asyncio.CancelledError):
        await trim_every(7.0, lambda: trims.append(len(slept)), sleep)
    assert slept == [7.0, 7.0, 7.0]
    assert trims == [1, 2, 3]


async def test_the_operator_task_trims_until_cancelled() -> None:
    task = start_trimming()
    assert task is not None
    assert task.get_name() == "vmroll-heap-trim"
    await asyncio.sleep(0)
    assert not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
