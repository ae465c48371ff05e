"""`vmroll image build`: the image archive, from the cache when its inputs have not changed.

Two caches under `<cache>/image/`. `rootfs-<key>/` holds the Debian root filesystem, keyed by
the recipe, mmdebstrap's version and the host's apt Release files (the archive state), so a code
change does not run mmdebstrap again. `<key>/` holds a finished archive, keyed by that, the
wheel's content, the imagetool build, this package's source, the source revision and
SOURCE_DATE_EPOCH. Each is filled in a staging directory and renamed into place with its marker
written last; a lock makes concurrent builds (other checkouts share the cache) wait in turn.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from vmroll import __version__
from vmroll.devcluster.build import ensure_tools, locate_cache
from vmroll.devcluster.paths import HACK_ROOT, cache_root
from vmroll.devcluster.toolsets import IMAGETOOL_SET
from vmroll.devcluster.versions import IMAGETOOL
from vmroll.imagebuild import recipe, rootfs
from vmroll.imagebuild.rootfs import ImageBuildError
from vmroll.imagebuild.wheel import operator_wheel, wheel_content_hash

Report = Callable[[str], None]
SOURCE_ROOT = HACK_ROOT.parent
MARKER = "complete.json"
ROOTFS_MARKER = "packages.json"
SOURCE_VARIABLE = "VMROLL_IMAGE_SOURCE"
# How many entries of each kind the cache keeps, most recently used first.
KEEP = {"image": 3, "rootfs": 2, "wheel": 3}


@dataclass(frozen=True)
class BuiltImage:
    archive: Path
    key: str
    cached: bool


def build_image(
    *,
    dist: Path = SOURCE_ROOT / "dist",
    rebuild: bool = False,
    report: Report = print,
    environ: Mapping[str, str] = os.environ,
) -> BuiltImage:
    """`dist/vmroll-<version>.oci.tar`, copied from the cache or built into it."""
    started = time.monotonic()
    rootfs.require_root()
    mmdebstrap_version = rootfs.ensure_host_tools(report)
    _, tools_key = locate_cache(IMAGETOOL_SET, environ)
    imagetool = ensure_tools(IMAGETOOL_SET, report=report, environ=environ).binary(IMAGETOOL)
    epoch = source_date_epoch(environ)
    revision = source_revision()
    root = cache_root(environ) / "image"
    root.mkdir(parents=True, exist_ok=True)
    with _exclusive(root / ".lock", report):
        wheel = operator_wheel(SOURCE_ROOT, root, epoch, report)
        rootfs_key = recipe.rootfs_key(mmdebstrap_version, rootfs.apt_releases())
        key = recipe.image_key(
            builder_hash(), rootfs_key, wheel_content_hash(wheel), tools_key, revision, epoch
        )
        cache = root / key
        archive_name = recipe.archive_name(__version__)
        if rebuild or not _valid(cache, archive_name):
            base = _ensure_debian(root / f"rootfs-{rootfs_key}", report)
            _assemble(cache, base, wheel, imagetool, archive_name, epoch, revision, environ, report)
            cached = False
        else:
            report(f"image cache hit: {cache}")
            cached = True
        for used in (cache, wheel.parent, root / f"rootfs-{rootfs_key}"):
            if used.exists():
                os.utime(used)
        prune(root, report)
    dist.mkdir(parents=True, exist_ok=True)
    target = dist / archive_name
    partial = target.with_name(f".{target.name}.{os.getpid()}")
    shutil.copyfile(cache / archive_name, partial)
    os.replace(partial, target)
    elapsed = _duration(time.monotonic() - started)
    report(f"image {recipe.image_name(__version__)} in {elapsed}: {target}")
    return BuiltImage(target, key, cached)


@contextlib.contextmanager
def _exclusive(lock: Path, report: Report) -> Iterator[None]:
    """One build at a time per cache: a second `make image` waits, then finds the cache filled."""
    with lock.open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            report("another image build is running; waiting for it")
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def source_date_epoch(environ: Mapping[str, str]) -> int:
    """SOURCE_DATE_EPOCH when set, else the time of the checkout's last commit."""
    if explicit := environ.get("SOURCE_DATE_EPOCH"):
        return int(explicit)
    return int(_git("log", "-1", "--format=%ct") or 0)


def builder_hash() -> str:
    """This package's own source: editing the recipe or the steps assembles the image again."""
    package = Path(__file__).parent
    return recipe.digest_of((path.name, path.read_bytes()) for path in package.glob("*.py"))


