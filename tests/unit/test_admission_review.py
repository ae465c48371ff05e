"""The webhook's decision on one AdmissionReview: refused naming the field when the operator's
models would not parse the object, admitted otherwise, and never in the way of deletion,
metadata-only updates or status."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from vmroll.admission.review import refusal_of, review
from vmroll.api.pool import VirtualMachinePool

SUBSCRIPTION = "00000000-0000-4000-8000-000000000001"
SUBNET = (
    f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-net/providers/"
    "Microsoft.Network/virtualNetworks/vnet/subnets/default"
)
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBwXr7qJ8Ue6bS2dGf0a9bT4XqvD2Fh1nQj7k3mPz5Lc me@host"
POOL: dict[str, Any] = {
    "apiVersion": "vmroll.io/v1alpha1",
    "kind": "VirtualMachinePool",
    "metadata": {"name": "web", "namespace": "team"},
    "spec": {
        "accountRef": {"name": "prod"},
        "resourceGroup": "rg-web",
        "location": "westeurope",
        "image": {"marketplace": {"publisher": "Canonical", "offer": "ubuntu", "sku": "server"}},
        "template": {"vmSize": "Standard_D2s_v5", "subnetId": SUBNET,
                     "sshPublicKeys": [{"keyData": KEY}]},
    },
}  # fmt: skip
ACCOUNT: dict[str, Any] = {
    "apiVersion": "vmroll.io/v1alpha1",
    "kind": "AzureAccount",
    "metadata": {"name": "prod"},
    "spec": {
        "subscriptionId": SUBSCRIPTION,
        "tenantId": SUBSCRIPTION,
        "auth": {"defaultChain": {}},
        "allowedResourceGroups": ["*"],
    },
}


def _with(document: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    *parents, leaf = path.split(".")
    node = changed
    for key in parents:
        node = node.setdefault(key, {})
    node[leaf] = value
    return changed


def _request(
    obj: dict[str, Any], operation: str = "CREATE", old: dict[str, Any] | None = None
) -> dict[str, Any]:
    kind = {"group": "vmroll.io", "version": "v1alpha1", "kind": obj["kind"]}
    return {"uid": "u-1", "kind": kind, "operation": operation, "object": obj, "oldObject": old}


TOO_BIG = "1.0.2147483648"


@pytest.mark.parametrize(
    ("document", "field", "words"),
    [
        pytest.param(
            _with(POOL, "spec.image.marketplace.version", TOO_BIG),
            "spec.image.marketplace.version",
            "at most 2147483647",
            id="marketplace-version-part-beyond-32-bits",
        ),
        pytest.param(
            _with(POOL, "spec.image", {"gallery": {"imageId": SUBNET, "version": "1.2.3"}}),
            "spec.image.gallery.imageId",
            "should match pattern",
            id="gallery-id-that-is-a-subnet",
        ),
        pytest.param(
            _with(POOL, "spec.template.tags", {"": "x"}),
            "spec.template.tags",
            "1 to 512",
            id="empty-tag-name",
        ),
        pytest.param(
            _with(
                ACCOUNT,
                "spec.allowedNamespaces.selector",
                {"matchLabels": {"a" * 254 + "/team": "web"}},
            ),
            "spec.allowedNamespaces.selector.matchLabels",
            "at most 253",
            id="label-prefix-too-long",
        ),
        pytest.param(
            _with(
                ACCOUNT,
                "spec.allowedNamespaces.selector",
                {"matchExpressions": [{"key": "team", "operator": "In"}]},
            ),
            "spec.allowedNamespaces.selector.matchExpressions.0",
            "non-empty for In",
            id="in-without-values",
        ),
    ],
)
async def test_refuses_what_the_operator_could_not_act_on_naming_the_field(
    document: dict[str, Any], field: str, words: str
) -> None:
    answer = await review({"request": _request(document)})

    response = answer["response"]
    assert response["uid"] == "u-1"
    assert response["allowed"] is False
    assert response["status"]["code"] == 422
    assert field in response["status"]["message"]
    assert words in response["status"]["message"]


@pytest.mark.parametrize("document", [POOL, ACCOUNT], ids=["pool", "account"])
async def test_admits_what_parses(document: dict[str, Any]) -> None:
    answer = await review({"request": _request(document)})
    assert answer == {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "response": {"uid": "u-1", "allowed": True},
    }


async def test_judges_what_the_user_wrote_not_the_status() -> None:
    with_status = _with(POOL, "status", {"conditions": "not a list"})
    assert await refusal_of(_request(with_status)) is None


BAD = _with(POOL, "spec.image.marketplace.version", TOO_BIG)


@pytest.mark.parametrize(
    "request_",
    [
        pytest.param(_request(BAD, "UPDATE", old=_with(BAD, "metadata.labels", {})),
                     id="metadata-only-update"),
        pytest.param(_request(_with(BAD, "metadata.deletionTimestamp", "2026-01-01T00:00:00Z"),
                              "UPDATE", old=POOL), id="being-deleted"),
        pytest.param({**_request(BAD, "UPDATE", old=POOL), "subResource": "status"},
                     id="status-subresource"),
        pytest.param(_request(BAD, "DELETE"), id="delete"),
    ],
)  # fmt: skip
async def test_never_stands_in_the_way_of_deletion_metadata_or_status(
    request_: dict[str, Any],
) -> None:
    assert await refusal_of(request_) is None


async def test_refuses_a_spec_change_the_operator_could_not_act_on() -> None:
    message = await refusal_of(_request(BAD, "UPDATE", old=POOL))
    assert message is not None
    assert "spec.image.marketplace.version" in message


async def test_further_pool_checks_run_on_the_parsed_pool_and_the_old_one() -> None:
    seen: list[tuple[str, str | None]] = []

    async def deny(pool: VirtualMachinePool, old: VirtualMachinePool | None) -> str | None:
        seen.append((pool.spec.template.vm_size, old.spec.template.vm_size if old else None))
        return "policy patched-30d denies it"

    bigger = _with(POOL, "spec.template.vmSize", "Standard_D4s_v5")
    assert await refusal_of(_request(POOL), [deny]) == "policy patched-30d denies it"
    assert await refusal_of(_request(bigger, "UPDATE", old=POOL), [deny]) is not None
    assert await refusal_of(_request(bigger, "UPDATE", old=BAD), [deny]) is not None
    assert await refusal_of(_request(ACCOUNT), [deny]) is None
    assert seen == [
        ("Standard_D2s_v5", None),
        ("Standard_D4s_v5", "Standard_D2s_v5"),
        ("Standard_D4s_v5", None),
    ]


async def test_refuses_a_kind_it_does_not_know() -> None:
    message = await refusal_of(_request({"kind": "ImagePolicy", "metadata": {"name": "p"}}))
    assert message is not None
    assert "ImagePolicy" in message
