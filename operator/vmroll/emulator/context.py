"""The one object that holds an emulator's live state, shared by middleware and handlers.

It is stored on the aiohttp application under `CONTEXT`; there are no module globals, so two
emulators run side by side in one process (tests do).
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from vmroll.emulator.catalog import Catalog
from vmroll.emulator.compute_throttling import ComputeThrottler
from vmroll.emulator.faults import FaultInjector
from vmroll.emulator.identity import Identity
from vmroll.emulator.throttling import Throttler

if TYPE_CHECKING:
    from vmroll.emulator.captures import Captures
    from vmroll.emulator.images.service import ImageService
    from vmroll.emulator.lro import OperationStore
    from vmroll.emulator.vms import VirtualMachines

Clock = Callable[[], float]


@dataclass
class RequestCounters:
    """What the admin API reports: requests per operation and status, 429s served (in all and
    per throttling policy: `ARM/subscription-reads|writes|deletes`, `Microsoft.Compute/<policy>`;
    injected 429 faults count only in all), and the most ARM requests in flight at once (a
    client's bound on its connections shows there: HTTP/1.1 sends one request a connection)."""

    by_operation: defaultdict[str, Counter[int]] = field(
        default_factory=lambda: defaultdict(Counter)
    )
    throttled: int = 0
    throttled_by_policy: Counter[str] = field(default_factory=Counter)
    in_flight: int = 0
    peak_in_flight: int = 0

    def arrived(self) -> None:
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)

    def left(self) -> None:
        self.in_flight -= 1

    def record_throttle(self, policy: str) -> None:
        self.throttled_by_policy[policy] += 1

    def record(self, operation: str, status: int) -> None:
        self.by_operation[operation][status] += 1
        if status == 429:
            self.throttled += 1

    def snapshot(self) -> dict[str, Any]:
        operations = {
            name: {
                "total": sum(statuses.values()),
                "byStatus": {str(k): v for k, v in statuses.items()},
            }
            for name, statuses in sorted(self.by_operation.items())
        }
        return {
            "total": sum(o["total"] for o in operations.values()),
            "throttled": self.throttled,
            "throttledByPolicy": dict(sorted(self.throttled_by_policy.items())),
            "operations": operations,
            "peakInFlight": self.peak_in_flight,
        }

    def reset(self) -> None:
        self.by_operation.clear()
        self.throttled = 0
        self.throttled_by_policy.clear()
        self.peak_in_flight = self.in_flight


@dataclass
class EmulatorContext:
    catalog: Catalog
    identity: Identity
    throttler: Throttler
    compute_throttler: ComputeThrottler
    faults: FaultInjector
    images: ImageService
    operations: OperationStore
    vms: VirtualMachines
    captures: Captures
    clock: Clock = time.time
    counters: RequestCounters = field(default_factory=RequestCounters)
    base_url: str = ""
    admin_token: str = field(default="", repr=False)

    def scaled(self, azure_seconds: float) -> float:
        """Seconds an operation that takes `azure_seconds` in Azure takes here."""
        return azure_seconds * self.catalog.time_scale


CONTEXT = web.AppKey("vmroll_emulator_context", EmulatorContext)
