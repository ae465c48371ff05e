"""The operator's shared state, kept in kopf's `memo` (never in module globals).

One `OperatorState` per process: `AzureGateways` (the SDK clients per account connection, the
image-resolution cache shared by all pools, the write budget per subscription, the accepted
terms), the resource groups' lists shared by their pools, each pool's loop memory and lock, the
Kubernetes client, the injected clock and the metrics (the SDK pipelines and the write budgets
report to them), and what wakes a paused pool. `RunConfig` carries what `vmroll run` was told.
A pass borrows its gateway (`azure.borrow`) for as long as it uses it, so that a rotation or
deletion of its account never closes clients under it; what is kept for pools and accounts that
are gone is dropped by handlers/pruning.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from vmroll.api.account import AzureAccount
from vmroll.azure.clients import ClientOptions
from vmroll.azure.gateway import AzureGateways
from vmroll.azure.settings import AccountConnection
from vmroll.handlers.kube import KubeApi
from vmroll.handlers.run_config import RunConfig
from vmroll.handlers.turns import Turns
from vmroll.handlers.wakeups import Wakeups
from vmroll.metrics.registry import OperatorMetrics
from vmroll.plan.account_trust import TrustPolicy
from vmroll.plan.backoff import BackoffPolicy
from vmroll.reconcile.inputs import PassSettings
from vmroll.reconcile.memory import PoolMemory
from vmroll.reconcile.resting_pools import RestingPools
from vmroll.reconcile.shared_listing import GroupListings


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Connection:
    connection: AccountConnection
    key: tuple[str, ...]
    built_at: float


@dataclass
class OperatorState:
    config: RunConfig
    kube: KubeApi
    clock: Callable[[], datetime] = utc_now
    monotonic: Callable[[], float] = time.monotonic
    jitter: random.Random = field(default_factory=random.Random)
    """Draws the retry backoff's jitter, so that pools failing together spread out."""
    metrics: OperatorMetrics = field(default_factory=OperatorMetrics)
    azure: AzureGateways = field(init=False)
    listings: GroupListings = field(init=False)
    """Resource groups' lists, shared by the pools in each for half a resync interval."""
    memories: dict[str, PoolMemory] = field(default_factory=dict)
    locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    connections: dict[str, Connection] = field(default_factory=dict)
    parsed_accounts: dict[str, tuple[tuple[Any, Any], AzureAccount | None]] = field(
        default_factory=dict
    )
    """Each account as last validated from the index, by name, with its (uid, resourceVersion)."""
    wakeups: Wakeups = field(default_factory=Wakeups)
    """Each paused pool's event, set by the watch, and each paused ImageCapture's, set when the
    write budget sets a token aside for it (handlers/wakeups.py)."""
    turns: Turns = field(init=False)
    """The turns of pools to run a pass (`RunConfig.concurrent_passes`), passes coming back
    from a wait on Azure first."""
    pruned_at: float = float("-inf")
    """When handlers/pruning.py last dropped what is kept for pools and accounts that are gone."""

    def __post_init__(self) -> None:
        self.azure = AzureGateways(
            client_options=ClientOptions(polling_interval=self.config.polling_interval),
            clock=self.monotonic,
            sleep=asyncio.sleep,
            observer=self.metrics,
            token_set_aside=self.token_set_aside,
        )
        self.turns = Turns(self.config.concurrent_passes, self.monotonic, self.metrics)
        self.listings = GroupListings(
            self.config.resync_seconds / 2,
            self.monotonic,
            reports=self.azure.high_cost.latest,
            resting=RestingPools(self.wakeups.due),
        )
        self.metrics.track(self.tracked)

    def token_set_aside(self, uid: str) -> None:
        """The write budget set a token aside for the pool (or ImageCapture, whose loop pauses on
        the same wakeups): its next pass is due now, and may send the creates it held back until
        its turn (PoolMemory.token_set_aside), before the passes not yet started (Turns.hurry)."""
        memory = self.memories.get(uid)
        if memory is not None:
            memory.token_set_aside()
        if self.wakeups.due(uid) and memory is not None:
            self.turns.hurry(uid)

    def tracked(self) -> dict[str, int]:
        """What is kept per pool and per account, for `vmroll_tracked_entries`."""
        counts = {
            "pool_memories": len(self.memories),
            "pool_locks": len(self.locks),
            "account_connections": len(self.connections),
            "group_listings": len(self.listings),
            **self.turns.waiting(),
            **self.azure.tracked(),
        }
        # Scraped outside the event loop (a unit test), there are no tasks to count.
        with contextlib.suppress(RuntimeError):
            counts["asyncio_tasks"] = len(asyncio.all_tasks())
        return counts

    @property
    def pass_settings(self) -> PassSettings:
        return PassSettings(
            concurrency=self.config.concurrency,
            operation_wait=self.config.operation_wait,
            progress_interval=self.config.progress_seconds,
            backoff=BackoffPolicy(self.config.retry_base_seconds, self.config.retry_max_seconds),
            draw=self.jitter.random,
        )

    @property
    def trust_policy(self) -> TrustPolicy:
        return TrustPolicy(
            allow_custom_endpoints=self.config.allow_custom_endpoints,
            cluster_resource_namespace=self.config.cluster_resource_namespace,
        )

    def lock(self, uid: str) -> asyncio.Lock:
        return self.locks.setdefault(uid, asyncio.Lock())
