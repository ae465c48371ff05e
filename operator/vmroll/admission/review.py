"""What the webhook answers to one AdmissionReview: allowed, or refused naming the field.

The rule is the operator's own: an object is admitted when the models the operator reconciles
with (`vmroll.api`) parse its metadata and spec. Those models carry what the CRD schema cannot
express (image version parts within Azure's 32-bit range, label key lengths), so an object the
schema lets through but the operator would stall on with InvalidSpec is refused here instead.

Updates that leave the spec as it was (finalizers, annotations, labels), and anything on an
object being deleted, are always admitted: a pool that fell out of the rules must stay
deletable and fixable. The registration's `matchConditions` keep such requests from reaching
the webhook at all; the same rule here keeps it true under any registration.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Final

from pydantic import BaseModel, ValidationError

from vmroll.api.account import KIND as ACCOUNT_KIND
from vmroll.api.account import AzureAccount
from vmroll.api.pool import KIND as POOL_KIND
from vmroll.api.pool import VirtualMachinePool

API_VERSION: Final = "admission.k8s.io/v1"
MAX_FIELDS_SHOWN = 3

PoolCheck = Callable[[VirtualMachinePool, VirtualMachinePool | None], Awaitable[str | None]]
"""A further rule on a parsed pool and, on update, the pool as it was (None on create, or when
the old one does not parse), such as an ImagePolicy's: a refusal message, or None. Awaited on
the webhook's own event loop (admission/server.py), so a check that reads the API server does
so without blocking it; it raises `CheckUnavailable` when it cannot decide."""

UNAVAILABLE_CODE = 503


class CheckUnavailable(Exception):
    """A pool check could not read what it decides on (an API server hiccup): the request is
    refused as unavailable, with the message saying it is transient, rather than as invalid."""


_MODELS: dict[str, type[BaseModel]] = {POOL_KIND: VirtualMachinePool, ACCOUNT_KIND: AzureAccount}


async def review(body: Mapping[str, Any], pool_checks: Sequence[PoolCheck] = ()) -> dict[str, Any]:
    """The AdmissionReview response to the AdmissionReview request `body`."""
    request: Mapping[str, Any] = body.get("request") or {}
    status: dict[str, Any] | None = None
    try:
        refusal = await refusal_of(request, pool_checks)
    except CheckUnavailable as error:
        status = {"code": UNAVAILABLE_CODE, "reason": "ServiceUnavailable", "message": str(error)}
    else:
        if refusal is not None:
            status = {"code": 422, "reason": "Invalid", "message": refusal}
    response: dict[str, Any] = {"uid": request.get("uid", ""), "allowed": status is None}
    if status is not None:
        response["status"] = status
    return {"apiVersion": API_VERSION, "kind": "AdmissionReview", "response": response}


async def refusal_of(
    request: Mapping[str, Any], pool_checks: Sequence[PoolCheck] = ()
) -> str | None:
    """Why the request is refused, or None when it is admitted."""
    if request.get("operation") not in ("CREATE", "UPDATE") or request.get("subResource"):
        return None
    new: Mapping[str, Any] = request.get("object") or {}
    old: Mapping[str, Any] | None = request.get("oldObject")
    if (new.get("metadata") or {}).get("deletionTimestamp"):
        return None
    if old is not None and old.get("spec") == new.get("spec"):
        return None
    kind = (request.get("kind") or {}).get("kind", "")
    model = _MODELS.get(kind)
    if model is None:
        return f"vmroll's webhook does not validate kind {kind!r}; fix the webhook's rules"
    # The status is the operator's to write; only what the user wrote is judged.
    written = {key: value for key, value in new.items() if key != "status"}
    try:
        parsed = model.model_validate(written)
    except ValidationError as error:
        return invalid_fields_message(kind, error)
    if isinstance(parsed, VirtualMachinePool):
        before = _parsed_pool(old) if old is not None else None
        for check in pool_checks:
            message = await check(parsed, before)
            if message is not None:
                return message
    return None


def _parsed_pool(old: Mapping[str, Any]) -> VirtualMachinePool | None:
    try:
        return VirtualMachinePool.model_validate(
            {key: value for key, value in old.items() if key != "status"}
        )
    except ValidationError:
        return None


def invalid_fields_message(kind: str, error: ValidationError) -> str:
    """The first invalid fields, by their path in the object, and what is wrong with them."""
    found = [
        f"{'.'.join(str(part) for part in detail['loc'])}: {_plain(detail['msg'])}"
        for detail in error.errors(include_url=False, include_input=False)
    ]
    hidden = len(found) - MAX_FIELDS_SHOWN
    more = f" (and {hidden} more)" if hidden > 0 else ""
    return f"{kind} is not one vmroll can act on: {'; '.join(found[:MAX_FIELDS_SHOWN])}{more}"


def _plain(message: str) -> str:
    """Pydantic's "Value error, ..." prefix says nothing to a kubectl user."""
    return message.removeprefix("Value error, ")
