"""The operator's metrics, in a registry of its own (not prometheus_client's global one), so
that each operator, and each test, counts from zero and exposes only vmroll's series.

Counters and histograms record what happens as it happens; pool gauges are collected at scrape
time from the last figures of each pool, and a deleted pool's figures are dropped with it, so
that memory stays flat however many pools come and go. `vmroll_tracked_entries` shows how much
the operator keeps per pool and per account (memories, locks, connections, clients, ...) and how
many asyncio tasks run, so that a leak shows on a dashboard before it shows in RSS. Each
ImagePolicy's figures (pools and VMs it matches, pools out of it) are kept the same way, from the
status the operator last wrote for it, and dropped with the policy.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from vmroll.metrics.pool_figures import PoolFigures, PoolState

DURATION_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
WAIT_BUCKETS = (0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0)
POOL_LABELS = ("namespace", "pool")


@dataclass(frozen=True)
class PolicyFigures:
    """What one ImagePolicy's status counts."""

    pools: int
    vms: int
    non_compliant_pools: int


class PassResult(enum.StrEnum):
    """How a reconcile pass ended; the `result` label."""

    SETTLED = "settled"
    PROGRESSING = "progressing"
    RETRY = "retry"
    STALLED = "stalled"
    ERROR = "error"
    """The pass raised (a Kubernetes API error, a bug): the loop tries again."""
    INVALID = "invalid"
    """The pool object could not be read at all."""


