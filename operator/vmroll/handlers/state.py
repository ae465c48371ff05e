"""The operator's shared state, kept in kopf's `memo` (never in module globals).

One `OperatorState` per process: the SDK clients per account connection, the image-resolution
cache shared by all pools, the write budget per subscription, each pool's loop memory and lock,
the Kubernetes client, the injected clock and the metrics (the SDK pipelines and the write budgets
report to them). `RunConfig` carries what `vmroll run` was told.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from vmroll.azure.budget import WriteBudgets
from vmroll.azure.clients import ClientCache, ClientOptions
from vmroll.azure.gateway import AzureGateway
from vmroll.azure.image_cache import LatestCache
from vmroll.azure.images import PurchasePlan
from vmroll.azure.settings import AccountConnection
from vmroll.handlers.kube import KubeApi
from vmroll.handlers.run_config import RunConfig
from vmroll.metrics.registry import OperatorMetrics
from vmroll.plan.account_trust import TrustPolicy
from vmroll.plan.backoff import BackoffPolicy
from vmroll.reconcile.gateway import AzurePoolGateway
from vmroll.reconcile.inputs import PassSettings
from vmroll.reconcile.memory import PoolMemory


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
    clients: ClientCache = field(init=False)
    latest: LatestCache = field(init=False)
    budgets: WriteBudgets = field(init=False)
    memories: dict[str, PoolMemory] = field(default_factory=dict)
    locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    connections: dict[str, Connection] = field(default_factory=dict)
    accepted_plans: set[tuple[str, PurchasePlan]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.clients = ClientCache(
            ClientOptions(polling_interval=self.config.polling_interval), self.metrics
        )
        self.latest = LatestCache(self.monotonic)
        self.budgets = WriteBudgets(
            clock=self.monotonic, sleep=asyncio.sleep, observer=self.metrics
        )

    @property
    def pass_settings(self) -> PassSettings:
        return PassSettings(
            concurrency=self.config.concurrency,
            operation_wait=self.config.operation_wait,
            backoff=BackoffPolicy(self.config.retry_base_seconds, self.config.retry_max_seconds),
            draw=self.jitter.random,
        )

    @property
    def trust_policy(self) -> TrustPolicy:
        return TrustPolicy(
            allow_custom_endpoints=self.config.allow_custom_endpoints,
            cluster_resource_namespace=self.config.cluster_resource_namespace,
        )

    def gateway(self, connection: AccountConnection) -> AzurePoolGateway:
        clients = self.clients.for_connection(connection)
        budget = self.budgets.for_subscription(connection.subscription_id)
        boundary = AzureGateway(clients, self.latest, budget, self.accepted_plans)
        return AzurePoolGateway(boundary, clients, budget)

    def lock(self, uid: str) -> asyncio.Lock:
        return self.locks.setdefault(uid, asyncio.Lock())
