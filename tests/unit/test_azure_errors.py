"""Error classification: real azure-core exceptions built from ARM error bodies."""

from __future__ import annotations

import json
from typing import Any

import pytest
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.mgmt.core.exceptions import ARMErrorFormat

from vmroll.azure.errors import (
    ALLOCATION_RETRY_SECONDS,
    AzureAccessError,
    TerminalAzureError,
    Throttled,
    TransientAzureError,
    azure_errors,
    classify,
)
from vmroll.plan.reasons import Reason


class ArmResponse:
    """The parts of an azure-core HTTP response that `HttpResponseError` reads."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        self.status_code = status
        self.reason = "Reason"
        self.headers = headers or {}
        self.content_type = "application/json"
        self.request = None
        self._text = json.dumps(body)

    def text(self, encoding: str | None = None) -> str:
        return self._text

    def body(self) -> bytes:
        return self._text.encode()


def arm_error(
    status: int,
    code: str,
    message: str = "m",
    *,
    target: str | None = None,
    details: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
    kind: type[HttpResponseError] = HttpResponseError,
) -> HttpResponseError:
    error: dict[str, Any] = {"code": code, "message": message}
    if target:
        error["target"] = target
    if details:
        error["details"] = details
    response = ArmResponse(status, {"error": error}, headers)
    return kind(response=response, error_format=ARMErrorFormat)


QUOTA_MESSAGE = (
    "Operation could not be completed as it results in exceeding approved "
    "standardDASv5Family Cores quota."
)
TERMS_MESSAGE = "You have not accepted the legal terms on this subscription"


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        pytest.param(
            arm_error(409, "OperationNotAllowed", QUOTA_MESSAGE), Reason.QUOTA_EXCEEDED, id="quota"
        ),
        pytest.param(arm_error(409, "SkuNotAvailable"), Reason.SKU_NOT_AVAILABLE, id="sku"),
        pytest.param(
            arm_error(404, "PlatformImageNotFound", target="imageReference"),
            Reason.IMAGE_NOT_AVAILABLE,
            id="platform-image",
        ),
        pytest.param(
            arm_error(404, "GalleryImageNotFound"), Reason.IMAGE_NOT_AVAILABLE, id="gallery-image"
        ),
        pytest.param(
            arm_error(404, "NotFound", "The Image '/x/images/golden' cannot be found in 'eastus'"),
            Reason.IMAGE_NOT_AVAILABLE,
            id="managed-image",
        ),
        pytest.param(
            arm_error(400, "InvalidParameter", target="imageReference.version"),
            Reason.IMAGE_NOT_AVAILABLE,
            id="invalid-image-version",
        ),
        pytest.param(
            arm_error(400, "InvalidParameter", "bad size", target="hardwareProfile.vmSize"),
            Reason.INVALID_PARAMETER,
            id="invalid-parameter",
        ),
        pytest.param(
            arm_error(404, "ImageVersionDeprecated", target="imageReference"),
            Reason.IMAGE_NOT_AVAILABLE,
            id="deprecated-image-version",
        ),
        pytest.param(
            arm_error(
                400,
                "VMMarketplaceInvalidInput",
                "Creating a virtual machine from "
                "Marketplace image requires Plan information in the request.",
            ),
            Reason.INVALID_PARAMETER,
            id="plan-missing",
        ),
        pytest.param(
            arm_error(400, "ResourcePurchaseValidationFailed", TERMS_MESSAGE),
            Reason.TERMS_NOT_ACCEPTED,
            id="terms-create",
        ),
        pytest.param(
            arm_error(400, "MarketplacePurchaseEligibilityFailed"),
            Reason.TERMS_NOT_ACCEPTED,
            id="terms-deployment",
        ),
        pytest.param(arm_error(403, "AuthorizationFailed"), Reason.ACCESS_DENIED, id="forbidden"),
        pytest.param(
            arm_error(401, "InvalidAuthenticationToken", kind=ClientAuthenticationError),
            Reason.ACCESS_DENIED,
            id="unauthorized",
        ),
        pytest.param(arm_error(400, "BadRequest"), Reason.AZURE_REQUEST_REJECTED, id="unknown-400"),
        pytest.param(
            arm_error(404, "ResourceGroupNotFound", "Resource group 'rg' could not be found."),
            Reason.AZURE_REQUEST_REJECTED,
            id="resource-group",
        ),
        pytest.param(
            arm_error(
                200,
                "ResourceDeploymentFailure",
                details=[{"code": "SkuNotAvailable", "message": "size"}],
            ),
            Reason.SKU_NOT_AVAILABLE,
            id="code-in-details",
        ),
        pytest.param(
            arm_error(409, "OperationNotAllowed", "not allowed on the specified SKU"),
            Reason.AZURE_REQUEST_REJECTED,
            id="operation-not-allowed-409",
        ),
        pytest.param(
            arm_error(200, "OperationNotAllowed", QUOTA_MESSAGE),
            Reason.QUOTA_EXCEEDED,
            id="quota-as-failed-operation",
        ),
        pytest.param(
            arm_error(200, "ResourceGroupNotFound", "Resource group 'rg' could not be found."),
            Reason.AZURE_REQUEST_REJECTED,
            id="resource-group-as-failed-operation",
        ),
        pytest.param(
            arm_error(
                200,
                "ResourceDeploymentFailure",
                details=[{"code": "PlatformImageNotFound", "message": "gone"}],
            ),
            Reason.IMAGE_NOT_AVAILABLE,
            id="image-as-failed-operation",
        ),
        pytest.param(
            arm_error(200, "InvalidParameter", "bad size", target="hardwareProfile.vmSize"),
            Reason.INVALID_PARAMETER,
            id="invalid-parameter-as-failed-operation",
        ),
        pytest.param(
            arm_error(409, "QuotaExceeded"), Reason.QUOTA_EXCEEDED, id="quota-exceeded-code"
        ),
    ],
)
def test_terminal_errors_carry_their_reason(error: HttpResponseError, reason: str) -> None:
    classified = classify(error, action="create VM vm-0")
    assert isinstance(classified, TerminalAzureError)
    assert classified.reason == reason
    assert classified.message.startswith("create VM vm-0: ")


@pytest.mark.parametrize(
    ("error", "retry_after"),
    [
        pytest.param(
            arm_error(429, "OperationNotAllowed", headers={"Retry-After": "17"}), 17.0, id="429"
        ),
        pytest.param(
            arm_error(503, "ServiceUnavailable", headers={"Retry-After": "5"}), 5.0, id="503"
        ),
        pytest.param(arm_error(500, "InternalServerError"), None, id="500"),
        pytest.param(arm_error(409, "Conflict"), None, id="conflict"),
        pytest.param(arm_error(409, "AnotherOperationInProgress"), None, id="in-progress"),
        pytest.param(arm_error(200, "OperationPreempted"), None, id="preempted-operation"),
        pytest.param(
            arm_error(200, "AllocationFailed"), ALLOCATION_RETRY_SECONDS, id="allocation-failed"
        ),
        pytest.param(
            arm_error(429, "TooManyRequests", headers={"retry-after-ms": "1500"}), 1.5, id="ms"
        ),
        pytest.param(
            arm_error(
                409,
                "OperationNotAllowed",
                details=[{"code": "TooManyRequests", "message": "{}"}],
                headers={"Retry-After": "20"},
            ),
            20.0,
            id="compute-throttling-not-as-429",
        ),
        pytest.param(arm_error(502, "BadGateway"), None, id="502"),
        pytest.param(arm_error(409, "SomethingUnknown"), None, id="unknown-409"),
        pytest.param(arm_error(200, "ResourceDeploymentFailure"), None, id="unknown-failed-op"),
        pytest.param(
            arm_error(
                200,
                "ResourceDeploymentFailure",
                details=[{"code": "AllocationFailed", "message": "capacity"}],
            ),
            ALLOCATION_RETRY_SECONDS,
            id="allocation-in-details",
        ),
        pytest.param(ServiceRequestError("connection refused"), None, id="connect"),
        pytest.param(ServiceResponseError("connection reset"), None, id="read"),
    ],
)
def test_transient_errors_carry_retry_after(error: Exception, retry_after: float | None) -> None:
    classified = classify(error, action="list VMs")
    assert isinstance(classified, TransientAzureError)
    assert classified.retry_after == retry_after


@pytest.mark.parametrize(
    ("error", "policy"),
    [
        pytest.param(
            arm_error(
                429,
                "OperationNotAllowed",
                details=[{"code": "TooManyRequests", "target": "HighCostGet", "message": "{}"}],
                headers={"Retry-After": "12"},
            ),
            "HighCostGet",
            id="compute-names-its-policy",
        ),
        pytest.param(arm_error(429, "TooManyRequests"), "", id="arm-names-none"),
    ],
)
def test_a_429_is_throttling_naming_the_policy_azure_named(
    error: HttpResponseError, policy: str
) -> None:
    classified = classify(error, action="list VMs")
    assert isinstance(classified, Throttled)
    assert classified.policy == policy


def test_quota_wins_over_conflict_status() -> None:
    """Compute answers quota with 409, the status of a conflicting operation."""
    classified = classify(arm_error(409, "OperationNotAllowed", QUOTA_MESSAGE), action="x")
    assert not isinstance(classified, TransientAzureError)


def test_operation_not_allowed_without_quota_is_terminal_but_not_quota() -> None:
    """The reference: an operation "not allowed on specified SKU", which no retry changes."""
    classified = classify(arm_error(409, "OperationNotAllowed", "not on this SKU"), action="x")
    assert isinstance(classified, TerminalAzureError)
    assert classified.reason == Reason.AZURE_REQUEST_REJECTED


def test_credential_failure_without_response_is_access_denied() -> None:
    classified = classify(ClientAuthenticationError("AADSTS7000215: bad secret"), action="x")
    assert isinstance(classified, AzureAccessError)
    assert classified.reason == Reason.ACCESS_DENIED


def test_context_manager_raises_classified_error_chained_to_azure_one() -> None:
    original = arm_error(404, "NotFound", "vm gone", kind=ResourceNotFoundError)
    with pytest.raises(TerminalAzureError) as raised, azure_errors("delete VM vm-0"):
        raise original
    assert raised.value.__cause__ is original


def test_non_azure_errors_pass_through() -> None:
    with pytest.raises(KeyError), azure_errors("x"):
        raise KeyError("k")
