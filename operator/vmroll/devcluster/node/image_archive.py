"""Write a one-layer container image as an OCI image-layout tarball, with no tool but Python.

The local node has no registry to pull from, so the images it runs are imported into containerd
from archives (`ctr images import`). An OCI layout is a few JSON documents and a tar, addressed
by their sha256: small enough to write here, for images as simple as the pause container.
The output is reproducible: fixed timestamps and ownership, sorted JSON.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

_LAYER = "application/vnd.oci.image.layer.v1.tar"
_CONFIG = "application/vnd.oci.image.config.v1+json"
_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
_INDEX = "application/vnd.oci.image.index.v1+json"


@dataclass(frozen=True)
class ImageFile:
    """One regular file of the image's root filesystem."""

    path: str
    content: bytes
    mode: int = 0o755


def _tar_bytes(members: Mapping[str, bytes], modes: Mapping[str, int]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(members):
            info = tarfile.TarInfo(name)
            info.size = len(members[name])
            info.mode = modes[name]
            info.mtime = 0
            tar.addfile(info, io.BytesIO(members[name]))
    return buffer.getvalue()


def _json(document: object) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def _descriptor(media_type: str, blob: bytes, **extra: object) -> dict[str, object]:
    return {
        "mediaType": media_type,
        "digest": f"sha256:{hashlib.sha256(blob).hexdigest()}",
        "size": len(blob),
        **extra,
    }


def write_oci_archive(
    destination: Path,
    reference: str,
    files: list[ImageFile],
    entrypoint: list[str],
    user: str,
) -> None:
    """An OCI layout tarball holding one linux/amd64 image named `reference` (`name:tag`)."""
    layer = _tar_bytes(
        {file.path.lstrip("/"): file.content for file in files},
        {file.path.lstrip("/"): file.mode for file in files},
    )
    layer_digest = f"sha256:{hashlib.sha256(layer).hexdigest()}"
    config = _json(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Entrypoint": entrypoint, "User": user},
            "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
        }
    )
    manifest = _json(
        {
            "schemaVersion": 2,
            "mediaType": _MANIFEST,
            "config": _descriptor(_CONFIG, config),
            "layers": [_descriptor(_LAYER, layer)],
        }
    )
    tag = reference.rsplit(":", 1)[1]
    annotations = {
        "io.containerd.image.name": reference,
        "org.opencontainers.image.ref.name": tag,
    }
    index = _json(
        {
            "schemaVersion": 2,
            "mediaType": _INDEX,
            "manifests": [_descriptor(_MANIFEST, manifest, annotations=annotations)],
        }
    )
    members = {
        "oci-layout": _json({"imageLayoutVersion": "1.0.0"}),
        "index.json": index,
    }
    for blob in (layer, config, manifest):
        members[f"blobs/sha256/{hashlib.sha256(blob).hexdigest()}"] = blob
    destination.write_bytes(_tar_bytes(members, dict.fromkeys(members, 0o644)))
