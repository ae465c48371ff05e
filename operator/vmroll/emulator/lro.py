"""Long-running operations as ARM runs them: accepted now, finished later, tracked by URL.

An operation is due at a deadline computed from the catalog's latencies; it is settled lazily
(whenever anyone looks: a resource GET, a status poll), which keeps the emulator deterministic and
free of background tasks. Settling calls the completion handler registered for the operation's
kind, so each resource type applies its own effect. The status endpoint answers the
`Azure-AsyncOperation` form (always 200, status in the body) and the `Location` form
(`monitor=true`: 202 while running, then the final answer).
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from aiohttp import web

from vmroll.emulator.errors import ArmError

IN_PROGRESS, SUCCEEDED, FAILED, CANCELED = "InProgress", "Succeeded", "Failed", "Canceled"
KEPT_OPERATIONS = 10_000


def iso(epoch: float) -> str:
    """ARM's timestamp form: 7 fractional digits and an explicit UTC offset."""
    moment = datetime.datetime.fromtimestamp(epoch, datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0+00:00"


@dataclass
class Operation:
    operation_id: str
    subscription_id: str
    location: str
    kind: str
    target: str
    started: float
    deadline: float
    api_version: str
    status: str = IN_PROGRESS
    ended: float | None = None
    error: dict[str, Any] | None = None
    failure_status: int = 409
    payload: dict[str, Any] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.status != IN_PROGRESS

    def status_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "startTime": iso(self.started),
            "status": self.status,
            "name": self.operation_id,
        }
        if self.ended is not None:
            body["endTime"] = iso(self.ended)
        if self.error is not None and self.status in (FAILED, CANCELED):
            body["error"] = self.error
        return body


Completion = Callable[[Operation], None]


class OperationStore:
    """Every operation of one emulator, by id; settles due ones through registered handlers."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.base_url = ""
        self._operations: dict[str, Operation] = {}
        self._active: dict[str, Operation] = {}
        self._completions: dict[str, Completion] = {}

    def register(self, kind: str, completion: Completion) -> None:
        self._completions[kind] = completion

    def start(
        self,
        *,
        subscription_id: str,
        location: str,
        kind: str,
        target: str,
        duration: float,
        api_version: str,
        payload: dict[str, Any] | None = None,
        failure: dict[str, Any] | None = None,
    ) -> Operation:
        now = self.clock()
        operation = Operation(
            operation_id=str(uuid.uuid4()),
            subscription_id=subscription_id,
            location=location,
            kind=kind,
            target=target,
            started=now,
            deadline=now + duration,
            api_version=api_version,
            payload=dict(payload or {}),
        )
        if failure is not None:
            operation.payload["failure"] = failure
        self._operations[operation.operation_id] = operation
        self._active[operation.operation_id] = operation
        self._forget_oldest()
        return operation

    def settle(self) -> None:
        """Finish every operation whose deadline has passed, oldest first."""
        now = self.clock()
        due = [op for op in self._active.values() if op.deadline <= now]
        for operation in sorted(due, key=lambda op: op.deadline):
            del self._active[operation.operation_id]
            failure = operation.payload.get("failure")
            operation.status = FAILED if failure else SUCCEEDED
            operation.error = failure
            operation.ended = max(operation.deadline, operation.started)
            self._completions[operation.kind](operation)

    def cancel(self, operation: Operation, error: dict[str, Any]) -> None:
        operation.status, operation.error, operation.ended = CANCELED, error, self.clock()
        self._active.pop(operation.operation_id, None)

    def _forget_oldest(self) -> None:
        """Keep the status of the last KEPT_OPERATIONS operations, as ARM keeps them a while."""
        while len(self._operations) > KEPT_OPERATIONS:
            oldest = next(iter(self._operations))
            if oldest in self._active:
                break
            del self._operations[oldest]

    def get(self, operation_id: str) -> Operation | None:
        return self._operations.get(operation_id)

    def active_for(self, target: str) -> Operation | None:
        wanted = target.lower()
        return next(
            (op for op in self._active.values() if op.target.lower() == wanted),
            None,
        )

    def urls(self, operation: Operation) -> dict[str, str]:
        base = (
            f"{self.base_url}/subscriptions/{operation.subscription_id}/providers/"
            f"Microsoft.Compute/locations/{operation.location}/operations/{operation.operation_id}"
        )
        return {
            "Azure-AsyncOperation": f"{base}?api-version={operation.api_version}",
            "Location": f"{base}?monitor=true&api-version={operation.api_version}",
        }

    def snapshot(self) -> list[dict[str, Any]]:
        return [asdict(op) for op in self._operations.values()]

    def restore(self, data: list[dict[str, Any]]) -> None:
        self._operations = {item["operation_id"]: Operation(**item) for item in data}
        self._active = {k: op for k, op in self._operations.items() if not op.done}

    def clear(self) -> None:
        self._operations.clear()
        self._active.clear()

    def add_routes(self, router: web.UrlDispatcher, retry_after: Callable[[], int]) -> None:
        async def status(request: web.Request) -> web.Response:
            self.settle()
            operation = self.get(request.match_info["operationId"])
            if (
                operation is None
                or operation.subscription_id.lower() != request.match_info["subscriptionId"].lower()
            ):
                raise ArmError(
                    404,
                    "NotFound",
                    f"The operation '{request.match_info['operationId']}' could not be found.",
                )
            headers = {"Retry-After": str(retry_after())} if not operation.done else {}
            if request.query.get("monitor", "").lower() != "true":
                return web.json_response(operation.status_body(), headers=headers)
            if not operation.done:
                return web.Response(status=202, headers={**headers, **self.urls(operation)})
            if operation.status == SUCCEEDED:
                return web.Response(status=200)
            error = operation.error or {"code": "Canceled", "message": "Canceled."}
            return web.json_response({"error": error}, status=operation.failure_status)

        router.add_get(
            "/subscriptions/{subscriptionId}/providers/Microsoft.Compute/locations/{location}"
            "/operations/{operationId}",
            status,
            name="ComputeOperations_GetStatus",
        )
