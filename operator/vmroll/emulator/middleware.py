"""What ARM does before a resource provider sees a request, applied to every ARM route.

In order: count the request, authenticate the bearer token (401), require `api-version` (400),
find the subscription (404), throttle (429 with Retry-After), authorize (403), charge Compute's
own throttling policy (429, compute_charge.py), inject configured faults, then run the handler
and turn any `ArmError` into ARM's CloudError body. A `reset` fault drops the connection instead
of running the handler; a `lostResponse` fault runs it (the write is applied) and then drops the
connection instead of answering, the classic cause of duplicates when a client takes "no answer"
for "not done". Both count as status 0. Routes are ARM routes when their path starts with
`/subscriptions/` or `/providers/`; the operation name used for counting and fault matching is
the aiohttp route name (by convention ARM's operationId, such as `VirtualMachines_Get`), or
`METHOD /path/template` for an unnamed route. Identity routes are counted too; the
`/_emulator/` admin routes are not.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import uuid
from collections.abc import Awaitable, Callable
from typing import NoReturn

from aiohttp import web

from vmroll.emulator import compute_charge
from vmroll.emulator.context import CONTEXT, EmulatorContext
from vmroll.emulator.errors import ArmError
from vmroll.emulator.faults import injected_error
from vmroll.emulator.rbac import authorize

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ARM_PREFIXES = ("/subscriptions/", "/providers/")
ADMIN_PREFIX = "/_emulator/"


def is_arm_path(path: str) -> bool:
    return path.lower().startswith(ARM_PREFIXES)


def operation_name(request: web.Request) -> str:
    if request.match_info.http_exception is not None:
        return "Unmatched"
    route = request.match_info.route
    if route.name:
        return route.name
    resource = route.resource
    template = resource.canonical if resource is not None else request.path
    return f"{request.method} {template}"


def error_response(error: ArmError) -> web.Response:
    return web.json_response(error.body(), status=error.status, headers=error.headers)


def _subscription_of(path: str) -> str | None:
    parts = path.split("/")
    if len(parts) > 2 and parts[1].lower() == "subscriptions":
        return parts[2]
    return None


def _reset_connection(request: web.Request) -> None:
    """Drop the connection with a TCP RST, as a failing load balancer does."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


def _drop(context: EmulatorContext, request: web.Request, operation: str) -> NoReturn:
    """No answer: the connection is reset; the request counts with status 0."""
    context.counters.record(operation, 0)
    _reset_connection(request)
    raise web.HTTPServiceUnavailable()


async def _admit(context: EmulatorContext, request: web.Request, operation: str) -> dict[str, str]:
    """Everything ARM checks before the provider; returns headers to add to the answer."""
    principal = context.identity.verify(request.headers.get("Authorization"))
    if "api-version" not in request.query:
        raise ArmError(
            400,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        )
    headers: dict[str, str] = {}
    subscription_id = _subscription_of(request.path)
    if subscription_id is not None:
        if context.catalog.subscription(subscription_id) is None:
            raise ArmError(
                404,
                "SubscriptionNotFound",
                f"The subscription '{subscription_id}' could not be found.",
            )
        if context.catalog.throttling.enabled:
            verdict = context.throttler.check(
                subscription_id, principal.client_id, request.method, context.clock()
            )
            header = f"x-ms-ratelimit-remaining-subscription-{verdict.operation_type}"
            headers[header] = str(verdict.remaining)
            if not verdict.allowed:
                context.counters.record_throttle(f"ARM/subscription-{verdict.operation_type}")
                kind = verdict.operation_type.removesuffix("s")
                raise ArmError(
                    429,
                    "SubscriptionRequestsThrottled",
                    f"Number of '{kind}' requests for subscription '{subscription_id}' actor "
                    f"'{principal.object_id}' exceeded. Please try again after "
                    f"'{verdict.retry_after}' seconds after additional tokens are available. "
                    "Refer to https://aka.ms/arm-throttling",
                    headers={**headers, "Retry-After": str(verdict.retry_after)},
                )
    authorize(context.catalog, principal, request.method, request.path)
    latency = context.faults.draw(operation, ("latency",))
    if latency is not None:
        await asyncio.sleep(latency.latency_seconds)
    if context.catalog.latencies.request:
        await asyncio.sleep(context.scaled(context.catalog.latencies.request))
    return headers


@web.middleware
async def arm_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith(ADMIN_PREFIX):
        return await handler(request)
    if not is_arm_path(request.path):
        return await _counted(request, handler)
    context = request.app[CONTEXT]
    context.counters.arrived()
    try:
        return await _answer_arm(context, request, handler)
    finally:
        context.counters.left()


async def _answer_arm(
    context: EmulatorContext, request: web.Request, handler: Handler
) -> web.StreamResponse:
    operation = operation_name(request)
    request_id = str(uuid.uuid4())
    ids = {
        "x-ms-request-id": request_id,
        "x-ms-correlation-request-id": request.headers.get(
            "x-ms-correlation-request-id", request_id
        ),
        "x-ms-routing-request-id": f"EMULATOR:{request_id}",
    }
    headers: dict[str, str] = {}
    fault = None
    try:
        headers = await _admit(context, request, operation)
        if request.match_info.http_exception is not None:
            raise _unmatched(request, request.match_info.http_exception)
        headers.update(await compute_charge.charge(context, request, operation))
        fault = context.faults.draw(operation, ("error", "reset", "lostResponse"))
        if fault is not None and fault.kind == "error":
            raise injected_error(fault)
        if fault is not None and fault.kind == "reset":
            _drop(context, request, operation)
        response = await handler(request)
        if fault is not None:
            _drop(context, request, operation)
    except ArmError as error:
        if fault is not None and fault.kind == "lostResponse":
            _drop(context, request, operation)
        response = error_response(error)
    for name, value in {**ids, **headers}.items():
        response.headers.setdefault(name, value)
    context.counters.record(operation, response.status)
    return response


async def _counted(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Identity endpoints are counted too (tokens issued show credential caching at work)."""
    operation = operation_name(request)
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        request.app[CONTEXT].counters.record(operation, exc.status)
        raise
    request.app[CONTEXT].counters.record(operation, response.status)
    return response


def _unmatched(request: web.Request, exception: web.HTTPException) -> ArmError:
    if exception.status == 405:
        return ArmError(
            405,
            "MethodNotAllowed",
            f"The requested resource does not support http method '{request.method}'.",
        )
    return ArmError(
        404,
        "InvalidResourceType",
        f"The resource type could not be found for the path '{request.path}' "
        f"and api version '{request.query.get('api-version', '')}'.",
    )