def source_revision() -> str:
    """The commit; `-dirty` when tracked files differ from it (the wheel then holds the edits)."""
    commit = _git("rev-parse", "HEAD") or "unknown"
    dirty = _git("status", "--porcelain", "--untracked-files=no")
    return f"{commit}-dirty" if dirty else commit


def _ensure_debian(cache: Path, report: Report) -> Path:
    if (cache / ROOTFS_MARKER).is_file():
        report(f"Debian root filesystem cache hit: {cache}")
        return cache / "rootfs"
    started = time.monotonic()
    staging = Path(tempfile.mkdtemp(prefix=f".{cache.name}.", dir=cache.parent))
    try:
        rootfs.build_debian(staging / "rootfs", report)
        packages = rootfs.debian_packages(staging / "rootfs")
        (staging / ROOTFS_MARKER).write_text(json.dumps({"debian": packages}, indent=2) + "\n")
        rootfs.remove_tree(cache)
        os.rename(staging, cache)
    finally:
        rootfs.remove_tree(staging)
    report(f"Debian root filesystem built in {_duration(time.monotonic() - started)}: {cache}")
    return cache / "rootfs"


def _assemble(
    cache: Path,
    base: Path,
    wheel: Path,
    imagetool: Path,
    archive_name: str,
    epoch: int,
    revision: str,
    environ: Mapping[str, str],
    report: Report,
) -> None:
    started = time.monotonic()
    staging = Path(tempfile.mkdtemp(prefix=f".{cache.name}.", dir=cache.parent))
    try:
        tree = staging / "rootfs"
        report("copying the Debian root filesystem")
        subprocess.run(("cp", "-a", str(base), str(tree)), check=True)
        wheels = staging / "wheels"
        report("fetching the runtime dependencies' wheels on the host (Python 3.11, manylinux)")
        _check(recipe.pip_download_argv(sys.executable, wheel, wheels), "pip download")
        shutil.copy2(wheel, wheels / wheel.name)
        rootfs.install_operator(tree, wheels, wheel.name, report)
        rootfs.finish(tree)
        source = environ.get(SOURCE_VARIABLE, recipe.DEFAULT_SOURCE)
        labels = recipe.labels(__version__, revision, source)
        report("writing the OCI image (hack/imagetool)")
        archive = staging / archive_name
        _check(
            recipe.imagetool_argv(imagetool, tree, archive, __version__, epoch, labels), "imagetool"
        )
        marker = {
            "image": recipe.image_name(__version__),
            "sha256": _sha256(archive),
            "revision": revision,
            "source_date_epoch": epoch,
            "wheels": sorted(path.name for path in wheels.glob("*.whl")),
            "debian": json.loads((base.parent / ROOTFS_MARKER).read_text())["debian"],
        }
        rootfs.remove_tree(tree)
        shutil.rmtree(wheels)
        (staging / MARKER).write_text(json.dumps(marker, indent=2) + "\n")
        rootfs.remove_tree(cache)
        os.rename(staging, cache)
    finally:
        rootfs.remove_tree(staging)
    report(f"image assembled in {_duration(time.monotonic() - started)}")


def prune(root: Path, report: Report) -> None:
    """Keep the most recently used entries of each kind (their directory's time is their last
    use); every commit makes a new image key, so without this the cache only grows."""
    kinds: dict[str, list[Path]] = {"image": [], "rootfs": [], "wheel": []}
    for entry in root.iterdir():
        if entry.name.startswith("."):
            continue
        kind = entry.name.split("-")[0] if "-" in entry.name else "image"
        kinds.setdefault(kind, []).append(entry)
    for kind, entries in kinds.items():
        entries.sort(key=lambda entry: entry.stat().st_mtime, reverse=True)
        for stale in entries[KEEP.get(kind, 1) :]:
            report(f"removing the unused cache entry {stale}")
            rootfs.remove_tree(stale)


def _valid(cache: Path, archive_name: str) -> bool:
    try:
        marker = json.loads((cache / MARKER).read_text())
    except (OSError, ValueError):
        return False
    archive = cache / archive_name
    return archive.is_file() and marker.get("sha256") == _sha256(archive)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _check(argv: tuple[str, ...], what: str) -> None:
    completed = subprocess.run(argv, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        output = (completed.stdout + completed.stderr).strip()[-4000:]
        raise ImageBuildError(f"{what} failed (exit {completed.returncode}):\n{output}")


def _git(*args: str) -> str:
    completed = subprocess.run(
        ("git", "-C", str(SOURCE_ROOT), *args), capture_output=True, text=True, check=False
    )
    return completed.stdout.strip() if completed.returncode == 0 else ""


def _duration(seconds: float) -> str:
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m{rest:02d}s" if minutes else f"{seconds:.1f}s"
