"""The image recipe: its commands, its user entry, the cache keys, and the guard on removal."""

from __future__ import annotations

from pathlib import Path

import pytest

from vmroll.imagebuild import recipe
from vmroll.imagebuild.rootfs import mounts_inside

PASSWD = (
    "root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
)
GROUP = "root:x:0:\nnogroup:x:65534:\n"


def test_the_user_is_added_once_with_its_group() -> None:
    passwd, group = recipe.with_user(PASSWD, GROUP)
    assert passwd.endswith("vmroll:x:65532:65532:vmroll:/nonexistent:/usr/sbin/nologin\n")
    assert group.endswith("vmroll:x:65532:\n")
    assert passwd.startswith(PASSWD)
    assert recipe.with_user(passwd, group) == (passwd, group)


def test_mmdebstrap_gets_no_mirror_so_it_uses_the_hosts_apt_sources() -> None:
    argv = recipe.mmdebstrap_argv(Path("/target"))
    assert argv[-2:] == ("bookworm", "/target")
    assert "--variant=minbase" in argv
    assert "--include=python3,python3-venv,ca-certificates" in argv
    assert "--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr" in argv
    assert not [arg for arg in argv if "://" in arg]


def test_wheels_are_fetched_for_the_images_python_and_any_manylinux_it_runs() -> None:
    argv = recipe.pip_download_argv("/venv/python", Path("/w/vmroll.whl"), Path("/out"))
    platforms = {argv[i + 1] for i, arg in enumerate(argv) if arg == "--platform"}
    assert {"manylinux2014_x86_64", "manylinux_2_28_x86_64", "manylinux_2_36_x86_64"} <= platforms
    assert "manylinux_2_37_x86_64" not in platforms
    assert argv[argv.index("--python-version") + 1] == "3.11"
    assert "--only-binary=:all:" in argv


def test_pip_inside_the_chroot_never_reaches_an_index() -> None:
    argv = recipe.pip_install_argv("vmroll-0.1.0-py3-none-any.whl")
    assert "--no-index" in argv
    assert argv[-1] == "/tmp/vmroll-wheels/vmroll-0.1.0-py3-none-any.whl"


def test_imagetool_gets_the_name_containerd_stores_and_sorted_labels() -> None:
    labels = {"b": "2", "a": "1"}
    argv = recipe.imagetool_argv(Path("/it"), Path("/r"), Path("/o.tar"), "0.1.0", 7, labels)
    assert argv[argv.index("-name") + 1] == "docker.io/vmroll/vmroll:0.1.0"
    assert argv[argv.index("-tag") + 1] == "0.1.0"
    assert argv[argv.index("-user") + 1] == "65532:65532"
    assert [argv[i + 1] for i, arg in enumerate(argv) if arg == "-label"] == ["a=1", "b=2"]


def test_the_debian_key_follows_the_archive_state() -> None:
    releases = {"bookworm_InRelease": b"Date: 1\n"}
    key = recipe.rootfs_key("mmdebstrap 1.3.5", releases)
    assert key == recipe.rootfs_key("mmdebstrap 1.3.5", dict(releases))
    assert key != recipe.rootfs_key("mmdebstrap 1.3.5", {"bookworm_InRelease": b"Date: 2\n"})
    assert key != recipe.rootfs_key("mmdebstrap 1.4.0", releases)


BASE = {
    "builder": "b",
    "rootfs": "r",
    "wheel_content": "w",
    "imagetool_key": "t",
    "revision": "c",
    "epoch": 1,
}


@pytest.mark.parametrize(
    "changed",
    [
        {"builder": "b2"},
        {"rootfs": "r2"},
        {"wheel_content": "w2"},
        {"imagetool_key": "t2"},
        {"revision": "c-dirty"},
        {"epoch": 2},
    ],
    ids=lambda changed: next(iter(changed)),
)
def test_the_image_key_changes_with_each_input(changed: dict[str, object]) -> None:
    assert recipe.image_key(**{**BASE, **changed}) != recipe.image_key(**BASE)  # type: ignore[arg-type]


MOUNTS = """\
/dev/sda1 / ext4 rw 0 0
udev /cache/image/.rootfs-1.x/rootfs/dev devtmpfs rw 0 0
proc /cache/image/.rootfs-1.x/rootfs/proc proc rw 0 0
tmpfs /cache/image/.rootfs-10.y tmpfs rw 0 0
"""


def test_a_build_directory_with_a_mount_left_inside_is_found_before_removal() -> None:
    assert mounts_inside(Path("/cache/image/.rootfs-1.x"), MOUNTS) == [
        "/cache/image/.rootfs-1.x/rootfs/dev",
        "/cache/image/.rootfs-1.x/rootfs/proc",
    ]
    assert mounts_inside(Path("/cache/image/.rootfs-1"), MOUNTS) == []
    assert mounts_inside(Path("/cache/image/.rootfs-10.y"), MOUNTS) == ["/cache/image/.rootfs-10.y"]
