"""How a Go tool is built: the toolchain check and the exact `go build` command of each binary.

Pure where it can be: the commands and the version parsing are plain functions of their inputs
(unit-tested), the toolchain lookup is the only part that runs anything.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from vmroll.devcluster.errors import GoToolchainMissing
from vmroll.devcluster.versions import KUBERNETES_VERSION, MINIMUM_GO_VERSION

_GO_VERSION = re.compile(r"^go(\d+)\.(\d+)")


@dataclass(frozen=True)
class GoBuild:
    """One binary: the wrapper module it is built in, its main package and its flags."""

    binary: str
    module: str
    package: str
    ldflags: str = "-s -w -buildid="
    tags: tuple[str, ...] = ()

    def argv(self, go: str, out_dir: Path) -> tuple[str, ...]:
        # No VCS stamp: the binaries are the same whichever checkout (or none) builds them.
        tags = ("-tags", ",".join(self.tags)) if self.tags else ()
        return (
            *(go, "build", "-v", "-trimpath", "-buildvcs=false"),
            *tags,
            *("-ldflags", self.ldflags, "-o", str(out_dir / self.binary), self.package),
        )


def kubernetes_ldflags(version: str = KUBERNETES_VERSION) -> str:
    """Strip symbols and stamp the version, as upstream does; else /version says v0.0.0-master."""
    major, minor = version.removeprefix("v").split(".")[:2]
    flags = ["-s", "-w", "-buildid="]
    for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [
            f"-X {package}.gitVersion={version}",
            f"-X {package}.gitMajor={major}",
            f"-X {package}.gitMinor={minor}",
        ]
    return " ".join(flags)


def go_build_environment(environ: Mapping[str, str]) -> dict[str, str]:
    # GOTOOLCHAIN=local: never try to download another toolchain, fail clearly instead.
    return {**environ, "CGO_ENABLED": "0", "GOTOOLCHAIN": "local"}


def parse_go_version(text: str) -> tuple[int, int] | None:
    match = _GO_VERSION.match(text.strip())
    return (int(match.group(1)), int(match.group(2))) if match else None


def _missing_go(detail: str) -> GoToolchainMissing:
    wanted = ".".join(map(str, MINIMUM_GO_VERSION))
    return GoToolchainMissing(
        f"{detail}: building the local stack's tools needs Go {wanted} or newer on PATH "
        "(install it from your distribution or the Go project's release archive), "
        "or set VMROLL_KUBECONFIG to the kubeconfig of an existing cluster (kind, for "
        "instance) to use that cluster instead"
    )


def find_go(environ: Mapping[str, str] = os.environ) -> str:
    """The path of a Go toolchain recent enough to build the wrapper modules."""
    go = shutil.which("go", path=environ.get("PATH", os.defpath))
    if go is None:
        raise _missing_go("no `go` command found on PATH")
    completed = subprocess.run(
        [go, "env", "GOVERSION"],
        capture_output=True,
        text=True,
        env=go_build_environment(environ),
        check=False,
    )
    version = parse_go_version(completed.stdout)
    if version is None:
        raise _missing_go(f"`{go} env GOVERSION` failed: {completed.stderr.strip()}")
    if version < MINIMUM_GO_VERSION:
        raise _missing_go(f"{go} is {completed.stdout.strip()}, too old")
    return go