class OperatorMetrics:
    """Every vmroll metric; also the `AzureObserver` the SDK pipelines and budgets report to."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        self._passes = Counter(
            "vmroll_reconcile_passes", "Reconcile passes of pools, by how they ended.",
            ["result"], registry=registry,
        )  # fmt: skip
        self._duration = Histogram(
            "vmroll_reconcile_duration_seconds", "Duration of reconcile passes, by how they ended.",
            ["result"], buckets=DURATION_BUCKETS, registry=registry,
        )  # fmt: skip
        self._requests = Counter(
            "vmroll_azure_requests",
            "HTTP attempts sent to Azure Resource Manager, by ARM operation and status code "
            "(status none: no answer).",
            ["operation", "status"], registry=registry,
        )  # fmt: skip
        self._throttled = Counter(
            "vmroll_azure_throttled_requests",
            "Azure answers 429 Too Many Requests, by ARM operation.",
            ["operation"], registry=registry,
        )  # fmt: skip
        self._retry_waits = Histogram(
            "vmroll_azure_retry_wait_seconds",
            "Waits before an Azure request is sent again: cause retry_after when Azure's "
            "Retry-After asked for it, backoff otherwise.",
            ["cause"], buckets=WAIT_BUCKETS, registry=registry,
        )  # fmt: skip
        self._budget_waits = Histogram(
            "vmroll_azure_write_budget_wait_seconds",
            "Waits of Azure writes for vmroll's own per-subscription write budget.",
            buckets=WAIT_BUCKETS, registry=registry,
        )  # fmt: skip
        self._budget_exhausted = Counter(
            "vmroll_azure_write_budget_exhausted",
            "Azure writes put off to a later pass because the write budget's wait was too long.",
            registry=registry,
        )  # fmt: skip
        self._turn_waits = Histogram(
            "vmroll_pass_turn_wait_seconds",
            "Waits of pools' passes for a turn among --concurrent-passes, by line: starting (a "
            "pass's first turn) or returning (after a wait on Azure, or a write's token set "
            "aside).",
            ["line"], buckets=DURATION_BUCKETS, registry=registry,
        )  # fmt: skip
        self._turn_holds = Histogram(
            "vmroll_pass_turn_held_seconds",
            "How long a pool's pass held its turn, up to its status written, its end, or a wait "
            "on Azure it lent the turn back for.",
            buckets=DURATION_BUCKETS, registry=registry,
        )  # fmt: skip
        for result in PassResult:
            self._passes.labels(result.value)
        self._pools = PoolCollector()
        registry.register(self._pools)
        self._tracked = TrackedCollector()
        registry.register(self._tracked)
        self._policies = PolicyCollector()
        registry.register(self._policies)

    def track(self, counts: Callable[[], Mapping[str, int]]) -> None:
        """Report `counts()` (entries kept, by kind) at every scrape."""
        self._tracked.counts = counts

    def reconcile_pass(self, result: PassResult, seconds: float) -> None:
        self._passes.labels(result.value).inc()
        self._duration.labels(result.value).observe(seconds)

    def turn_waited(self, line: str, seconds: float) -> None:
        self._turn_waits.labels(line).observe(seconds)

    def turn_held(self, seconds: float) -> None:
        self._turn_holds.observe(seconds)

    def pool(self, namespace: str, name: str, figures: PoolFigures) -> None:
        self._pools.figures[(namespace, name)] = figures

    def forget_pool(self, namespace: str, name: str) -> None:
        self._pools.figures.pop((namespace, name), None)

    def keep_pools(self, pools: Collection[tuple[str, str]]) -> None:
        """Forget the figures of every pool (namespace, name) but `pools`."""
        figures = self._pools.figures
        for key in [key for key in figures if key not in pools]:
            del figures[key]

    def policy(self, name: str, figures: PolicyFigures) -> None:
        self._policies.figures[name] = figures

    def forget_policy(self, name: str) -> None:
        self._policies.figures.pop(name, None)

    def request(self, operation: str, status: str) -> None:
        self._requests.labels(operation, status).inc()
        if status == "429":
            self._throttled.labels(operation).inc()

    def retry_wait(self, cause: str, seconds: float) -> None:
        self._retry_waits.labels(str(cause)).observe(seconds)

    def budget_wait(self, seconds: float) -> None:
        self._budget_waits.observe(seconds)

    def budget_exhausted(self) -> None:
        self._budget_exhausted.inc()


class PoolCollector(Collector):
    """Gauges of every pool, built at scrape time from the figures each pass leaves."""

    def __init__(self) -> None:
        self.figures: dict[tuple[str, str], PoolFigures] = {}

    def collect(self) -> Iterator[GaugeMetricFamily]:
        def gauge(name: str, help_: str, *extra: str) -> GaugeMetricFamily:
            return GaugeMetricFamily(name, help_, labels=[*POOL_LABELS, *extra])

        counts = {
            "desired": gauge("vmroll_pool_replicas_desired", "VMs the pool's spec asks for."),
            "replicas": gauge("vmroll_pool_replicas", "VMs of the pool that exist."),
            "ready": gauge("vmroll_pool_replicas_ready", "VMs of the pool that are healthy."),
            "available": gauge(
                "vmroll_pool_replicas_available",
                "VMs healthy for at least strategy.minReadySeconds.",
            ),
            "updated": gauge("vmroll_pool_replicas_updated", "VMs on the pool's target revision."),
        }
        state = gauge(
            "vmroll_pool_state", "1 for the pool's kstatus state, 0 for the others.", "state"
        )
        vms = gauge(
            "vmroll_pool_vms", "VMs of the pool by image version and health.",
            "image_version", "health",
        )  # fmt: skip
        versions_behind = gauge(
            "vmroll_pool_image_versions_behind",
            "Image versions newer than the pool's target, up to the newest available.",
        )
        time_behind = gauge(
            "vmroll_pool_image_behind_seconds",
            "Release dates between the pool's target image version and the newest available.",
        )
        for (namespace, name), figures in sorted(self.figures.items()):
            pool = [namespace, name]
            for key, family in counts.items():
                family.add_metric(pool, getattr(figures, key))
            for value in PoolState:
                state.add_metric([*pool, value.value], 1.0 if figures.state is value else 0.0)
            for (version, health), count in sorted(figures.vms.items()):
                vms.add_metric([*pool, version, health], count)
            staleness = figures.staleness
            if staleness is not None:
                versions_behind.add_metric(pool, staleness.versions_behind)
                if staleness.seconds_behind is not None:
                    time_behind.add_metric(pool, staleness.seconds_behind)
        yield from counts.values()
        yield from (state, vms, versions_behind, time_behind)


class TrackedCollector(Collector):
    """Entries the operator keeps, by kind, counted at scrape time."""

    def __init__(self) -> None:
        self.counts: Callable[[], Mapping[str, int]] = dict

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "vmroll_tracked_entries",
            "Entries the operator keeps for pools and accounts, and its asyncio tasks, by kind.",
            labels=["kind"],
        )
        for kind, count in sorted(self.counts().items()):
            family.add_metric([kind], count)
        yield family


class PolicyCollector(Collector):
    """Gauges of every ImagePolicy, built at scrape time from its last status."""

    def __init__(self) -> None:
        self.figures: dict[str, PolicyFigures] = {}

    def collect(self) -> Iterator[GaugeMetricFamily]:
        families = {
            "pools": GaugeMetricFamily(
                "vmroll_imagepolicy_pools", "Pools the ImagePolicy applies to.", labels=["policy"]
            ),
            "vms": GaugeMetricFamily(
                "vmroll_imagepolicy_vms",
                "VMs of the pools the ImagePolicy applies to.",
                labels=["policy"],
            ),
            "non_compliant_pools": GaugeMetricFamily(
                "vmroll_imagepolicy_non_compliant_pools",
                "Pools the ImagePolicy applies to that violate it.",
                labels=["policy"],
            ),
        }
        for name, figures in sorted(self.figures.items()):
            for key, family in families.items():
                family.add_metric([name], getattr(figures, key))
        yield from families.values()
