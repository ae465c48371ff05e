"""The built image, opened without Docker: its index, config and layer, and programs run in it.

What a cluster needs from it: containerd names it docker.io/vmroll/vmroll:<version> on import,
it runs `vmroll run` as uid 65532 which has a passwd entry, every runtime dependency is there
(the operator's modules import), and nothing of the test tools or the local stack is.
"""

from __future__ import annotations

import gzip
import io
import os
import stat
import subprocess
import tarfile
from pathlib import Path

import pytest
from image_layout import OpenedImage

from vmroll import __version__
from vmroll.imagebuild import recipe
from vmroll.imagebuild.build import source_date_epoch, source_revision

pytestmark = pytest.mark.image

SITE_PACKAGES = "opt/vmroll/lib/python3.11/site-packages"
# Test and development tools, and the local stack: none of them belongs in the image.
ABSENT = (
    "pytest",
    "_pytest",
    "pytest_asyncio",
    "pytest_timeout",
    "hypothesis",
    "ruff",
    "mypy",
    "importlinter",
    "grimp",
    "pip",
    "setuptools",
    "vmroll/emulator",
    "vmroll/devcluster",
    "vmroll/devstack",
    "vmroll/imagebuild",
    "vmroll/chart",
    "vmroll/pki",
    "vmroll/pki.py",
)


def layer_members(image: OpenedImage) -> list[tarfile.TarInfo]:
    with tarfile.open(fileobj=gzip.GzipFile(fileobj=io.BytesIO(image.layer))) as layer:
        return layer.getmembers()


def in_image(root: Path, *argv: str, user: str = "65532:65532") -> subprocess.CompletedProcess[str]:
    """Run a program of the image as `user`, in its own mount and pid namespaces."""
    return subprocess.run(
        ["unshare", "--mount", "--pid", "--fork", "chroot", f"--userspec={user}", str(root), *argv],
        env=dict(variable.split("=", 1) for variable in recipe.ENV),
        capture_output=True,
        text=True,
        check=False,
    )


def test_containerd_names_it_by_the_charts_repository_and_the_version(image: OpenedImage) -> None:
    (entry,) = image.index["manifests"]
    assert image.index["mediaType"] == "application/vnd.oci.image.index.v1+json"
    assert entry["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert entry["annotations"] == {
        "io.containerd.image.name": f"docker.io/vmroll/vmroll:{__version__}",
        "org.opencontainers.image.ref.name": __version__,
    }
    assert entry["platform"] == {"architecture": "amd64", "os": "linux"}
    assert image.archive.name == f"vmroll-{__version__}.oci.tar"


def test_the_config_runs_vmroll_run_as_65532(image: OpenedImage) -> None:
    config = image.config["config"]
    assert config["Entrypoint"] == ["/opt/vmroll/bin/vmroll"]
    assert config["Cmd"] == ["run"]
    assert config["User"] == "65532:65532"
    assert config["WorkingDir"] == "/"
    assert config["Env"] == [
        "PATH=/opt/vmroll/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "PYTHONUNBUFFERED=1",
        "PYTHONDONTWRITEBYTECODE=1",
    ]
    assert (image.config["os"], image.config["architecture"]) == ("linux", "amd64")
    assert image.manifest["layers"][0]["mediaType"] == (
        "application/vnd.oci.image.layer.v1.tar+gzip"
    )


def test_the_labels_name_version_revision_and_source(image: OpenedImage) -> None:
    labels = image.config["config"]["Labels"]
    assert labels["org.opencontainers.image.title"] == "vmroll"
    assert labels["org.opencontainers.image.version"] == __version__
    assert labels["org.opencontainers.image.revision"] == source_revision()
    assert labels["org.opencontainers.image.source"].startswith("https://")


def test_every_file_has_the_source_date_and_the_entries_are_sorted(image: OpenedImage) -> None:
    members = layer_members(image)
    epoch = source_date_epoch(os.environ)
    assert {member.mtime for member in members} == {epoch}
    assert {member.uname for member in members} == {""}
    names = [member.name.rstrip("/") for member in members]
    assert names == sorted(names)
    assert image.config["created"].startswith("20")


def test_no_program_is_set_user_or_group_id(image: OpenedImage) -> None:
    set_id = [
        member.name
        for member in layer_members(image)
        if member.isfile() and member.mode & (stat.S_ISUID | stat.S_ISGID)
    ]
    assert set_id == []


def test_the_user_has_a_passwd_and_group_entry(image_root: Path) -> None:
    passwd = (image_root / "etc/passwd").read_text().splitlines()
    group = (image_root / "etc/group").read_text().splitlines()
    assert "vmroll:x:65532:65532:vmroll:/nonexistent:/usr/sbin/nologin" in passwd
    assert "vmroll:x:65532:" in group


def test_no_test_tool_dev_tool_or_local_stack_is_inside(image_root: Path) -> None:
    site = image_root / SITE_PACKAGES
    assert (site / "vmroll/handlers/operator.py").is_file()
    present = [name for name in ABSENT if (site / name).exists()]
    assert present == []
    distributions = {path.name.split("-")[0].lower() for path in site.glob("*.dist-info")}
    assert distributions.isdisjoint(
        {"pytest", "hypothesis", "ruff", "mypy", "import_linter", "pip", "setuptools"}
    )


def test_manuals_translations_and_apt_lists_are_left_out(image_root: Path) -> None:
    manuals = [path for path in (image_root / "usr/share/man").rglob("*") if path.is_file()]
    translations = list(image_root.glob("usr/share/locale/**/*.mo"))
    apt_lists = list((image_root / "var/lib/apt/lists").iterdir())
    assert (manuals, translations, apt_lists) == ([], [], [])


def test_usr_is_merged_without_the_usrmerge_package_and_its_perl(image_root: Path) -> None:
    for directory in ("bin", "sbin", "lib"):
        assert (image_root / directory).readlink() == Path(f"usr/{directory}")
    status = (image_root / "var/lib/dpkg/status").read_text()
    assert "Package: usrmerge\n" not in status
    assert "Package: perl\n" not in status


def test_every_module_of_the_venv_is_compiled_for_a_read_only_root(image_root: Path) -> None:
    site = image_root / SITE_PACKAGES
    sources = list(site.rglob("*.py"))
    uncompiled = [
        path
        for path in sources
        if not (path.parent / "__pycache__" / f"{path.stem}.cpython-311.pyc").is_file()
    ]
    assert len(sources) > 1000
    assert uncompiled == []


def test_vmroll_version_runs_inside_as_65532(image_root: Path) -> None:
    completed = in_image(image_root, "/opt/vmroll/bin/vmroll", "--version")
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == f"vmroll {__version__}"


def test_the_operators_modules_import_inside(image_root: Path) -> None:
    completed = in_image(
        image_root,
        "/opt/vmroll/bin/python",
        "-c",
        "import getpass, vmroll.handlers.operator, vmroll.azure.gateway; print(getpass.getuser())",
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "vmroll"


@pytest.mark.parametrize("command", ["dev", "devcluster", "emulator", "image", "manifests"])
def test_local_stack_commands_say_they_are_not_in_the_image(image_root: Path, command: str) -> None:
    completed = in_image(image_root, "/opt/vmroll/bin/vmroll", command, "build")
    assert completed.returncode == 2
    assert f"`vmroll {command}` is not part of this installation" in completed.stderr
    assert "source checkout" in completed.stderr
