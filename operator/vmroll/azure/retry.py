"""Retry inside the SDK pipeline only for as long as a reconcile pass can afford to wait.

azure-core's `AsyncRetryPolicy` already honours `Retry-After` on 429 and 503, but it sleeps for
whatever the server asks, even an hour, inside a kopf handler. This policy retries while the
total of the waits stays under `max_wait`; a longer `Retry-After` ends the retries, the response
surfaces as an error, and `errors.py` turns it into `TransientAzureError(retry_after=...)` so the
framework requeues the pool instead of holding a handler. Every wait it does take is reported to
the observer, with whether Azure asked for it (`Retry-After`) or the backoff chose it.
"""

from __future__ import annotations

from typing import Any

from azure.core.pipeline import PipelineResponse
from azure.core.pipeline.policies import AsyncRetryPolicy
from azure.core.pipeline.transport import AsyncHttpTransport
from azure.core.rest import AsyncHttpResponse, HttpRequest

from vmroll.azure.observer import NOT_OBSERVED, AzureObserver, RetryCause

_WAITED = "vmroll_waited_seconds"


class BoundedRetryAfterPolicy(AsyncRetryPolicy[HttpRequest, AsyncHttpResponse]):
    """`AsyncRetryPolicy` with a ceiling on the total time spent waiting between attempts."""

    def __init__(
        self, *, max_wait: float = 30.0, observer: AzureObserver = NOT_OBSERVED, **kwargs: Any
    ) -> None:
        kwargs.setdefault("retry_total", 4)
        kwargs.setdefault("retry_backoff_factor", 0.8)
        kwargs.setdefault("retry_backoff_max", int(max_wait))
        super().__init__(**kwargs)
        self.max_wait = max_wait
        self._observer = observer

    def configure_retries(self, options: dict[str, Any]) -> dict[str, Any]:
        settings = super().configure_retries(options)
        settings[_WAITED] = 0.0
        return settings

    def is_retry(self, settings: dict[str, Any], response: PipelineResponse[Any, Any]) -> bool:
        if not super().is_retry(settings, response):
            return False
        return bool(settings[_WAITED] + self._next_wait(settings, response) <= self.max_wait)

    async def sleep(
        self,
        settings: dict[str, Any],
        transport: AsyncHttpTransport[HttpRequest, AsyncHttpResponse],
        response: PipelineResponse[HttpRequest, AsyncHttpResponse] | None = None,
    ) -> None:
        wait = self._next_wait(settings, response)
        settings[_WAITED] += wait
        asked = response is not None and bool(self.get_retry_after(response))
        self._observer.retry_wait(RetryCause.RETRY_AFTER if asked else RetryCause.BACKOFF, wait)
        await super().sleep(settings, transport, response)

    def _next_wait(
        self, settings: dict[str, Any], response: PipelineResponse[Any, Any] | None
    ) -> float:
        retry_after = self.get_retry_after(response) if response is not None else None
        if retry_after:
            return float(retry_after)
        return float(self.get_backoff_time(settings))
