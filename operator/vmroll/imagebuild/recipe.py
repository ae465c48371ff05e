"""What goes into vmroll's image and the exact commands that put it there: plain data.

Everything here is a function of its arguments (unit-tested); `rootfs.py` and `build.py` run
the commands. The image's cache key includes the source of this package, so any change to it
assembles the image again; a change to how the Debian part is built that its mmdebstrap command
does not show bumps `ROOTFS_RECIPE_VERSION`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from pathlib import Path

ROOTFS_RECIPE_VERSION = "1"

REPOSITORY = "docker.io/vmroll/vmroll"
SUITE = "bookworm"
# bookworm's python3 is 3.11, the project's minimum; the wheels fetched on the host match it.
PYTHON_VERSION = "3.11"
APT_PACKAGES = ("python3", "python3-venv", "ca-certificates")
# What the host needs to build the image.
HOST_APT_PACKAGES = ("mmdebstrap",)
# Never unpacked into the image: documentation, manual pages, translations. The copyright
# files stay, they are the packages' licences.
DPKG_PATH_EXCLUDES = (
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/info/*",
    "path-exclude=/usr/share/locale/*",
)

# The Debian part is cached across commits, so its dates (shadow's last password change, for one)
# come from this fixed instant rather than from the commit; the layer's file times are the
# commit's (SOURCE_DATE_EPOCH) whatever this is.
ROOTFS_EPOCH = 1747699200

MERGED_USR_HOOKS = "/usr/share/mmdebstrap/hooks/merged-usr"

VENV = "/opt/vmroll"
WHEELS_IN_ROOTFS = "/tmp/vmroll-wheels"
USER_ID = 65532
USER_NAME = "vmroll"
WORKDIR = "/"
ENTRYPOINT = (f"{VENV}/bin/vmroll",)
CMD = ("run",)
ENV = (
    f"PATH={VENV}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    # Logs reach `kubectl logs` as they are written; nothing tries to write bytecode to the
    # read-only root filesystem the chart runs the image with (it is all compiled already).
    "PYTHONUNBUFFERED=1",
    "PYTHONDONTWRITEBYTECODE=1",
)
DEFAULT_SOURCE = "https://github.com/vmroll/vmroll"

# manylinux tags whose wheels run on bookworm (glibc 2.36) on x86-64: pip does not derive the
# older ones from an explicit --platform, so all are listed.
PLATFORMS = (
    "manylinux1_x86_64",
    "manylinux2010_x86_64",
    "manylinux2014_x86_64",
    *(f"manylinux_2_{minor}_x86_64" for minor in range(17, 37)),
)

# Left by the package manager and the build, never needed at run time, and different on every
# build (logs, caches with timestamps, the builder's host name).
VOLATILE_PATHS = (
    "etc/hostname",
    "etc/resolv.conf",
    "var/cache/debconf/config.dat-old",
    "var/cache/debconf/templates.dat-old",
    "var/cache/ldconfig/aux-cache",
    "var/lib/dpkg/status-old",
    "var/lib/dpkg/diversions-old",
    "root/.cache",
    WHEELS_IN_ROOTFS.lstrip("/"),
)
# Directories kept but emptied: the container runtime mounts or fills them.
EMPTIED_DIRS = ("dev", "proc", "sys", "run", "tmp", "var/log", "var/lib/apt/lists")


def image_name(version: str) -> str:
    return f"{REPOSITORY}:{version}"


def archive_name(version: str) -> str:
    return f"vmroll-{version}.oci.tar"


def mmdebstrap_argv(target: Path) -> tuple[str, ...]:
    """No mirror argument: mmdebstrap then uses the host's apt sources for the suite."""
    return (
        "mmdebstrap",
        "--mode=root",
        "--variant=minbase",
        f"--include={','.join(APT_PACKAGES)}",
        # Merged /usr as debootstrap makes it, by symlinks: otherwise apt installs the usrmerge
        # package to convert the tree, and perl (47 MB) with it, which nothing here runs.
        f"--hook-dir={MERGED_USR_HOOKS}",
        *(f"--dpkgopt={option}" for option in DPKG_PATH_EXCLUDES),
        SUITE,
        str(target),
    )


