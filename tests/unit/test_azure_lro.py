"""Operation records: their persisted form, and which resume tokens vmroll will follow."""

from __future__ import annotations

import base64
import json

import pytest
from azure.core import PipelineClient
from azure.mgmt.core.polling.arm_polling import ARMPolling

from vmroll.api.capture_status import CaptureOperationKind
from vmroll.api.pool_status import OperationKind
from vmroll.azure.lro import LroKind, slim_token, token_targets

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


def full_token(body: dict[str, object], **headers: str) -> str:
    """azure-core's token as it makes it: the first body as base64 bytes and decoded again."""
    content = base64.b64encode(json.dumps(body).encode()).decode()
    data = {
        "request": {"method": "PUT", "url": f"{ARM}{VM}", "headers": {}},
        "response": {"status_code": 201, "headers": headers, "content": content},
        "context": {"deserialized_data": body},
    }
    return base64.b64encode(json.dumps({"version": 1, "data": data}).encode()).decode()


def resumed(token_: str) -> ARMPolling:
    """The poller azure-core rebuilds from a token, as far as it goes without a request."""
    polling = ARMPolling()
    client, initial, callback = polling.from_continuation_token(
        token_, client=PipelineClient(base_url=ARM), deserialization_callback=lambda r: r
    )
    polling.initialize(client, initial, callback)
    return polling


VM_BODY: dict[str, object] = {
    "id": VM,
    "name": "vm-0",
    "properties": {"provisioningState": "Creating", "osProfile": {"computerName": "x" * 2000}},
}


def test_a_slim_token_with_a_monitor_url_drops_the_body_and_resumes_the_same() -> None:
    monitor = f"{ARM}/subscriptions/s/providers/Microsoft.Compute/operations/1"
    full = full_token(VM_BODY, **{"Azure-AsyncOperation": monitor})
    slim = slim_token(full)
    assert len(slim) < len(full) / 4
    data = json.loads(base64.b64decode(slim))["data"]
    assert data["response"]["content"] == ""
    assert "deserialized_data" not in data["context"]
    assert token_targets(slim, ARM)
    before, after = resumed(full), resumed(slim)
    assert after.status() == before.status() == "InProgress"
    assert after._operation.get_polling_url() == before._operation.get_polling_url() == monitor
    assert after._operation.get_final_get_url(after._pipeline_response) == f"{ARM}{VM}"


def test_a_token_without_a_monitor_url_keeps_the_body_its_status_comes_from() -> None:
    full = full_token(VM_BODY)
    slim = slim_token(full)
    data = json.loads(base64.b64decode(slim))["data"]
    assert json.loads(base64.b64decode(data["response"]["content"])) == VM_BODY
    assert "deserialized_data" not in data["context"]
    assert resumed(slim).status() == resumed(full).status() == "Creating"
