"""Operation records: their persisted form, and which resume tokens vmroll will follow."""

from __future__ import annotations

import base64
import json

import pytest

from vmroll.api.capture_status import CaptureOperationKind
from vmroll.api.pool_status import OperationKind
from vmroll.azure.lro import LroKind, token_targets

ARM = "https://management.example.test"
VM = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm-0"


def token(request_url: str | None, **headers: str) -> str:
    """azure-core's token layout: base64 JSON of the first request and response."""
    data = {
        "request": None if request_url is None else {"method": "PUT", "url": request_url},
        "response": {"status_code": 201, "headers": headers, "content": ""},
        "context": {"deserialized_data": None},
    }
    return base64.b64encode(json.dumps({"version": 1, "data": data}).encode()).decode()


def test_every_kind_the_status_records_is_one_the_boundary_resumes() -> None:
    """reconcile/act.py and reconcile/capture_pass.py rebuild a record from the status by value."""
    recorded = {kind.value for kind in OperationKind} | {
        kind.value for kind in CaptureOperationKind
    }
    assert recorded == {kind.value for kind in LroKind}


@pytest.mark.parametrize(
    ("candidate", "followed"),
    [
        pytest.param(token(f"{ARM}{VM}"), True, id="request-only"),
        pytest.param(
            token(
                f"{ARM}{VM}",
                **{"Azure-AsyncOperation": f"{ARM}/subscriptions/s/operations/1"},
                Location=f"{ARM}/subscriptions/s/operations/1?monitor=true",
            ),
            True,
            id="polling-urls-on-arm",
        ),
        pytest.param(
            token(f"{ARM}{VM}", Location="https://attacker.example/collect"),
            False,
            id="location-elsewhere",
        ),
        pytest.param(token("http://management.example.test/x"), False, id="plain-http"),
        pytest.param(token(None), False, id="no-url-at-all"),
        pytest.param("not base64 !", False, id="garbage"),
        pytest.param(base64.b64encode(b"\x80\x04pickle").decode(), False, id="old-pickle"),
    ],
)
def test_only_tokens_pointing_at_the_resource_manager_are_followed(
    candidate: str, followed: bool
) -> None:
    assert token_targets(candidate, ARM) is followed
