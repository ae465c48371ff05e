"""The vmroll wheel the image installs, and the hash of its content that keys the image cache.

The wheel is built from a copy of the sources (pyproject.toml, README.md, operator/vmroll), so
stale build/ or egg-info directories of the checkout cannot leak into it, with SOURCE_DATE_EPOCH
set. It is cached by a hash of those sources: an unchanged checkout skips the build.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

from vmroll.imagebuild.recipe import digest_of
from vmroll.imagebuild.rootfs import ImageBuildError

Report = Callable[[str], None]
_TOP_FILES = ("pyproject.toml", "README.md")
_PACKAGE = Path("operator") / "vmroll"


def operator_wheel(source_root: Path, cache: Path, epoch: int, report: Report) -> Path:
    """The wheel of the sources as they are now, built unless an identical one is cached."""
    sources = dict(_source_files(source_root))
    key = digest_of([*sources.items(), ("SOURCE_DATE_EPOCH", str(epoch).encode())])
    target = cache / f"wheel-{key}"
    built = sorted(target.glob("vmroll-*.whl"))
    if built:
        return built[0]
    report("building the vmroll wheel")
    with tempfile.TemporaryDirectory(prefix=f".{target.name}.", dir=cache) as scratch:
        tree = Path(scratch) / "source"
        for relative, content in sources.items():
            (tree / relative).parent.mkdir(parents=True, exist_ok=True)
            (tree / relative).write_bytes(content)
        wheels = Path(scratch) / "wheel"
        completed = subprocess.run(
            (
                *(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps"),
                *("--wheel-dir", str(wheels), str(tree)),
            ),
            env={**os.environ, "SOURCE_DATE_EPOCH": str(epoch)},
            capture_output=True,
            text=True,
            check=False,
        )
        if completed.returncode != 0:
            raise ImageBuildError(f"building the vmroll wheel failed:\n{completed.stderr[-4000:]}")
        shutil.rmtree(target, ignore_errors=True)
        os.rename(wheels, target)
    (wheel,) = target.glob("vmroll-*.whl")
    return wheel


def wheel_content_hash(wheel: Path) -> str:
    """A hash of the wheel's files and their bytes, whatever the zip's own metadata."""
    with zipfile.ZipFile(wheel) as archive:
        return digest_of((info.filename, archive.read(info)) for info in archive.infolist())


def _source_files(source_root: Path) -> Iterator[tuple[str, bytes]]:
    for name in _TOP_FILES:
        yield name, (source_root / name).read_bytes()
    for path in sorted((source_root / _PACKAGE).rglob("*")):
        relative = path.relative_to(source_root)
        if path.is_file() and not {"__pycache__"} & set(relative.parts) and path.suffix != ".pyc":
            yield relative.as_posix(), path.read_bytes()
