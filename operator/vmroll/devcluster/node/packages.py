"""The Debian packages a local node needs, installed with apt-get when any is missing.

CI runs on fresh machines, so the project installs what it runs rather than assuming it: the
container runtime (containerd, runc), the CNI plugins, iptables (the bridge plugin and kubelet
program it) and a C toolchain with a static libc for the pause binary. Installing needs root,
like running the node itself.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from vmroll.devcluster.errors import DevclusterError

CNI_BIN_DIR = Path("/usr/lib/cni")


@dataclass(frozen=True)
class HostPackage:
    """A Debian package and the file whose presence shows it is installed."""

    name: str
    provides: str

    def installed(self, path: str) -> bool:
        if self.provides.startswith("/"):
            return Path(self.provides).exists()
        return shutil.which(self.provides, path=path) is not None


NODE_PACKAGES = (
    HostPackage("containerd", "containerd"),
    HostPackage("runc", "runc"),
    HostPackage("containernetworking-plugins", str(CNI_BIN_DIR / "bridge")),
    HostPackage("iptables", "iptables"),
    HostPackage("gcc", "gcc"),
    HostPackage("libc6-dev", "/usr/lib/x86_64-linux-gnu/libc.a"),
)


class PackagesMissing(DevclusterError):
    """The node's Debian packages are missing and cannot be installed from here."""


def missing_packages(environ: Mapping[str, str] = os.environ) -> list[str]:
    path = environ.get("PATH", os.defpath)
    return [package.name for package in NODE_PACKAGES if not package.installed(path)]


def ensure_node_packages(
    report: Callable[[str], None], environ: Mapping[str, str] = os.environ
) -> None:
    """Install the missing node packages with apt-get (as root); a no-op when all are there."""
    missing = missing_packages(environ)
    if not missing:
        return
    if shutil.which("apt-get") is None:
        raise PackagesMissing(
            f"the local node needs these packages, which are not installed: {', '.join(missing)}; "
            "install them with your distribution's package manager"
        )
    if os.geteuid() != 0:
        raise PackagesMissing(
            f"the local node needs these Debian packages: {', '.join(missing)}; run as root so "
            f"that vmroll installs them, or install them yourself: "
            f"apt-get install -y {' '.join(missing)}"
        )
    report(f"installing Debian packages for the local node: {', '.join(missing)}")
    apt_environ = {**environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (
        ["apt-get", "update"],
        ["apt-get", "install", "-y", "--no-install-recommends", *missing],
    ):
        completed = subprocess.run(
            argv, env=apt_environ, stdin=subprocess.DEVNULL, capture_output=True, text=True
        )
        if completed.returncode != 0:
            tail = "\n".join((completed.stdout + completed.stderr).splitlines()[-15:])
            raise PackagesMissing(
                f"`{' '.join(argv)}` failed (exit {completed.returncode}):\n{tail}"
            )
    still_missing = missing_packages(environ)
    if still_missing:
        raise PackagesMissing(f"apt-get installed, but still missing: {', '.join(still_missing)}")
