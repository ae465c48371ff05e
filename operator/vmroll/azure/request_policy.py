"""Count every HTTP attempt the SDK makes, by ARM operation and status code.

Placed after the retry policy (a per-retry policy), so that each attempt is seen: a request
answered 429 and retried once counts one 429 and one 200, exactly as ARM (and the emulator)
counted them. Long-running-operation polls go through the same pipeline and are counted too.
One difference from ARM's own count remains: aiohttp resends an idempotent request (GET, PUT,
DELETE) once by itself when the connection drops before any answer, inside what the pipeline
sees as one attempt; such a request counts once here (with the resend's status) and twice in
ARM's logs.
"""

from __future__ import annotations

from typing import Any

from azure.core.pipeline import PipelineRequest, PipelineResponse
from azure.core.pipeline.policies import AsyncHTTPPolicy
from azure.core.rest import AsyncHttpResponse, HttpRequest

from vmroll.azure.observer import NO_RESPONSE, AzureObserver
from vmroll.azure.operation_names import arm_operation


class RequestCountingPolicy(AsyncHTTPPolicy[HttpRequest, AsyncHttpResponse]):
    def __init__(self, observer: AzureObserver) -> None:
        super().__init__()
        self._observer = observer

    async def send(
        self, request: PipelineRequest[HttpRequest]
    ) -> PipelineResponse[HttpRequest, AsyncHttpResponse]:
        http = request.http_request
        operation = arm_operation(http.method, http.url)
        try:
            response: PipelineResponse[Any, Any] = await self.next.send(request)
        except BaseException:
            self._observer.request(operation, NO_RESPONSE)
            raise
        self._observer.request(operation, str(response.http_response.status_code))
        return response
