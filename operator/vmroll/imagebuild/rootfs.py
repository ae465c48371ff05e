"""The image's root filesystem: Debian from mmdebstrap, then vmroll in a venv, then cleaned.

Needs root: mmdebstrap's root mode and chroot. Nothing inside the chroot reaches the network:
the wheels are fetched on the host and copied in, pip installs them with `--no-index`.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from vmroll.imagebuild import recipe

Report = Callable[[str], None]

CHROOT_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": "/root",
    "LANG": "C.UTF-8",
    # No stray __pycache__ from the build's own imports; compileall writes the image's.
    "PYTHONDONTWRITEBYTECODE": "1",
}
APT_LISTS = Path("/var/lib/apt/lists")


class ImageBuildError(Exception):
    """The image could not be built; the message says what to change."""


def require_root() -> None:
    if os.geteuid() != 0:
        raise ImageBuildError(
            "building vmroll's image needs root: mmdebstrap builds the Debian root filesystem "
            "in root mode and pip runs in a chroot of it. Run `make image` as root (CI and "
            "these development machines are), or build on a machine where you are."
        )


def ensure_host_tools(report: Report) -> str:
    """mmdebstrap's version, installing it with apt-get first when it is missing."""
    if shutil.which("mmdebstrap") is None:
        report(f"installing {', '.join(recipe.HOST_APT_PACKAGES)} with apt-get")
        _run(("apt-get", "update", "-qq"), "apt-get update")
        _run(
            (
                "apt-get",
                "install",
                "-y",
                "-qq",
                "--no-install-recommends",
                *recipe.HOST_APT_PACKAGES,
            ),
            "apt-get install",
            {**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
    completed = _run(("mmdebstrap", "--version"), "mmdebstrap --version")
    return completed.stdout.strip()


def apt_releases(lists: Path = APT_LISTS) -> dict[str, bytes]:
    """The host's Release files: they name the archive state mmdebstrap installs from."""
    return {path.name: path.read_bytes() for path in sorted(lists.glob("*Release"))}


def build_debian(target: Path, report: Report) -> None:
    """A minbase Debian with python3, python3-venv and ca-certificates at `target`."""
    report(f"building the Debian root filesystem: {' '.join(recipe.mmdebstrap_argv(target))}")
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(recipe.ROOTFS_EPOCH)}
    process = subprocess.Popen(
        recipe.mmdebstrap_argv(target),
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    tail: list[str] = []
    assert process.stdout is not None
    with process.stdout:
        for line in process.stdout:
            text = line.rstrip()
            tail = [*tail[-30:], text]
            if text.startswith(("I: ", "E: ", "W: ")):
                report(f"  mmdebstrap: {text[3:]}")
    if process.wait() != 0:
        raise ImageBuildError("mmdebstrap failed:\n" + "\n".join(tail))


def debian_packages(rootfs: Path) -> list[str]:
    """`name=version` of every Debian package installed in `rootfs`."""
    completed = _run(
        (
            "dpkg-query",
            f"--admindir={rootfs / 'var/lib/dpkg'}",
            "--show",
            "--showformat=${Package}=${Version}\\n",
        ),
        "dpkg-query",
    )
    return sorted(completed.stdout.split())


def install_operator(rootfs: Path, wheels: Path, wheel_name: str, report: Report) -> None:
    """A venv at /opt/vmroll with vmroll and its dependencies, without pip; byte-compiled."""
    inside = rootfs / recipe.WHEELS_IN_ROOTFS.lstrip("/")
    shutil.copytree(wheels, inside)
    epoch = {"SOURCE_DATE_EPOCH": str(recipe.ROOTFS_EPOCH)}
    report(f"creating the venv {recipe.VENV} in the root filesystem")
    _chroot(rootfs, ("python3", "-m", "venv", recipe.VENV))
    report(f"installing {wheel_name} and its dependencies (pip --no-index, in the chroot)")
    _chroot(rootfs, recipe.pip_install_argv(wheel_name))
    _chroot(
        rootfs,
        (
            f"{recipe.VENV}/bin/python",
            "-m",
            "pip",
            "uninstall",
            "--yes",
            "--quiet",
            "pip",
            "setuptools",
        ),
    )
    report("byte-compiling the venv")
    _chroot(rootfs, recipe.compileall_argv(), epoch)
    shutil.rmtree(inside)


def finish(rootfs: Path) -> None:
    """Add vmroll's user; drop what differs from build to build or is filled at run time, and
    the set-ID bits."""
    passwd, group = recipe.with_user(
        (rootfs / "etc/passwd").read_text(), (rootfs / "etc/group").read_text()
    )
    (rootfs / "etc/passwd").write_text(passwd)
    (rootfs / "etc/group").write_text(group)
    for relative in recipe.VOLATILE_PATHS:
        path = rootfs / relative
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()
    for relative in recipe.EMPTIED_DIRS:
        _empty(rootfs / relative)
    _drop_setuid(rootfs)


def _drop_setuid(rootfs: Path) -> None:
    """No set-user/group-ID programs (su, passwd, mount...): the operator never changes user."""
    for path in rootfs.rglob("*"):
        if path.is_file() and not path.is_symlink():
            mode = path.lstat().st_mode
            if mode & (stat.S_ISUID | stat.S_ISGID):
                path.chmod(stat.S_IMODE(mode) & ~(stat.S_ISUID | stat.S_ISGID))


def mounts_inside(path: Path, mounts: str) -> list[str]:
    """The mount points at or below `path`, from the text of /proc/self/mounts."""
    inside = str(path) + "/"
    points = [line.split()[1] for line in mounts.splitlines() if line.strip()]
    return [point for point in points if (point + "/").startswith(inside)]


def remove_tree(path: Path) -> None:
    """rmtree, refusing to descend into a mount (an interrupted mmdebstrap may leave /dev or
    /proc bound inside its target: deleting through it would delete the host's)."""
    if not path.exists():
        return
    held = mounts_inside(path.resolve(), Path("/proc/self/mounts").read_text())
    if held:
        raise ImageBuildError(
            f"not removing {path}: {', '.join(held)} is still mounted inside it; unmount it "
            "(umount -R) and run the build again"
        )
    shutil.rmtree(path)


def _empty(directory: Path) -> None:
    if not directory.is_dir():
        return
    for child in directory.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


def _chroot(rootfs: Path, argv: Sequence[str], extra_env: Mapping[str, str] | None = None) -> None:
    env = {**CHROOT_ENV, **(extra_env or {})}
    _run(("chroot", str(rootfs), *argv), " ".join(argv[:3]), env)


def _run(
    argv: Sequence[str], what: str, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    started = time.monotonic()
    completed = subprocess.run(
        argv,
        env=dict(env) if env is not None else None,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        output = (completed.stdout + completed.stderr).strip()[-4000:]
        raise ImageBuildError(
            f"{what} failed (exit {completed.returncode}, "
            f"{time.monotonic() - started:.0f}s):\n{output}"
        )
    return completed
