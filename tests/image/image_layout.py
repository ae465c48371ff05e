"""Reading an OCI image layout tarball with the standard library: no Docker, no registry."""

from __future__ import annotations

import json
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class OpenedImage:
    archive: Path
    index: dict[str, Any]
    manifest: dict[str, Any]
    config: dict[str, Any]
    blobs: dict[str, bytes]
    layer_digest: str

    @property
    def layer(self) -> bytes:
        return self.blobs[self.layer_digest]


def read_layout(archive: Path) -> tuple[dict[str, Any], dict[str, bytes]]:
    """index.json and every blob (by its `sha256:` digest) of an OCI layout tarball."""
    blobs: dict[str, bytes] = {}
    index: dict[str, Any] = {}
    with tarfile.open(archive) as layout:
        for member in layout.getmembers():
            if not member.isfile():
                continue
            stream = layout.extractfile(member)
            assert stream is not None
            data = stream.read()
            if member.name == "index.json":
                index = json.loads(data)
            elif member.name.startswith("blobs/sha256/"):
                blobs["sha256:" + member.name.removeprefix("blobs/sha256/")] = data
    return index, blobs
