"""Every Azure failure, classified once at the boundary into three kinds the handlers act on.

- `TransientAzureError`: try again later, after `retry_after` seconds when Azure said so
  (throttling, 5xx, connection errors, another operation in progress, allocation failures).
- `TerminalAzureError`: retrying the same spec cannot succeed; a human must change something
  (quota, size or image not available, invalid parameter, marketplace terms). Carries a
  `Reason` (vmroll.plan.reasons) for the Stalled condition and a message saying what to change.
- `AzureAccessError`: a terminal error with reason `AccessDenied` (401/403, credential failures).

Decision, AllocationFailed: transient. Azure says "retry the request at a later time"; capacity
comes back without the spec changing, so vmroll keeps trying, but no sooner than
`ALLOCATION_RETRY_SECONDS`, and the code stays on the error for the handler's message.
Codes are matched before HTTP statuses, because Compute answers quota and SKU problems with 409,
the same status it uses for a conflicting operation.

Terminal codes are those the shared Azure reference documents as needing a change
(errors_throttling.md): the quota and SKU codes, `OperationNotAllowed` (an operation the SKU does
not allow, or quota; but not a 429 or a `TooManyRequests` detail, which is Compute throttling),
the image codes, `InvalidParameter`, the marketplace terms codes and `ResourceGroupNotFound`,
wherever they appear: top level, in `details`, or as a failed long-running operation's error.
What stays transient is what the reference calls temporary or state-dependent: 429, 5xx
(`InternalServerError` "Caused by a temporary problem"), `Conflict` and
`AnotherOperationInProgress` (the resource's current state), `AllocationFailed`, and a failed
operation with no code vmroll knows; the pool's loop retries them with capped exponential
backoff (vmroll.plan.backoff), not at a fixed rate.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
)

from vmroll.plan.reasons import Reason

ALLOCATION_RETRY_SECONDS = 300.0

_IMAGE_CODES = frozenset(
    {"platformimagenotfound", "galleryimagenotfound", "imagenotfound", "imageversiondeprecated"}
)
_TERMS_CODES = frozenset(
    {"resourcepurchasevalidationfailed", "marketplacepurchaseeligibilityfailed"}
)
_ACCESS_CODES = frozenset(
    {
        "authorizationfailed",
        "authenticationfailed",
        "invalidauthenticationtoken",
        "invalidauthenticationtokentenant",
        "linkedauthorizationfailed",
    }
)
_BUSY_CODES = frozenset(
    {"conflict", "anotheroperationinprogress", "operationpreempted", "retryableerror"}
)
_ALLOCATION_CODES = frozenset({"allocationfailed", "zonalallocationfailed"})
_QUOTA_CODES = frozenset({"quotaexceeded", "resourcequotaexceeded"})
_REJECTED_CODES = frozenset({"operationnotallowed", "resourcegroupnotfound"})


class AzureGatewayError(Exception):
    """Base of every error the Azure boundary raises."""


class TransientAzureError(AzureGatewayError):
    """Try again later; `retry_after` is Azure's own hint in seconds, when it gave one."""

    def __init__(self, message: str, *, retry_after: float | None = None, code: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after
        self.code = code


class Throttled(TransientAzureError):
    """Azure answered 429: no sooner than `retry_after`; `policy` names the bucket that was
    empty (Compute's policy, `HighCostGet` say; empty when Azure named none, as ARM's own).
    What Azure reported reached the pacing on the way (headroom.py): passes wait it out
    without backing off, like `WriteBudgetExhausted`."""

    def __init__(self, message: str, *, retry_after: float | None, policy: str) -> None:
        super().__init__(message, retry_after=retry_after, code="TooManyRequests")
        self.policy = policy


class WriteBudgetExhausted(TransientAzureError):
    """vmroll's own write budget (azure/budget.py) has no write for the wait a caller accepts;
    retry after `retry_after` seconds. Pacing, not Azure's refusal: passes wait it out without
    backing off."""


class TerminalAzureError(AzureGatewayError):
    """The spec cannot succeed as written; `reason` names the Stalled condition's reason."""

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


class AzureAccessError(TerminalAzureError):
    """vmroll's identity may not do this: fix the role assignment or the credential."""

    def __init__(self, message: str) -> None:
        super().__init__(Reason.ACCESS_DENIED, message)


def classify(error: Exception, *, action: str) -> AzureGatewayError:
    """Map an azure-core exception to the hierarchy; `action` says what vmroll was doing."""
    if isinstance(error, AzureGatewayError):
        return error
    if isinstance(error, ClientAuthenticationError):
        return AzureAccessError(f"{action}: authentication failed: {_summary(error)}")
    if isinstance(error, HttpResponseError):
        return _classify_response(error, action)
    if isinstance(error, AzureError):
        return TransientAzureError(f"{action}: {type(error).__name__}: {error.message}")
    raise TypeError(f"not an Azure error: {type(error).__name__}") from error


@contextmanager
def azure_errors(action: str) -> Iterator[None]:
    """Re-raise azure-core exceptions raised in the block as classified errors."""
    try:
        yield
    except AzureError as error:
        raise classify(error, action=action) from error


def _classify_response(error: HttpResponseError, action: str) -> AzureGatewayError:
    status = error.status_code or 0
    codes = _codes(error)
    message = f"{action}: {_summary(error)}"
    if status == 429 or "toomanyrequests" in codes:
        return Throttled(message, retry_after=_retry_after(error), policy=_throttled_policy(error))
    if codes & _TERMS_CODES:
        return TerminalAzureError(Reason.TERMS_NOT_ACCEPTED, message)
    if codes & _QUOTA_CODES or ("operationnotallowed" in codes and "quota" in message.lower()):
        return TerminalAzureError(Reason.QUOTA_EXCEEDED, message)
    if "skunotavailable" in codes:
        return TerminalAzureError(Reason.SKU_NOT_AVAILABLE, message)
    if codes & _IMAGE_CODES or (codes & {"notfound", "invalidparameter"} and _about_image(error)):
        return TerminalAzureError(Reason.IMAGE_NOT_AVAILABLE, message)
    if codes & {"invalidparameter", "vmmarketplaceinvalidinput"}:
        return TerminalAzureError(Reason.INVALID_PARAMETER, message)
    if codes & _ALLOCATION_CODES:
        retry_after = max(_retry_after(error) or 0.0, ALLOCATION_RETRY_SECONDS)
        return TransientAzureError(message, retry_after=retry_after, code="AllocationFailed")
    if status in (401, 403) or codes & _ACCESS_CODES:
        return AzureAccessError(message)
    if codes & _REJECTED_CODES:
        return TerminalAzureError(Reason.AZURE_REQUEST_REJECTED, message)
    if status in (408, 409) or status >= 500 or codes & _BUSY_CODES:
        return TransientAzureError(message, retry_after=_retry_after(error), code=_code(error))
    if 200 <= status < 300:
        # A long-running operation that ended Failed without a code vmroll knows.
        return TransientAzureError(message, retry_after=_retry_after(error), code=_code(error))
    return TerminalAzureError(Reason.AZURE_REQUEST_REJECTED, message)


def _codes(error: HttpResponseError) -> frozenset[str]:
    """The top-level code and the codes in `details` (deployments wrap the real one there)."""
    if error.error is None:
        return frozenset()
    found = [error.error.code, *(detail.code for detail in error.error.details)]
    return frozenset(code.lower() for code in found if code)


def _throttled_policy(error: HttpResponseError) -> str:
    """The policy a `TooManyRequests` detail names as its target (Compute's)."""
    details = error.error.details if error.error is not None else []
    for detail in details:
        if (detail.code or "").lower() == "toomanyrequests" and detail.target:
            return str(detail.target)
    return ""


def _code(error: HttpResponseError) -> str:
    return (error.error.code or "") if error.error is not None else ""


def _about_image(error: HttpResponseError) -> bool:
    details = error.error
    if details is None:
        return False
    target = (details.target or "").lower()
    text = (details.message or "").lower()
    return target.startswith("imagereference") or "image" in text


def _summary(error: AzureError) -> str:
    """Code and message only: never request headers, which carry the bearer token."""
    if isinstance(error, HttpResponseError) and error.error is not None:
        status = f"HTTP {error.status_code} " if error.status_code else ""
        return f"{status}{error.error.code}: {error.error.message}"
    if isinstance(error, HttpResponseError) and error.status_code:
        return f"HTTP {error.status_code} {error.reason or ''}".rstrip()
    return str(error.message)


def _retry_after(error: HttpResponseError) -> float | None:
    """ARM sends Retry-After as integer seconds (and never as an HTTP date)."""
    if error.response is None:
        return None
    headers: Mapping[str, str] = getattr(error.response, "headers", {})
    milliseconds = headers.get("retry-after-ms") or headers.get("x-ms-retry-after-ms")
    if milliseconds:
        try:
            return float(milliseconds) / 1000
        except ValueError:
            pass
    seconds = headers.get("Retry-After")
    if seconds:
        try:
            return float(seconds)
        except ValueError:
            return None
    return None
