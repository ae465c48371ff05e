"""Count every HTTP attempt the SDK makes, by ARM operation and status code; read what each
answer says about Azure's buckets.

Placed after the retry policy (a per-retry policy), so that each attempt is seen: a request
answered 429 and retried once counts one 429 and one 200, exactly as ARM (and the emulator)
counted them. Long-running-operation polls go through the same pipeline and are counted too.
Counting comes after the pacing and the holds (clients.py): a read held and not sent, or
cancelled while it waited for its turn, reached no one and is not counted.
One difference from ARM's own count remains: aiohttp resends an idempotent request (GET, PUT,
DELETE) once by itself when the connection drops before any answer, inside what the pipeline
sees as one attempt; such a request counts once here (with the resend's status) and twice in
ARM's logs.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager, nullcontext
from typing import Any

from azure.core.pipeline import PipelineRequest, PipelineResponse
from azure.core.pipeline.policies import AsyncHTTPPolicy
from azure.core.rest import AsyncHttpResponse, HttpRequest

from vmroll.azure.headroom import CURRENT_CALL, read_headroom
from vmroll.azure.low_cost_holds import held_reads
from vmroll.azure.observer import NO_RESPONSE, AzureObserver
from vmroll.azure.operation_names import arm_operation
from vmroll.azure.read_pacing import NoSpareRead, ReadPacer


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
        except NoSpareRead:
            # Refused before it was sent (read_pacing.py): no attempt ARM counted.
            raise
        except BaseException:
            self._observer.request(operation, NO_RESPONSE)
            raise
        self._observer.request(operation, str(response.http_response.status_code))
        return response


STATUS_READ = "ComputeOperations_GetStatus"
VM_READS = frozenset({"VirtualMachines_Get", "VirtualMachines_InstanceView"})
"""The reads of one VM, which Compute charges to the Low-cost get buckets (low_cost_holds.py)."""


class HeadroomPolicy(AsyncHTTPPolicy[HttpRequest, AsyncHttpResponse]):
    """Pace each read by the connection's ARM reads bucket (read_pacing.py; on the wire until
    answered) and each operation status read of a VM (poll_pacing.py), hold each read of one VM
    while the Low-cost get bucket of its subscription and region is empty (low_cost_holds.py),
    and hand what every answer says about Azure's buckets to the call that sent it
    (headroom.py).

    Also after the retry policy, so that a 429 retried in the pipeline still holds back the
    buckets it named, and a retried read or poll waits like the first one."""

    def __init__(self, reads: ReadPacer) -> None:
        super().__init__()
        self._reads = reads

    async def send(
        self, request: PipelineRequest[HttpRequest]
    ) -> PipelineResponse[HttpRequest, AsyncHttpResponse]:
        scope = CURRENT_CALL.get()
        http = request.http_request
        polled = scope.resource_id if scope is not None else None
        operation = arm_operation(http.method, http.url)
        if scope is not None and polled is not None and operation == STATUS_READ:
            await scope.polls.before_poll(polled)
        held = held_reads() if operation in VM_READS else None
        if held is not None:
            await held.before_read()
        read = http.method.upper() == "GET"
        pacing: AbstractAsyncContextManager[None] = self._reads.sending() if read else nullcontext()
        async with pacing:
            response: PipelineResponse[HttpRequest, AsyncHttpResponse] = await self.next.send(
                request
            )
            answer = response.http_response
            headroom = read_headroom(answer.headers)
            if read:
                self._reads.answered(
                    answer.status_code, remaining=headroom.reads, retry_after=headroom.retry_after
                )
        if held is not None:
            held.answered(answer.status_code, headroom)
        if scope is not None:
            scope.answered(http.method.upper(), answer.status_code, headroom)
        return response
