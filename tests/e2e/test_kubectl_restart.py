"""`kubectl vmroll restart` on the real local stack: every VM rolled once at the same version.

The plugin stamps `spec.template.restartedAt`; the operator rolls a new revision at the same
image through the pool's strategy: RollingReimage reimages each VM in place (same names, same
version, tags moved to the new revision), RollingReplace replaces each. The emulator's request
record counts the reimages. History and the RolloutStarted event say it was a restart, and an
operator restarted afterwards finds nothing to do: the stamp did not change.
"""

from __future__ import annotations

from typing import Any

import pytest
from e2e_harness import Cluster, Kubectl, wait_for
from pool_helpers import (
    EmulatorProcess,
    Operator,
    apply,
    get_pool,
    list_requests,
    pool_manifest,
    story,
    wait_condition,
)
from test_kubectl_plugin import Plugin, ok

pytestmark = pytest.mark.e2e
pytest_plugins = ("pool_fixtures",)

VERSION = "24.04.202609160"
RESTART_TAG = "vmroll.io_restarted-at"
REVISION_TAG = "vmroll.io_revision"


def operations(emulator: EmulatorProcess, name: str) -> int:
    counted = emulator.admin("GET", "requests")["operations"].get(name, {})
    return int(counted.get("total", 0))


def ready_pool(
    kubectl: Kubectl, namespace: str, account: str, emulator: EmulatorProcess,
    operator: Operator, strategy: str,
) -> dict[str, Any]:  # fmt: skip
    manifest = pool_manifest("web", account, emulator, replicas=2)
    manifest["spec"]["image"]["marketplace"]["version"] = VERSION
    rolling = {"maxSurge": 1, "maxUnavailable": 1}
    manifest["spec"]["strategy"] = {"type": strategy, "rollingUpdate": rolling}
    apply(kubectl, namespace, manifest)
    return wait_condition(kubectl, namespace, "web", "Ready", operator)


def restart(plugin: Plugin, strategy: str, what: str) -> str:
    printed = ok(plugin("restart", "web"))
    prefix = "virtualmachinepools.vmroll.io/web restarted (spec.template.restartedAt="
    assert printed.startswith(prefix), printed
    stamp = printed[len(prefix) :].split(")")[0]
    assert printed == (f"{prefix}{stamp}): {what} at the same image version ({strategy})\n"), (
        printed
    )
    return stamp


def test_restart_reimages_every_vm_once_and_an_operator_restart_does_not_roll_again(
    cluster: Cluster, kubectl: Kubectl, namespace: str, account: str,
    emulator: EmulatorProcess, operator: Operator,
) -> None:  # fmt: skip
    plugin = Plugin(cluster, namespace)
    before = ready_pool(kubectl, namespace, account, emulator, operator, "RollingReimage")
    old_revision = before["status"]["updateRevision"]
    names = {vm["name"] for vm in emulator.vms(namespace)}
    reimages = operations(emulator, "VirtualMachines_Reimage")

    stamp = restart(plugin, "RollingReimage", "every VM is reimaged")
    pool = get_pool(kubectl, namespace, "web")
    assert pool["spec"]["template"]["restartedAt"] == stamp
    done = ok(plugin("rollout", "status", "web", "--timeout", "3m", timeout=200))
    pool = get_pool(kubectl, namespace, "web")
    new_revision = pool["status"]["updateRevision"]
    assert new_revision != old_revision
    assert done.splitlines()[-1] == (
        f'pool "web" successfully rolled out: 2 VMs at revision {new_revision} (image {VERSION})'
    )
    vms = emulator.vms(namespace)
    assert {vm["name"] for vm in vms} == names
    assert {vm["exactVersion"] for vm in vms} == {VERSION}
    assert {(vm["tags"][REVISION_TAG], vm["tags"][RESTART_TAG]) for vm in vms} == {
        (new_revision, stamp)
    }
    assert operations(emulator, "VirtualMachines_Reimage") == reimages + 2
    assert operations(emulator, "VirtualMachines_CreateOrUpdate") == 2

    history = [line.split() for line in ok(plugin("history", "web")).splitlines()]
    assert history[1][:3] == [new_revision, VERSION, "Succeeded"]
    assert history[1][-1] == "Restart"
    assert history[2][:3] == [old_revision, VERSION, "Succeeded"]
    assert history[2][-1] == "-"
    started = [message for reason, message in story(kubectl, namespace, "web")
               if reason == "RolloutStarted"]  # fmt: skip
    assert started[-1] == (
        f"rolling out image version {VERSION} (revision {new_revision}) over {VERSION}: "
        f"a restart was requested (spec.template.restartedAt {stamp})"
    )

    operator.stop()
    passes = list_requests(emulator)
    operator.start()
    wait_for("two passes of the restarted operator",
             lambda: True if list_requests(emulator) >= passes + 2 else None,
             timeout=60, describe=operator.output)  # fmt: skip
    after = get_pool(kubectl, namespace, "web")
    assert after["status"]["updateRevision"] == new_revision
    assert after["status"]["history"][0]["revision"] == new_revision
    assert operations(emulator, "VirtualMachines_Reimage") == reimages + 2
    assert ok(plugin("rollout", "status", "web", "--timeout", "1m", timeout=90)).startswith(
        f'pool "web" successfully rolled out: 2 VMs at revision {new_revision}'
    )


def test_restart_replaces_every_vm_of_a_rolling_replace_pool(
    cluster: Cluster, kubectl: Kubectl, namespace: str, account: str,
    emulator: EmulatorProcess, operator: Operator,
) -> None:  # fmt: skip
    plugin = Plugin(cluster, namespace)
    before = ready_pool(kubectl, namespace, account, emulator, operator, "RollingReplace")
    assert operations(emulator, "VirtualMachines_CreateOrUpdate") == 2

    stamp = restart(plugin, "RollingReplace", "every VM is replaced")
    ok(plugin("rollout", "status", "web", "--timeout", "3m", timeout=200))
    pool = get_pool(kubectl, namespace, "web")
    new_revision = pool["status"]["updateRevision"]
    assert new_revision != before["status"]["updateRevision"]
    vms = wait_for("the old VMs gone",
                   lambda: vms if len(vms := emulator.vms(namespace)) == 2 else None,
                   timeout=60)  # fmt: skip
    # Names are reused once free, so the record of requests tells the replacements.
    assert operations(emulator, "VirtualMachines_CreateOrUpdate") == 4
    assert operations(emulator, "VirtualMachines_Delete") == 2
    assert {(vm["exactVersion"], vm["tags"][REVISION_TAG], vm["tags"][RESTART_TAG])
            for vm in vms} == {(VERSION, new_revision, stamp)}  # fmt: skip
    assert operations(emulator, "VirtualMachines_Reimage") == 0
    assert pool["status"]["history"][0]["reason"] == "Restart"
