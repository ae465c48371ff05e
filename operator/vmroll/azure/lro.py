"""Long-running operations that survive an operator restart.

Every create, delete and reimage is started the same way: send the request, take the SDK
poller's continuation token at once, and hand the caller an `OperationRecord` to store on the
pool's status before anything waits. Waiting always resumes from that record, in this process or
in the next one after a restart, so no operation is started twice and none is forgotten.

The token is azure-core's (base64 JSON holding the first response and its polling URLs). A
record can be edited by anyone who can write the pool's status, and the SDK would send vmroll's
ARM bearer token to whatever URL a token names, so a token is only resumed when every URL in it
is on the connection's resource manager host.

A token as azure-core makes it holds the first response's body twice (its bytes, base64, and the
same JSON decoded), twice base64: ~12 KB for a VM's create, held in the pool's status and in
every copy of it the operator keeps (kopf's body, the status model, the pending operation), for
every operation in flight. `slim_token` keeps the body only when the poller reads it: an
operation with a monitor URL (`Azure-AsyncOperation`, `Operation-Location` or `Location`) is
polled there, the first body being read only for a `status` field that a resource's body does
not have (without it the poller starts "InProgress"), so only the URLs, headers and status code
are kept (~1 KB). The body stays for the rare operation without a monitor URL, whose first
status is the body's `provisioningState`.

Polling follows `Retry-After` and Compute's Get Operation budget per VM (poll_pacing.py): every
status read waits for both, and a wait that could not poll within `max_wait` returns at once,
without a request.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from azure.core.exceptions import ResourceNotFoundError
from azure.core.polling import AsyncLROPoller

from vmroll.azure.errors import TransientAzureError, azure_errors
from vmroll.azure.headroom import CallScope, call_scope
from vmroll.azure.poll_pacing import PollPacer

_URL_HEADERS = ("azure-asyncoperation", "location", "operation-location")


class LroKind(StrEnum):
    """What a long-running operation does. The pool's and the capture's statuses record the
    same values as their own `vmroll.api.pool_status.OperationKind` and
    `vmroll.api.capture_status.CaptureOperationKind`, which the boundary does not import."""

    CREATE = "Create"
    DELETE = "Delete"
    REIMAGE = "Reimage"
    DEALLOCATE = "Deallocate"
    CREATE_VERSION = "CreateVersion"


class OperationState(StrEnum):
    SUCCEEDED = "Succeeded"
    RUNNING = "Running"


@dataclass(frozen=True)
class OperationRecord:
    """What was started, on which resource, and how to find it again."""

    kind: LroKind
    resource_id: str
    token: str


class OperationLost(TransientAzureError):
    """The record cannot be followed (expired, or not vmroll's): observe the resource again."""


Poller = AsyncLROPoller[Any]
Resume = Callable[[str], Awaitable[Poller]]


async def start(
    kind: LroKind, resource_id: str, begin: Callable[[], Awaitable[Poller]]
) -> OperationRecord:
    """Send the request and return its record without waiting for the operation."""
    with azure_errors(f"{kind.value.lower()} {resource_id}"):
        poller = await begin()
    return OperationRecord(kind, resource_id, slim_token(poller.continuation_token()))


def slim_token(token: str) -> str:
    """The token without what resuming its poller does not read (the module's docstring)."""
    envelope = json.loads(base64.b64decode(token))
    data = envelope["data"]
    data.get("context", {}).pop("deserialized_data", None)
    headers = {str(name).lower() for name in data["response"]["headers"]}
    if headers & set(_URL_HEADERS):
        data["response"]["content"] = ""
    return base64.b64encode(json.dumps(envelope, separators=(",", ":")).encode()).decode("ascii")


async def wait(
    record: OperationRecord,
    resume: Resume,
    *,
    resource_manager: str,
    max_wait: float,
    polls: PollPacer,
) -> OperationState:
    """Follow the operation for up to `max_wait` seconds; failures raise classified errors."""
    if not token_targets(record.token, resource_manager):
        raise OperationLost(f"the operation record of {record.resource_id} is not followable")
    if polls.delay(record.resource_id) > max_wait:
        return OperationState.RUNNING
    action = f"{record.kind.value.lower()} {record.resource_id}"
    scope = CallScope(polls, resource_id=record.resource_id)
    with call_scope(scope), azure_errors(action):
        try:
            poller = await resume(record.token)
            await asyncio.wait_for(poller.result(), max_wait)
        except TimeoutError:
            return OperationState.RUNNING
        except ResourceNotFoundError as error:
            if record.kind is LroKind.DELETE:
                return OperationState.SUCCEEDED
            raise OperationLost(f"{action}: the operation is no longer known") from error
    return OperationState.SUCCEEDED


def token_targets(token: str, resource_manager: str) -> bool:
    """True when the token decodes and every URL in it is on the resource manager's host."""
    expected = urlsplit(resource_manager)
    try:
        urls = list(_token_urls(token))
    except (ValueError, TypeError, KeyError, AttributeError, binascii.Error):
        return False
    if not urls:
        return False
    for url in urls:
        parts = urlsplit(url)
        if (parts.scheme, parts.netloc.lower()) != (expected.scheme, expected.netloc.lower()):
            return False
    return True


def _token_urls(token: str) -> Iterator[str]:
    data: dict[str, Any] = json.loads(base64.b64decode(token, validate=True))["data"]
    request = data.get("request")
    if request is not None:
        yield str(request["url"])
    headers = {str(k).lower(): str(v) for k, v in data["response"]["headers"].items()}
    for name in _URL_HEADERS:
        if name in headers:
            yield headers[name]
