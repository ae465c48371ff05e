"""The pod sandbox ("pause") image, built from the Kubernetes sources instead of pulled.

Every pod starts with a sandbox container; containerd would pull `registry.k8s.io/pause`, which
these machines cannot reach. `build/pause/linux/pause.c` ships inside the `k8s.io/kubernetes`
Go module that the node's wrapper module already requires, and `gcc -static` turns it into the
image's only file in about a second, so it is built afresh by each `up`.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping
from pathlib import Path

from vmroll.devcluster.errors import BuildFailed
from vmroll.devcluster.gobuild import go_build_environment
from vmroll.devcluster.node.image_archive import ImageFile, write_oci_archive

PAUSE_VERSION = "3.10.2"
PAUSE_IMAGE = f"localhost/vmroll/pause:{PAUSE_VERSION}"
# The non-root user upstream's pause image runs as.
_PAUSE_USER = "65535:65535"


def kubernetes_source(go: str, module: Path, environ: Mapping[str, str]) -> Path:
    """The `k8s.io/kubernetes` module's directory in Go's module cache, downloading it if needed."""
    completed = subprocess.run(
        [go, "mod", "download", "-json", "k8s.io/kubernetes"],
        cwd=module,
        env=go_build_environment(environ),
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise BuildFailed(
            f"`go mod download k8s.io/kubernetes` in {module} failed: {completed.stderr.strip()}"
        )
    return Path(json.loads(completed.stdout)["Dir"])


def build_pause_archive(kubernetes_dir: Path, work_dir: Path) -> Path:
    """Compile pause.c statically and write it as a one-layer OCI archive in `work_dir`."""
    binary = work_dir / "pause"
    completed = subprocess.run(
        [
            "gcc",
            "-Os",
            "-Wall",
            "-Werror",
            "-static",
            f"-DVERSION=v{PAUSE_VERSION}-vmroll",
            "-o",
            str(binary),
            str(kubernetes_dir / "build" / "pause" / "linux" / "pause.c"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise BuildFailed(f"gcc could not build the pause binary:\n{completed.stderr.strip()}")
    archive = work_dir / "pause.oci.tar"
    write_oci_archive(
        archive,
        PAUSE_IMAGE,
        [ImageFile("/pause", binary.read_bytes())],
        entrypoint=["/pause"],
        user=_PAUSE_USER,
    )
    binary.unlink()
    return archive
