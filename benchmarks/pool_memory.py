"""What the operator keeps per pool and per listed VM, at rest and mid-rollout, in process, with
tracemalloc.

fleet.py prints the operator's RSS, which mixes what is kept with what the allocator holds, and
takes many minutes; this prints only what is kept, in seconds, so that a change to what a pool
or a listed VM costs can be seen alone:
- per pool: `--pools` pools of `--replicas` VMs, each passed (30 s apart) until it is at rest
  against the unit tests' in-memory Azure (tests/unit/test_reconcile_fakes.py: what the
  operator keeps does not depend on Azure's side), then what the operator keeps of it: the body
  kopf keeps (the pool with its status through JSON, a `last-handled-configuration`
  annotation, then the pool's index handler and `_validated` as the daemon calls them), the
  model `_validated` keeps, and the pool's memory (status model, books, and the rest of one
  more pass made with that model, as the daemon's are). The figure includes the pool's 10
  listed VMs as its rest holds them (~3.6 KiB: the fake's, which in the operator are the group
  list's) and an account spec per pool (~1.1 KiB; the operator shares one per account).
  Listed VMs as the operator decodes them are counted apart:
- per listed VM: a group's list of `--pools` x `--replicas` VMs decoded from JSON pages of 50
  as `list_group_vms` decodes them (vmroll's tags, a user tag, zone, image reference); the
  peak is the list's own while it is decoded, the pages included;
- per pool mid-rollout: the same pools (`maxSurge` 100 %, as fleet.py rolls out), settled, then
  a new version: one pass sends `--replicas` creates (pending operations in the status), then
  kopf's body, the model and one more pass as above, the pool still at work;
- a group's two lists mid-rollout, as reconcile/shared_listing.py keeps them (each VMs with its
  ownership index): the latest, and the one that replaces it read a little later, of
  `--group-vms` VMs each (pools of `--replicas` VMs at the old revision, as many at the new,
  a few of each being deleted or created).

    .venv/bin/python benchmarks/pool_memory.py [--pools 100] [--replicas 10] [--group-vms 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sys
import tracemalloc
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import kopf

from vmroll.azure import vms
from vmroll.azure.lro import OperationRecord
from vmroll.azure.vm_body import VmSpec
from vmroll.azure.vms import PoolVm
from vmroll.handlers import pools
from vmroll.handlers.kube import KubeApi
from vmroll.handlers.run_config import RunConfig
from vmroll.handlers.state import OperatorState
from vmroll.plan.ownership import OwnershipIndex, PoolIdentity, vm_tags

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "unit"))
from test_reconcile_fakes import FakeAzure, World, pool_object

SUBSCRIPTION = "00000000-0000-4000-8000-00000000a001"
PAGE = 50
STRATEGY = {"rollingUpdate": {"maxSurge": "100%", "maxUnavailable": 0}}
"""As fleet.py rolls out: a pool holds up to twice its replicas mid-rollout."""
NEXT_VERSION = "1.0.3"
TOKEN_LENGTH = 1_000
OLD, NEW = "24.04.202609160", "24.04.202610220"


class TokenSizedAzure(FakeAzure):
    """Operations whose resume tokens are as long as azure/lro.py `slim_token` leaves a VM's
    create or delete (~1 KB): the fake's own are a few bytes."""

    async def create_vm(self, resource_group: str, spec: VmSpec) -> OperationRecord:
        return _sized(await super().create_vm(resource_group, spec))

    async def delete_vm(self, vm: PoolVm, pool_uid: str, *, force: bool = False) -> OperationRecord:
        return _sized(await super().delete_vm(vm, pool_uid, force=force))


def _sized(record: OperationRecord) -> OperationRecord:
    return replace(record, token=record.token.ljust(TOKEN_LENGTH, "A"))


async def settled_memory(raw: dict[str, Any]) -> World:
    world = World(pool=raw)
    for _ in range(10):
        await world.pass_().run()
        if world.memory.at_rest is not None:
            return world
        world.tick(30)
    raise RuntimeError("a pool did not come to rest")


async def kept_per_pool(count: int, replicas: int, rolling: bool = False) -> float:
    state = OperatorState(config=RunConfig(), kube=cast(KubeApi, object()))
    memo = kopf.Memo(state=state)
    bodies: list[dict[str, Any]] = []
    gc.collect()
    tracemalloc.start()
    start = tracemalloc.get_traced_memory()[0]
    for n in range(count):
        raw = pool_object(replicas, strategy=STRATEGY)
        uid = raw["metadata"]["uid"] = f"uid-{n}"
        world = await settled_memory(raw)
        if rolling:
            # A new version: the next pass sends `replicas` creates (maxSurge = replicas).
            world.azure = TokenSizedAzure(world.azure.log, vms=world.azure.vms)
            world.azure.latest = NEXT_VERSION
            world.tick(30)
            await world.pass_().run()
        status = world.memory.status
        assert status is not None
        state.memories[uid] = world.memory
        body = json.loads(json.dumps({**raw, "status": status.to_wire()}))
        body["metadata"]["resourceVersion"] = "7"
        body["metadata"]["annotations"] = {
            "vmroll.io/last-handled-configuration": json.dumps({"spec": raw["spec"]})
        }
        await pools.pool_wakeups(uid=uid, body=kopf.Body(body), memo=memo)
        model = pools._validated(state, kopf.Body(body))
        # One more pass with the model the daemon passes with: its rest keeps that one.
        world.tick(30)
        await replace(world.pass_(), pool=model).run()
        assert (world.memory.at_rest is None) is rolling
        bodies.append(body)
        del world
    gc.collect()
    kept = tracemalloc.get_traced_memory()[0] - start
    tracemalloc.stop()
    return kept / count


