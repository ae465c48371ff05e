"""`vmroll devcluster` as users run it: a subprocess, throwaway names, cache and state dirs.

Each test gets its own cache root holding hard links to the already-built binaries (so nothing
is rebuilt unless the test asks for it) and its own state root, which must be empty at the end.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_harness import wait_for

from vmroll.devcluster import ETCD_VERSION, KUBERNETES_VERSION, ensure_binaries
from vmroll.devcluster.cache import BinaryCache

pytestmark = pytest.mark.e2e

VMROLL = [sys.executable, "-m", "vmroll.cli"]


@pytest.fixture(scope="session")
def built() -> BinaryCache:
    return ensure_binaries()


@pytest.fixture
def cli_env(tmp_path: Path, built: BinaryCache) -> Iterator[dict[str, str]]:
    cache = tmp_path / "cache" / "controlplane" / built.directory.name
    shutil.copytree(built.directory, cache, copy_function=os.link)
    state = tmp_path / "state"
    env = {
        **os.environ,
        "VMROLL_CACHE_DIR": str(tmp_path / "cache"),
        "VMROLL_STATE_DIR": str(state),
    }
    yield env
    leftovers = sorted(path.name for path in state.iterdir()) if state.exists() else []
    for name in leftovers:
        vmroll(env, "down", "--name", name)
    assert leftovers == [], "a test left instances running"


def vmroll(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*VMROLL, "devcluster", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def succeeded(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result


def instance(env: dict[str, str], name: str) -> Path:
    return Path(env["VMROLL_STATE_DIR"]) / name


def pids(env: dict[str, str], name: str) -> list[int]:
    directory = instance(env, name)
    return [int((directory / f"{binary}.pid").read_text()) for binary in ("etcd", "kube-apiserver")]


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


def wait_until_dead(pid: int) -> None:
    wait_for(f"pid {pid} to exit", lambda: None if alive(pid) else pid)


def apiserver_port(env: dict[str, str], name: str) -> int:
    state = json.loads((instance(env, name) / "state.json").read_text())
    port: int = state["ports"]["apiserver"]
    return port


def kubectl(env: dict[str, str], name: str, *args: str) -> subprocess.CompletedProcess[str]:
    shell = f'eval "$({shlex.join(VMROLL)} devcluster env --name {name})" && kubectl "$@"'
    return subprocess.run(
        ["bash", "-c", shell, "kubectl", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_up_status_env_down_leave_no_process_and_no_directory(
    cli_env: dict[str, str], built: BinaryCache
) -> None:
    up = succeeded(vmroll(cli_env, "up", "--name", "cli"))
    assert "control plane 'cli' is up at https://127.0.0.1:" in up.stdout
    assert 'eval "$(vmroll devcluster env --name cli)"' in up.stdout

    status = succeeded(vmroll(cli_env, "status", "--name", "cli"))
    assert "control plane 'cli': running" in status.stdout
    assert KUBERNETES_VERSION in status.stdout
    assert ETCD_VERSION in status.stdout

    env = succeeded(vmroll(cli_env, "env", "--name", "cli")).stdout
    assert f"export KUBECONFIG={instance(cli_env, 'cli') / 'kubeconfig'}" in env
    version = json.loads(succeeded(kubectl(cli_env, "cli", "version", "-o", "json")).stdout)
    assert version["serverVersion"]["gitVersion"] == KUBERNETES_VERSION
    assert version["clientVersion"]["gitVersion"] == KUBERNETES_VERSION
    assert "etcd" in succeeded(vmroll(cli_env, "status", "--name", "cli")).stdout

    started = pids(cli_env, "cli")
    down = succeeded(vmroll(cli_env, "down", "--name", "cli"))
    assert "control plane 'cli' stopped" in down.stdout
    assert [pid for pid in started if alive(pid)] == []
    assert not instance(cli_env, "cli").exists()
    after = vmroll(cli_env, "status", "--name", "cli")
    assert after.returncode == 1
    assert "control plane 'cli': not running" in after.stdout


def test_two_instances_run_side_by_side(cli_env: dict[str, str]) -> None:
    succeeded(vmroll(cli_env, "up", "--name", "left"))
    succeeded(vmroll(cli_env, "up", "--name", "right"))
    assert apiserver_port(cli_env, "left") != apiserver_port(cli_env, "right")

    succeeded(kubectl(cli_env, "left", "create", "configmap", "only-left", "-n", "default"))
    missing = kubectl(cli_env, "right", "get", "configmap", "only-left", "-n", "default")
    assert 'configmaps "only-left" not found' in missing.stderr

    succeeded(vmroll(cli_env, "down", "--name", "left"))
    succeeded(vmroll(cli_env, "status", "--name", "right"))
    succeeded(kubectl(cli_env, "right", "get", "namespace", "default"))
    succeeded(vmroll(cli_env, "down", "--name", "right"))


def test_a_crashed_instance_is_reported_stale_and_replaced_by_up(cli_env: dict[str, str]) -> None:
    succeeded(vmroll(cli_env, "up", "--name", "crash"))
    crashed = pids(cli_env, "crash")
    for pid in crashed:
        os.kill(pid, signal.SIGKILL)
    for pid in crashed:
        wait_until_dead(pid)

    stale = vmroll(cli_env, "status", "--name", "crash")
    assert stale.returncode == 1
    assert "stale (etcd and kube-apiserver not running)" in stale.stdout

    again = succeeded(vmroll(cli_env, "up", "--name", "crash"))
    assert "cleaning up leftovers of an earlier run of 'crash'" in again.stderr
    succeeded(kubectl(cli_env, "crash", "get", "namespace", "default"))
    succeeded(vmroll(cli_env, "down", "--name", "crash"))


def test_a_stale_pid_file_never_stops_an_unrelated_process(cli_env: dict[str, str]) -> None:
    directory = instance(cli_env, "stale")
    directory.mkdir(parents=True)
    with subprocess.Popen(["sleep", "300"]) as unrelated:
        (directory / "etcd.pid").write_text(f"{unrelated.pid}\n")
        (directory / "kube-apiserver.pid").write_text("not a pid\n")

        status = vmroll(cli_env, "status", "--name", "stale")
        assert status.returncode == 1
        assert "stale (no complete start recorded)" in status.stdout
        succeeded(vmroll(cli_env, "down", "--name", "stale"))

        assert not directory.exists()
        assert unrelated.poll() is None
        unrelated.kill()


def test_unknown_subcommand_lists_the_known_ones(cli_env: dict[str, str]) -> None:
    result = vmroll(cli_env, "frobnicate")
    assert result.returncode == 2
    assert "invalid choice: 'frobnicate' (choose from 'build', 'up', 'down', 'env', 'status')" in (
        result.stderr
    )


def test_a_port_in_use_is_reported_and_nothing_is_left(cli_env: dict[str, str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = vmroll(cli_env, "up", "--name", "busy", "--port", str(port))
    assert result.returncode == 1
    assert f"port {port} on 127.0.0.1 is already in use by another process" in result.stderr
    assert "pass another --port" in result.stderr
    assert not instance(cli_env, "busy").exists()


def test_without_go_and_without_binaries_the_user_is_told_what_to_install(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    directories = cli_env["PATH"].split(os.pathsep)
    without_go = [entry for entry in directories if not (Path(entry) / "go").exists()]
    env = {**cli_env, "PATH": os.pathsep.join(without_go), "VMROLL_CACHE_DIR": str(tmp_path / "x")}

    for command in (["build"], ["up", "--name", "nogo"]):
        result = vmroll(env, *command)
        assert result.returncode == 1
        assert "no `go` command found on PATH" in result.stderr
        assert "needs Go 1.26 or newer on PATH" in result.stderr
        assert "set VMROLL_KUBECONFIG" in result.stderr
    assert not instance(cli_env, "nogo").exists()


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        ("truncate kube-apiserver", "kube-apiserver does not match its recorded sha256"),
        ("remove the marker", "no completion marker (an interrupted build?)"),
    ],
)
def test_a_corrupted_cache_is_reported_and_rebuilt(
    cli_env: dict[str, str], built: BinaryCache, damage: str, reason: str
) -> None:
    cache = BinaryCache(Path(cli_env["VMROLL_CACHE_DIR"]) / "controlplane" / built.directory.name)
    if damage == "truncate kube-apiserver":
        binary = cache.binary("kube-apiserver")
        head = binary.read_bytes()[:1_000_000]
        binary.unlink()  # a hard link to the real cache: replace it, never write through it
        binary.write_bytes(head)
    else:
        cache.marker.unlink()

    status = vmroll(cli_env, "status", "--name", "none")
    assert f"(corrupted: {reason})" in status.stdout
    build = succeeded(vmroll(cli_env, "build"))
    assert f"the binary cache {cache.directory} is corrupted ({reason}); rebuilding it" in (
        build.stderr
    )
    assert "building kube-apiserver" in build.stderr
    assert "(valid)" in vmroll(cli_env, "status", "--name", "none").stdout
    assert built.binary("kube-apiserver").stat().st_size > 1_000_000