def pip_download_argv(python: str, wheel: Path, dest: Path) -> tuple[str, ...]:
    """Fetch on the host the wheels of `wheel`'s runtime dependencies for the image's Python."""
    platforms = [arg for tag in PLATFORMS for arg in ("--platform", tag)]
    return (
        *(python, "-m", "pip", "download", "--quiet", "--only-binary=:all:"),
        *("--python-version", PYTHON_VERSION, "--implementation", "cp", *platforms),
        *("--dest", str(dest), str(wheel)),
    )


def pip_install_argv(wheel_name: str) -> tuple[str, ...]:
    """Run inside the root filesystem: no index, only the wheels copied in beside it."""
    return (
        f"{VENV}/bin/pip",
        "install",
        "--quiet",
        "--no-index",
        "--no-cache-dir",
        "--no-compile",
        "--disable-pip-version-check",
        f"--find-links={WHEELS_IN_ROOTFS}",
        f"{WHEELS_IN_ROOTFS}/{wheel_name}",
    )


def compileall_argv() -> tuple[str, ...]:
    # unchecked-hash: the image is immutable, so Python never needs to compare the sources.
    return (
        f"{VENV}/bin/python",
        "-m",
        "compileall",
        "-q",
        "--invalidation-mode",
        "unchecked-hash",
        f"{VENV}/lib",
    )


def with_user(passwd: str, group: str) -> tuple[str, str]:
    """passwd and group with vmroll's user; kopf looks the name of the process's uid up."""
    user = f"{USER_NAME}:x:{USER_ID}:{USER_ID}:{USER_NAME}:/nonexistent:/usr/sbin/nologin\n"
    group_line = f"{USER_NAME}:x:{USER_ID}:\n"
    if f":x:{USER_ID}:" not in passwd:
        passwd = passwd.rstrip("\n") + "\n" + user
    if f":x:{USER_ID}:" not in group:
        group = group.rstrip("\n") + "\n" + group_line
    return passwd, group


def labels(version: str, revision: str, source: str) -> dict[str, str]:
    return {
        "org.opencontainers.image.title": "vmroll",
        "org.opencontainers.image.description": (
            "Kubernetes operator that keeps pools of Azure VMs on declared OS image versions"
        ),
        "org.opencontainers.image.version": version,
        "org.opencontainers.image.revision": revision,
        "org.opencontainers.image.source": source,
        "org.opencontainers.image.licenses": "Apache-2.0",
    }


def imagetool_argv(
    imagetool: Path,
    rootfs: Path,
    out: Path,
    version: str,
    epoch: int,
    image_labels: Mapping[str, str],
) -> tuple[str, ...]:
    label_args = [
        arg for key in sorted(image_labels) for arg in ("-label", f"{key}={image_labels[key]}")
    ]
    env_args = [arg for value in ENV for arg in ("-env", value)]
    return (
        str(imagetool),
        *("-rootfs", str(rootfs), "-out", str(out)),
        *("-name", image_name(version), "-tag", version, "-epoch", str(epoch)),
        *("-entrypoint", " ".join(ENTRYPOINT), "-cmd", " ".join(CMD)),
        *("-user", f"{USER_ID}:{USER_ID}", "-workdir", WORKDIR),
        *env_args,
        *label_args,
    )


def digest_of(parts: Iterable[tuple[str, bytes]]) -> str:
    """A short hash of named parts, independent of how bytes are split between them."""
    digest = hashlib.sha256()
    for name, content in sorted(parts):
        digest.update(f"{name}\0{len(content)}\0".encode())
        digest.update(content)
    return digest.hexdigest()[:16]


def rootfs_key(mmdebstrap_version: str, apt_releases: Mapping[str, bytes]) -> str:
    """The Debian part: the recipe, the tool, and the archive state the host's apt lists name."""
    recipe = "\n".join(
        (
            ROOTFS_RECIPE_VERSION,
            str(ROOTFS_EPOCH),
            mmdebstrap_version,
            *mmdebstrap_argv(Path("/rootfs")),
        )
    ).encode()
    return digest_of([("recipe", recipe), *apt_releases.items()])


def image_key(
    builder: str, rootfs: str, wheel_content: str, imagetool_key: str, revision: str, epoch: int
) -> str:
    parts = {
        "builder": builder,
        "rootfs": rootfs,
        "wheel": wheel_content,
        "imagetool": imagetool_key,
        "revision": revision,
        "epoch": str(epoch),
    }
    return digest_of((name, value.encode()) for name, value in parts.items())
