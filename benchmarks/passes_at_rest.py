"""CPU of one pass of a pool at rest, in process: P pools of R VMs sharing one group's list.

A fleet at rest spends its operator's CPU on passes that find nothing changed (resync 60 s), the
group's shared list and kopf; fleet.py measures the whole over minutes of a real stack. This
isolates the pass (`operator/vmroll/reconcile/pool_pass.py` up to `at_rest.py`'s comparison,
the pool's share of the list through `reconcile/shared_listing.py`'s index) so that a change to
it can be measured in seconds: each pool is settled against the reconcile tests' in-memory Azure
(tests/unit/test_reconcile_fakes.py, image resolution cached as the operator's cache does), then
every pool's pass runs `--rounds` times against one listing of all P x R VMs, and the script
prints the process CPU per pass (time.process_time), and with `--profile` cProfile's top
functions. Neither kopf, the SDK nor HTTP is in it.

    .venv/bin/python benchmarks/passes_at_rest.py [--pools 1000] [--replicas 10] [--rounds 3]
        [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "unit"))

from test_reconcile_fakes import FakeAzure, World, pool_object

from vmroll.api.account import AzureAccountSpec
from vmroll.api.pool import VirtualMachinePool
from vmroll.azure.images import ImageRef, ResolvedImage
from vmroll.reconcile.inputs import AccountView, PassSettings, TemplateInputs
from vmroll.reconcile.pool_pass import PoolPass
from vmroll.reconcile.shared_listing import GroupListings


class CachedAzure(FakeAzure):
    """Resolves each image once, as the operator's image cache answers within its TTL."""

    async def resolve_image(
        self, location: str, image: ImageRef, *, max_age: float
    ) -> ResolvedImage:
        cache: dict[Any, ResolvedImage] = self.__dict__.setdefault("_resolved", {})
        if (location, image) not in cache:
            cache[location, image] = await super().resolve_image(location, image, max_age=max_age)
        return cache[location, image]


async def settled(pools: int, replicas: int) -> list[World]:
    worlds = []
    for index in range(pools):
        world = World()
        world.pool = pool_object(replicas=replicas)
        world.pool["metadata"].update(name=f"pool-{index:04d}", uid=f"uid-{index:04d}")
        world.azure = CachedAzure(world.log)
        for _ in range(30):
            await world.pass_().run()
            status = world.memory.status
            world.pool["status"] = status.to_wire() if status is not None else {}
            if world.memory.at_rest is not None:
                break
            world.tick(5)
        if world.memory.at_rest is None:
            raise SystemExit(f"pool {index} did not come to rest")
        worlds.append(world)
    return worlds


async def run(pools: int, replicas: int, rounds: int, profile: bool) -> None:
    worlds = await settled(pools, replicas)
    shared = CachedAzure([])
    for world in worlds:
        shared.vms.update(world.azure.vms)
    now = max(world.now for world in worlds)
    listings = GroupListings(max_age=80.0, clock=lambda: 0.0)
    spec = AzureAccountSpec.model_validate(worlds[0].account)
    passes = []
    for world in worlds:
        world.now = now
        pool = VirtualMachinePool.model_validate(world.pool)
        gateway = listings.for_pool(shared, "connection", pool.metadata.uid or "")
        passes.append((world, pool, AccountView("prod", spec, gateway)))

    async def one_round() -> None:
        for world, pool, account in passes:
            world.now += timedelta(seconds=1)
            await PoolPass(
                pool=pool,
                account=account,
                namespace_labels={},
                inputs=TemplateInputs(("ssh-ed25519 AAAA test@vmroll",)),
                memory=world.memory,
                status=world.sinks,
                events=world.sinks,
                clock=lambda world=world: world.now,
                settings=PassSettings(),
            ).run()

    await one_round()
    profiler = cProfile.Profile() if profile else None
    started = time.process_time()
    if profiler is not None:
        profiler.enable()
    for _ in range(rounds):
        await one_round()
    if profiler is not None:
        profiler.disable()
    seconds = time.process_time() - started
    resting = sum(world.memory.at_rest is not None for world in worlds)
    print(f"{pools} pools x {replicas} VMs, one listing of {len(shared.vms)} VMs")
    print(
        f"{rounds * pools} passes at rest: {seconds:.3f} s CPU, "
        f"{1000 * seconds / (rounds * pools):.3f} ms a pass{' (profiled)' if profile else ''}; "
        f"{resting} pools still at rest, {shared.log.count('list')} list(s) read"
    )
    if profiler is not None:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pools", type=int, default=1000)
    parser.add_argument("--replicas", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    asyncio.run(run(args.pools, args.replicas, args.rounds, args.profile))


if __name__ == "__main__":
    main()
