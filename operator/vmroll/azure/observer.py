"""What the Azure boundary tells whoever counts: requests answered, waits for Retry-After and
for the write budget.

The SDK pipeline, the retry policy and the write budget report here, through a protocol, so
that `vmroll.azure` never depends on a metrics library; the operator passes its Prometheus
metrics, tests and tools that count nothing pass `NOT_OBSERVED`.
"""

from __future__ import annotations

import enum
from typing import Protocol

NO_RESPONSE = "none"
"""The status of a request that got no HTTP answer (connection refused, reset, timed out)."""


class RetryCause(enum.StrEnum):
    """Why the SDK pipeline waited before sending a request again."""

    RETRY_AFTER = "retry_after"
    """Azure's answer said how long to wait (a 429 or 503 with `Retry-After`)."""
    BACKOFF = "backoff"
    """No `Retry-After`: the policy's exponential backoff."""


class AzureObserver(Protocol):
    def request(self, operation: str, status: str) -> None:
        """One HTTP attempt ended with `status` (a code such as "200", or `NO_RESPONSE`)."""

    def retry_wait(self, cause: RetryCause, seconds: float) -> None:
        """The pipeline is about to wait `seconds` before trying a request again."""

    def budget_wait(self, seconds: float) -> None:
        """A write waited `seconds` for vmroll's own write budget."""

    def budget_exhausted(self) -> None:
        """A write was refused: the wait for the write budget would have been too long."""


class _NotObserved:
    def request(self, operation: str, status: str) -> None:
        pass

    def retry_wait(self, cause: RetryCause, seconds: float) -> None:
        pass

    def budget_wait(self, seconds: float) -> None:
        pass

    def budget_exhausted(self) -> None:
        pass


NOT_OBSERVED: AzureObserver = _NotObserved()
