"""What the operator keeps per settled pool and per listed VM, in process, with tracemalloc.

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
  peak is the list's own while it is decoded, the pages included.

    .venv/bin/python benchmarks/pool_memory.py [--pools 100] [--replicas 10]
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
from vmroll.handlers import pools
from vmroll.handlers.kube import KubeApi
from vmroll.handlers.run_config import RunConfig
from vmroll.handlers.state import OperatorState
from vmroll.plan.ownership import PoolIdentity, vm_tags

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "unit"))
from test_reconcile_fakes import World, pool_object

SUBSCRIPTION = "00000000-0000-4000-8000-00000000a001"
PAGE = 50


async def settled_memory(raw: dict[str, Any]) -> World:
    world = World(pool=raw)
    for _ in range(10):
        await world.pass_().run()
        if world.memory.at_rest is not None:
            return world
        world.tick(30)
    raise RuntimeError("a pool did not come to rest")


async def kept_per_pool(count: int, replicas: int) -> float:
    state = OperatorState(config=RunConfig(), kube=cast(KubeApi, object()))
    memo = kopf.Memo(state=state)
    bodies: list[dict[str, Any]] = []
    gc.collect()
    tracemalloc.start()
    start = tracemalloc.get_traced_memory()[0]
    for n in range(count):
        raw = pool_object(replicas)
        uid = raw["metadata"]["uid"] = f"uid-{n}"
        world = await settled_memory(raw)
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
        assert world.memory.at_rest is not None
        bodies.append(body)
        del world
    gc.collect()
    kept = tracemalloc.get_traced_memory()[0] - start
    tracemalloc.stop()
    return kept / count


def listed_vm(pool: int, index: int) -> dict[str, Any]:
    identity = PoolIdentity(namespace="fleet", name=f"pool-{pool:04d}", uid=f"uid-{pool:08d}")
    name = f"pool-{pool:04d}-5f8c9d7b-{index}"
    version = "24.04.202609160"
    return {
        "id": vms.vm_resource_id(SUBSCRIPTION, "rg-vmroll", name),
        "name": name,
        "location": "westeurope",
        "zones": [str(1 + index % 3)],
        "tags": vm_tags({"team": "web"}, identity, "5f8c9d7b6a", version),
        "properties": {
            "provisioningState": "Succeeded",
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
    alike = vms.ListedAlike()
    listed = tuple(
        vms.to_pool_vm(vm, "rg-vmroll", alike) for page in pages for vm in json.loads(page)["value"]
    )
    del alike
    gc.collect()
    kept, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return (kept - start) / len(listed), (peak - start) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pools", type=int, default=100)
    parser.add_argument("--replicas", type=int, default=10)
    args = parser.parse_args()
    per_pool = asyncio.run(kept_per_pool(args.pools, args.replicas))
    print(f"kept per settled pool of {args.replicas} VMs: {per_pool / 1024:.1f} KiB ({args.pools})")
    per_vm, peak = listed_per_vm(args.pools, args.replicas)
    vm_count = args.pools * args.replicas
    print(f"kept per listed VM: {per_vm:.0f} B ({vm_count} VMs; decoding peak {peak:.1f} MiB)")


if __name__ == "__main__":
    main()
