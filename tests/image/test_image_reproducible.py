"""The assembly is deterministic: packing the image's own root filesystem again gives its bytes.

The layer extracted from the built image (owners, modes, links kept) is handed to imagetool with
the image's version, labels and SOURCE_DATE_EPOCH; the layer digest, the manifest digest and the
archive as a whole must come out identical. So the assembly step adds nothing that varies from
build to build (entry order, file times, owner names, compression).
"""

from __future__ import annotations

import hashlib
import subprocess
from datetime import datetime
from pathlib import Path

import pytest
from image_layout import OpenedImage, read_layout

from vmroll import __version__
from vmroll.devcluster.build import ensure_tools
from vmroll.devcluster.toolsets import IMAGETOOL_SET
from vmroll.devcluster.versions import IMAGETOOL
from vmroll.imagebuild import recipe

pytestmark = pytest.mark.image


def test_packing_the_images_root_again_gives_the_same_archive(
    image: OpenedImage, image_root: Path, tmp_path: Path
) -> None:
    imagetool = ensure_tools(IMAGETOOL_SET).binary(IMAGETOOL)
    epoch = int(datetime.fromisoformat(image.config["created"]).timestamp())
    labels = image.config["config"]["Labels"]
    again = tmp_path / "again.oci.tar"
    argv = recipe.imagetool_argv(imagetool, image_root, again, __version__, epoch, labels)
    completed = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert completed.returncode == 0, completed.stderr

    index, blobs = read_layout(again)
    assert index == image.index
    manifest = blobs[index["manifests"][0]["digest"]]
    assert manifest == image.blobs[image.index["manifests"][0]["digest"]]
    assert image.layer_digest in blobs
    assert _sha256(again) == _sha256(image.archive)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
