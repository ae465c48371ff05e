"""Fixtures of the image tests: the image as `make image` builds it, opened without Docker.

`image` (session) runs the real `vmroll image build` (from the cache when nothing changed) and
reads the OCI layout tarball it writes with `tarfile`: index, manifest, config, the layer's
path. `image_root` (session) is the layer extracted into a temporary directory, owners kept,
for the tests that run programs inside it with chroot. Building needs root (mmdebstrap, chroot):
elsewhere the fixture fails saying so.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from image_layout import OpenedImage, read_layout

from vmroll import __version__
from vmroll.imagebuild.build import SOURCE_ROOT
from vmroll.imagebuild.recipe import archive_name


@pytest.fixture(scope="session")
def image() -> OpenedImage:
    completed = subprocess.run(
        [sys.executable, "-m", "vmroll.cli", "image", "build"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    archive = SOURCE_ROOT / "dist" / archive_name(__version__)
    index, blobs = read_layout(archive)
    for digest, data in blobs.items():
        assert digest == "sha256:" + hashlib.sha256(data).hexdigest()
    (entry,) = index["manifests"]
    manifest = json.loads(blobs[entry["digest"]])
    config = json.loads(blobs[manifest["config"]["digest"]])
    (layer,) = manifest["layers"]
    return OpenedImage(archive, index, manifest, config, blobs, layer["digest"])


@pytest.fixture(scope="session")
def image_root(image: OpenedImage, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("image-root")
    # The layer has no entry for / itself: a runtime makes it 0755, as here.
    root.chmod(0o755)
    with tarfile.open(fileobj=gzip.GzipFile(fileobj=io.BytesIO(image.layer))) as layer:
        layer.extractall(root, numeric_owner=True, filter="fully_trusted")
    yield root
    shutil.rmtree(root)
