"""Pools in one resource group share its list: at rest only the group's sentinel passes at each
resync and takes the group's lists, at most one a pass; a VM deleted out of band is seen by the
next list, which wakes its pool to make it again; and the pools still become Ready, roll to a
new version and make no VM twice. The image lookups are shared too: none at rest, fewer than
one per pool when they all move to a version.

The operator runs with a 10 s resync (a 5 s window); its passes are counted from its metrics
endpoint, the lists from the emulator's admin API.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from e2e_harness import Cluster, Kubectl, wait_for
from pool_helpers import (
    EmulatorProcess,
    Operator,
    apply,
    delete_vm_out_of_band,
    free_port,
    list_requests,
    pool_manifest,
    wait_condition,
)
from test_pool_metrics import scrape, value

pytestmark = pytest.mark.e2e
pytest_plugins = ("pool_fixtures",)

POOLS = 8
OLD, NEW = "24.04.202609160", "24.04.202610220"
RESYNC = 10


def _ubuntu(version: str) -> dict[str, Any]:
    return {"marketplace": {"publisher": "Canonical", "offer": "ubuntu-24_04-lts",
                            "sku": "server", "version": version}}  # fmt: skip


def test_pools_in_one_group_share_its_list_and_still_roll(
    cluster: Cluster,
    kubectl: Kubectl,
    namespace: str,
    account: str,
    emulator: EmulatorProcess,
    tmp_path: Path,
) -> None:
    operator = Operator(cluster, namespace, tmp_path / "operator.log")
    address = f"127.0.0.1:{free_port()}"
    operator.start("--metrics", address, "--resync-interval", str(RESYNC))
    url = f"http://{address}/metrics"
    names = [f"web{n}" for n in range(POOLS)]
    try:
        manifests = [
            pool_manifest(name, account, emulator, replicas=1, image=_ubuntu(OLD)) for name in names
        ]
        for manifest in manifests:
            apply(kubectl, namespace, manifest)
        for name in names:
            wait_condition(kubectl, namespace, name, "Ready", operator, timeout=180)

        def passes() -> float:
            samples = scrape(url)
            assert samples is not None, operator.output()
            return value(samples, "vmroll_reconcile_passes_total") or 0.0

        # At rest only the group's sentinel passes at each resync, taking the group's lists;
        # the other pools pass again when a list shows them changed (or their views are due,
        # minutes later). Before, every pool passed at each resync: 6 x POOLS passes here.
        passes_before, lists_before = passes(), list_requests(emulator)
        images_before = _image_lookups(emulator)
        time.sleep(6 * RESYNC)
        passed = passes() - passes_before
        listed = list_requests(emulator) - lists_before
        assert passed < 3 * POOLS, f"{passed} passes of {POOLS} pools at rest in 6 resyncs"
        assert 1 <= listed <= passed, f"{listed} lists for {passed} passes of {POOLS} pools"
        assert _image_lookups(emulator) == images_before, "image lookups are shared and kept"

        # A VM deleted out of band is seen by the group's next list, which wakes its pool.
        made_before = _operations(emulator, "VirtualMachines_CreateOrUpdate")
        gone = {vm["tags"]["vmroll.io_pool"]: vm["name"] for vm in emulator.vms(namespace)}
        for name in names[-2:]:
            delete_vm_out_of_band(emulator, "rg-vmroll", gone[name])
        wait_for(
            "the VMs deleted out of band made again",
            lambda: _remade(emulator, namespace, names, made_before + 2),
            timeout=6 * RESYNC,
            describe=operator.output,
        )

        creates_before = _operations(emulator, "VirtualMachines_CreateOrUpdate")
        for manifest in manifests:
            manifest["spec"]["image"] = _ubuntu(NEW)
            apply(kubectl, namespace, manifest)
        for name in names:
            wait_condition(kubectl, namespace, name, "Ready", operator, timeout=180)
        vms = emulator.vms(namespace)
        assert sorted(vm["tags"]["vmroll.io_pool"] for vm in vms) == names
        assert {vm["exactVersion"] for vm in vms} == {NEW}
        creates = _operations(emulator, "VirtualMachines_CreateOrUpdate") - creates_before
        assert creates == POOLS
        assert _image_lookups(emulator) - images_before < POOLS, "one lookup serves all pools"
    finally:
        code = operator.stop()
    assert code == 0, operator.output()


def _remade(
    emulator: EmulatorProcess, namespace: str, names: list[str], creates: int
) -> bool | None:
    """Every pool has its VM again, after `creates` creates in all."""
    pools = sorted(vm["tags"]["vmroll.io_pool"] for vm in emulator.vms(namespace))
    made = _operations(emulator, "VirtualMachines_CreateOrUpdate") >= creates
    return True if made and pools == names else None


def _image_lookups(emulator: EmulatorProcess) -> int:
    operations = emulator.admin("GET", "requests")["operations"]
    return sum(
        int(counts["total"])
        for name, counts in operations.items()
        if name.startswith("VirtualMachineImages_")
    )


def _operations(emulator: EmulatorProcess, name: str) -> int:
    operations = emulator.admin("GET", "requests")["operations"]
    return int(operations.get(name, {}).get("total", 0))
