"""Issue 8 item 1: how long `vmroll image build` takes, how big the image is, whether it reproduces.

Each cold run builds into a fresh cache directory (`VMROLL_CACHE_DIR` in a temporary directory):
mmdebstrap, the wheels fetched from the package index, the chroot install, imagetool. Go's own
build cache is not reset, so imagetool's compile is the warm one (a few seconds). Then, in the
last cold run's cache: a cached build (nothing changed: the archive is copied) and a `--rebuild`
(the Debian root filesystem cached, everything after it done again). SOURCE_DATE_EPOCH is the
checkout's as usual; every run has the same inputs (do not commit while it runs: the commit is
one), so all archives should be byte-identical, which the script reports. Needs root.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import tarfile
import tempfile
import time
from pathlib import Path
from typing import IO

from vmroll.imagebuild.build import build_image, source_date_epoch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cold-runs", type=int, default=1, help="cold builds, each from scratch")
    args = parser.parse_args()
    environ = {**os.environ, "SOURCE_DATE_EPOCH": str(source_date_epoch(os.environ))}
    digests: list[str] = []
    with tempfile.TemporaryDirectory(prefix="vmroll-image-bench-") as scratch:
        for run in range(1, args.cold_runs + 1):
            cache = Path(scratch) / f"cache-{run}"
            archive, seconds = _timed_build(cache, Path(scratch) / f"dist-{run}", environ, False)
            digests.append(_sha256(archive))
            print(f"cold build {run}: {seconds:.1f} s, {_digests(archive)}")
        dist = Path(scratch) / "dist-warm"
        archive, seconds = _timed_build(cache, dist, environ, False)
        print(f"cached build (nothing changed): {seconds:.1f} s")
        archive, seconds = _timed_build(cache, dist, environ, True)
        digests.append(_sha256(archive))
        print(f"--rebuild (Debian root filesystem cached): {seconds:.1f} s, {_digests(archive)}")
        print(f"archives byte-identical: {len(set(digests)) == 1} ({len(digests)} builds)")
        _print_sizes(archive)


def _timed_build(
    cache: Path, dist: Path, environ: dict[str, str], rebuild: bool
) -> tuple[Path, float]:
    started = time.monotonic()
    built = build_image(
        dist=dist,
        rebuild=rebuild,
        report=lambda message: None,
        environ={**environ, "VMROLL_CACHE_DIR": str(cache)},
    )
    return built.archive, time.monotonic() - started


def _print_sizes(archive: Path) -> None:
    with tarfile.open(archive) as layout:
        index = json.load(_member(layout, "index.json"))
        manifest = json.load(_blob(layout, index["manifests"][0]["digest"]))
        (layer,) = manifest["layers"]
        sizes: dict[str, int] = {}
        total = 0
        with tarfile.open(fileobj=gzip.GzipFile(fileobj=_blob(layout, layer["digest"]))) as files:
            for member in files:
                if member.isfile():
                    total += member.size
                    sizes[_area(member.name)] = sizes.get(_area(member.name), 0) + member.size
    mib = 1 << 20
    archive_mib = archive.stat().st_size / mib
    print(f"archive: {archive_mib:.1f} MiB (layer gzip {layer['size'] / mib:.1f} MiB)")
    print(f"files in the layer, uncompressed: {total / mib:.1f} MiB")
    for area, size in sorted(sizes.items(), key=lambda item: -item[1])[:8]:
        print(f"  {area}: {size / mib:.1f} MiB")


def _digests(archive: Path) -> str:
    with tarfile.open(archive) as layout:
        index = json.load(_member(layout, "index.json"))
        manifest = json.load(_blob(layout, index["manifests"][0]["digest"]))
    layer = manifest["layers"][0]["digest"].removeprefix("sha256:")
    return f"archive sha256 {_sha256(archive)[:16]}, layer {layer[:16]}"


def _area(name: str) -> str:
    site = "opt/vmroll/lib/python3.11/site-packages/"
    if name.startswith(site):
        return site + name.removeprefix(site).split("/")[0]
    return "/".join(name.split("/")[:2])


def _member(layout: tarfile.TarFile, name: str) -> IO[bytes]:
    stream = layout.extractfile(name)
    assert stream is not None
    return stream


def _blob(layout: tarfile.TarFile, digest: str) -> IO[bytes]:
    return _member(layout, "blobs/sha256/" + digest.removeprefix("sha256:"))


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


if __name__ == "__main__":
    main()