def listed_vm(
    pool: int,
    index: int,
    revision: str = "5f8c9d7b6a",
    version: str = OLD,
    state: str = "Succeeded",
) -> dict[str, Any]:
    identity = PoolIdentity(namespace="fleet", name=f"pool-{pool:04d}", uid=f"uid-{pool:08d}")
    name = f"pool-{pool:04d}-{revision[:8]}-{index}"
    return {
        "id": vms.vm_resource_id(SUBSCRIPTION, "rg-vmroll", name),
        "name": name,
        "location": "westeurope",
        "zones": [str(1 + index % 3)],
        "tags": vm_tags({"team": "web"}, identity, revision, version),
        "properties": {
            "provisioningState": state,
            "hardwareProfile": {"vmSize": "Standard_D2s_v5"},
            "storageProfile": {
                "imageReference": {
                    "publisher": "Canonical",
                    "offer": "ubuntu-24_04-lts",
                    "sku": "server",
                    "version": version,
                    "exactVersion": version,
                }
            },
        },
    }


def listed_per_vm(count: int, replicas: int) -> tuple[float, float]:
    """Bytes a listed VM keeps, and the decoding's peak in MiB."""
    every = [listed_vm(pool, index) for pool in range(count) for index in range(replicas)]
    pages = [json.dumps({"value": every[at : at + PAGE]}) for at in range(0, len(every), PAGE)]
    del every
    gc.collect()
    tracemalloc.start()
    start = tracemalloc.get_traced_memory()[0]
    listed = decoded(pages)
    gc.collect()
    kept, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return (kept - start) / len(listed), (peak - start) / 2**20


def decoded(pages: list[str]) -> tuple[vms.PoolVm, ...]:
    """A list's pages as `list_group_vms` reads them."""
    alike = vms.ListedAlike()
    return tuple(
        vms.to_pool_vm(vm, "rg-vmroll", alike) for page in pages for vm in json.loads(page)["value"]
    )


def rollout_pages(pools: int, replicas: int, moved: int) -> list[str]:
    """A group's list mid-rollout: each pool's `replicas` VMs at the old revision, `moved` of
    them being deleted, and `replicas` at the new one, `moved` of them still being created."""
    every = [
        listed_vm(pool, index, state="Deleting" if index < moved else "Succeeded")
        for pool in range(pools)
        for index in range(replicas)
    ] + [
        listed_vm(pool, index, "7c1d2e3f4a", NEW, "Creating" if index < moved else "Succeeded")
        for pool in range(pools)
        for index in range(replicas)
    ]
    return [json.dumps({"value": every[at : at + PAGE]}) for at in range(0, len(every), PAGE)]


def two_lists_mid_rollout(pools: int, replicas: int) -> tuple[int, float]:
    """What a group's two lists alive mid-rollout keep (the latest and the one in flight, each
    with its ownership index, as reconcile/shared_listing.py `GroupList` holds them), the one
    in flight read a little later (a VM more of each pool moved); VMs listed, and MiB kept."""
    latest_pages, flight_pages = (rollout_pages(pools, replicas, m) for m in (2, 3))
    gc.collect()
    tracemalloc.start()
    start = tracemalloc.get_traced_memory()[0]
    latest = decoded(latest_pages)
    kept = [(latest, OwnershipIndex(latest))]
    in_flight = vms.kept_unchanged(latest, decoded(flight_pages))
    kept.append((in_flight, OwnershipIndex(in_flight)))
    gc.collect()
    size = tracemalloc.get_traced_memory()[0] - start
    tracemalloc.stop()
    return len(in_flight), size / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pools", type=int, default=100)
    parser.add_argument("--replicas", type=int, default=10)
    parser.add_argument(
        "--group-vms", type=int, default=20_000, help="VMs of a group's list mid-rollout"
    )
    args = parser.parse_args()
    per_pool = asyncio.run(kept_per_pool(args.pools, args.replicas))
    print(f"kept per settled pool of {args.replicas} VMs: {per_pool / 1024:.1f} KiB ({args.pools})")
    per_vm, peak = listed_per_vm(args.pools, args.replicas)
    vm_count = args.pools * args.replicas
    print(f"kept per listed VM: {per_vm:.0f} B ({vm_count} VMs; decoding peak {peak:.1f} MiB)")
    rolling = asyncio.run(kept_per_pool(args.pools, args.replicas, rolling=True))
    print(
        f"kept per pool mid-rollout, {args.replicas} VMs being replaced at once: "
        f"{rolling / 1024:.1f} KiB ({args.pools})"
    )
    listed, mib = two_lists_mid_rollout(args.group_vms // (2 * args.replicas), args.replicas)
    print(
        f"a group's two lists mid-rollout ({listed} VMs each, with their indexes): {mib:.1f} MiB, "
        f"{mib * 2**20 / listed:.0f} B per VM"
    )


if __name__ == "__main__":
    main()
