"""The image cache's housekeeping: which entries pruning keeps, and the refusal without root."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from vmroll.imagebuild import rootfs
from vmroll.imagebuild.build import KEEP, prune


def _entry(root: Path, name: str, used: int) -> Path:
    entry = root / name
    entry.mkdir()
    (entry / "complete.json").write_text("{}")
    os.utime(entry, (used, used))
    return entry


def test_pruning_keeps_the_most_recently_used_entries_of_each_kind(tmp_path: Path) -> None:
    images = [_entry(tmp_path, f"{index:016x}", 1000 + index) for index in range(5)]
    debian = [_entry(tmp_path, f"rootfs-{index}", 2000 + index) for index in range(3)]
    wheels = [_entry(tmp_path, f"wheel-{index}", 3000 + index) for index in range(4)]
    building = _entry(tmp_path, ".rootfs-9.abc", 1)
    removed: list[str] = []

    prune(tmp_path, removed.append)

    assert KEEP == {"image": 3, "rootfs": 2, "wheel": 3}
    left = sorted(path.name for path in tmp_path.iterdir())
    expected = [building, *images[2:], *debian[1:], *wheels[1:]]
    assert left == sorted(path.name for path in expected)
    assert len(removed) == 4


def test_building_without_root_says_it_needs_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(rootfs.ImageBuildError, match=r"needs root: mmdebstrap .* chroot"):
        rootfs.require_root()
