"""`kubectl vmroll` run as kubectl runs a plugin, against the real local stack.

Every call goes through the built kubectl (`kubectl vmroll ...`), which finds the installed
`kubectl-vmroll` console script on PATH. One pool is followed through its life: a pinned
version, `status`, `pause` before a version change (`rollout status` says paused), a timeout
while no operator runs, `resume` and `rollout status` to the end, `history`, `undo`, while
`status --watch` redraws the pool going back. A second pool rolls back from a version that
boots unhealthy: `rollout status` fails with `RolledBack`, and `undo` sets the version the
condition asks for.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_harness import Cluster, Kubectl
from pool_helpers import (
    EmulatorProcess,
    Operator,
    apply,
    condition,
    get_pool,
    pool_manifest,
    publish_marketplace_version,
    wait_condition,
)

pytestmark = pytest.mark.e2e
pytest_plugins = ("pool_fixtures",)

OLD, NEW = "24.04.202609160", "24.04.202610220"
GOOD, BAD = "24.04.202611100", "24.04.202612020"
DEADLINE_SECONDS = 60
PLUGIN = Path(sys.executable).parent / "kubectl-vmroll"


class Plugin:
    """`kubectl vmroll ... -n NAMESPACE`, as a user types it."""

    def __init__(self, cluster: Cluster, namespace: str) -> None:
        assert PLUGIN.exists(), f"{PLUGIN} is not installed: pip install -e ."
        env = cluster.env()
        self.env = {**env, "PATH": f"{PLUGIN.parent}:{env['PATH']}"}
        self.argv = [str(cluster.kubectl), "vmroll"]
        self.namespace = namespace

    def popen(self, *args: str) -> subprocess.Popen[str]:
        """The plugin as a person's terminal starts it: with Ctrl-C (SIGINT) at its default even
        when the test run itself was started in the background, which ignores SIGINT for every
        child (the full CI run did, and `status --watch` never saw the test's Ctrl-C)."""
        return subprocess.Popen(
            [*self.argv, *args, "-n", self.namespace], env=self.env, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )  # fmt: skip

    @contextlib.contextmanager
    def running(self, *args: str) -> Iterator[subprocess.Popen[str]]:
        """The plugin as a background process, killed on the way out if still running."""
        with self.popen(*args) as process:
            try:
                yield process
            finally:
                if process.poll() is None:
                    process.kill()

    def __call__(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        process = self.popen(*args)
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            raise
        return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"{result.args}: {result.returncode}\n{result.stderr}"
    return result.stdout


def failed(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, f"{result.args}: {result.returncode}\n{result.stdout}"
    assert result.stderr.startswith("error: "), result.stderr
    return result.stderr


def spec_of(kubectl: Kubectl, namespace: str) -> dict[str, Any]:
    spec: dict[str, Any] = get_pool(kubectl, namespace, "web")["spec"]
    return spec


def test_status_pause_rollout_status_resume_history_and_undo(
    cluster: Cluster, kubectl: Kubectl, namespace: str, account: str,
    emulator: EmulatorProcess, operator: Operator,
) -> None:  # fmt: skip
    plugin = Plugin(cluster, namespace)
    manifest = pool_manifest("web", account, emulator, replicas=2)
    manifest["spec"]["image"]["marketplace"]["version"] = OLD
    apply(kubectl, namespace, manifest)
    ready = wait_condition(kubectl, namespace, "web", "Ready", operator)
    old_revision = ready["status"]["updateRevision"]

    lines = ok(plugin("status", "web")).splitlines()
    assert f"Target:      {OLD} at revision {old_revision} (latest available {GOOD})" in lines
    assert f"Current:     2 VMs on {OLD} (current revision {old_revision})" in lines
    assert "Rollout:     [####################] 2/2 VMs updated, RollingReplace, complete" in lines
    vms = [line.split() for line in lines if line.startswith("  web-")]
    assert [vm[2:6] for vm in vms] == [[OLD, old_revision, "*", "Healthy"]] * 2
    assert any(line.split()[:3] == ["Ready", "True", "AllReplicasReady"] for line in lines)
    assert ok(plugin("rollout", "status", "web")) == (
        f'pool "web" successfully rolled out: 2 VMs at revision {old_revision} (image {OLD})\n'
    )

    assert ok(plugin("pause", "web")) == "virtualmachinepools.vmroll.io/web paused\n"
    assert spec_of(kubectl, namespace)["strategy"]["paused"] is True
    assert ok(plugin("pause", "web")) == "virtualmachinepools.vmroll.io/web already paused\n"
    kubectl("patch", "-n", namespace, "vmpool", "web", "--type", "merge",
            "-p", f'{{"spec":{{"image":{{"marketplace":{{"version":"{NEW}"}}}}}}}}')  # fmt: skip
    paused = wait_condition(kubectl, namespace, "web", "RolloutPaused", operator)
    assert {vm["exactVersion"] for vm in emulator.vms(namespace)} == {OLD}
    error = failed(plugin("rollout", "status", "web"))
    assert 'pool "web" rollout is paused with 0 of 2 VMs' in error
    assert "run `kubectl vmroll resume web` to continue" in error
    lines = ok(plugin("status", "web")).splitlines()
    assert "Rollout:     [....................] 0/2 VMs updated, RollingReplace, paused" in lines
    assert f"Up next:     {', '.join(paused['status']['upNext'])}" in lines
    assert paused["status"]["upNext"], paused["status"]

    operator.stop()
    assert ok(plugin("resume", "web")) == "virtualmachinepools.vmroll.io/web resumed\n"
    assert spec_of(kubectl, namespace)["strategy"]["paused"] is False
    # 10 s, not less: on a loaded machine the first watch event can take seconds to arrive.
    error = failed(plugin("rollout", "status", "web", "--timeout", "10s"))
    assert error == (
        'error: timed out after 10s waiting for pool "web" rollout: '
        'Waiting for pool "web" spec update to be observed...\n'
    )

    with plugin.running("rollout", "status", "web", "--timeout", "3m") as following:
        assert following.stdout is not None
        first = following.stdout.readline()
        assert first == 'Waiting for pool "web" spec update to be observed...\n'
        operator.start()
        rest = following.stdout.read()
        assert following.wait(timeout=200) == 0, operator.output()
    pool = get_pool(kubectl, namespace, "web")
    new_revision = pool["status"]["updateRevision"]
    assert new_revision != old_revision
    assert rest.splitlines()[-1] == (
        f'pool "web" successfully rolled out: 2 VMs at revision {new_revision} (image {NEW})'
    )
    assert {vm["exactVersion"] for vm in emulator.vms(namespace)} == {NEW}
    assert (condition(pool, "Ready") or {}).get("status") == "True"

    history = [line.split() for line in ok(plugin("history", "web")).splitlines()]
    assert history[0] == ["REVISION", "VERSION", "OUTCOME", "STARTED", "FINISHED", "REASON"]
    assert history[1][:3] == [new_revision, NEW, "Succeeded"]
    assert [old_revision, OLD, "Succeeded"] in [row[:3] for row in history[2:]]

    with plugin.running("status", "web", "--watch") as watching:
        assert watching.stdout is not None
        first_view = [watching.stdout.readline() for _ in range(6)]
        assert first_view[:2] == ["\n", f"Pool:        web (namespace {namespace})\n"]
        assert first_view[5].startswith("Rollout:")
        assert first_view[5].endswith(", complete\n")
        assert ok(plugin("undo", "web")) == (
            f"virtualmachinepools.vmroll.io/web rolled back to image version {OLD} "
            f"(revision {old_revision})\n"
        )
        assert spec_of(kubectl, namespace)["image"]["marketplace"]["version"] == OLD
        done = ok(plugin("rollout", "status", "web", "--timeout", "3m", timeout=200))
        assert done.splitlines()[-1] == (
            f'pool "web" successfully rolled out: 2 VMs at revision {old_revision} (image {OLD})'
        )
        assert {vm["exactVersion"] for vm in emulator.vms(namespace)} == {OLD}
        watching.send_signal(signal.SIGINT)
        views = watching.stdout.read()
        assert watching.wait(timeout=30) == 130
    rollouts = [line for line in views.splitlines() if line.startswith("Rollout:")]
    assert any(line.endswith(", in progress") for line in rollouts), views
    assert rollouts[-1].endswith("2/2 VMs updated, RollingReplace, complete"), views
    assert f"Current:     2 VMs on {OLD} (current revision {old_revision})" in views


def test_rollout_status_fails_on_a_rollback_and_undo_sets_the_good_version(
    cluster: Cluster, kubectl: Kubectl, namespace: str, account: str,
    emulator: EmulatorProcess, operator: Operator,
) -> None:  # fmt: skip
    plugin = Plugin(cluster, namespace)
    publish_marketplace_version(emulator, BAD, boots_unhealthy=True)
    manifest = pool_manifest("web", account, emulator, replicas=2)
    manifest["spec"]["image"]["marketplace"]["version"] = GOOD
    manifest["spec"]["strategy"]["progressDeadlineSeconds"] = DEADLINE_SECONDS
    manifest["spec"]["strategy"]["rollback"] = {"onFailure": True, "maxUnhealthyPercent": 0}
    apply(kubectl, namespace, manifest)
    wait_condition(kubectl, namespace, "web", "Ready", operator)

    manifest["spec"]["image"]["marketplace"]["version"] = BAD
    apply(kubectl, namespace, manifest)
    result = plugin("rollout", "status", "web", "--timeout", "5m", timeout=330)
    error = failed(result)
    assert error.startswith('error: pool "web" rollout stalled (RolledBack): '), error
    assert "rolled back" in error
    assert "Waiting for pool" in result.stdout

    assert ok(plugin("undo", "web")).startswith(
        f"virtualmachinepools.vmroll.io/web rolled back to image version {GOOD} "
    )
    assert spec_of(kubectl, namespace)["image"]["marketplace"]["version"] == GOOD
    done = ok(plugin("rollout", "status", "web", "--timeout", "3m", timeout=200))
    assert done.splitlines()[-1].endswith(f"(image {GOOD})")
    assert {vm["exactVersion"] for vm in emulator.vms(namespace)} == {GOOD}


def test_errors_name_the_pool_and_the_namespace(
    cluster: Cluster, namespace: str, pool_crds: tuple[str, ...]
) -> None:
    plugin = Plugin(cluster, namespace)
    for command in (["status"], ["rollout", "status"], ["pause"], ["history"], ["undo"],
                    ["restart"], ["plan"]):  # fmt: skip
        assert failed(plugin(*command, "nope")) == (
            f'error: virtualmachinepools.vmroll.io "nope" not found in namespace "{namespace}"\n'
        )
