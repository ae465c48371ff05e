"""What Azure refuses synchronously on a VM create, with its status, code and wording."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.compute.aio import ComputeManagementClient

from vmroll.emulator.catalog import Catalog, Quota
from vmroll.emulator.server import Emulator

pytestmark = pytest.mark.integration

Mutation = Callable[[dict[str, Any]], None]


def _drop(*path: str) -> Mutation:
    def mutate(body: dict[str, Any]) -> None:
        node = body
        for step in path[:-1]:
            node = node[step]
        del node[path[-1]]

    return mutate


def _set(value: Any, *path: str) -> Mutation:
    def mutate(body: dict[str, Any]) -> None:
        node = body
        for step in path[:-1]:
            node = node[step]
        node[path[-1]] = value

    return mutate


def _subnet(subnet_id: str) -> Mutation:
    def mutate(body: dict[str, Any]) -> None:
        network = body["properties"]["networkProfile"]
        ip = network["networkInterfaceConfigurations"][0]["properties"]["ipConfigurations"][0]
        ip["properties"]["subnet"]["id"] = subnet_id

    return mutate


MISSING_SUBNET = (
    "/subscriptions/00000000-0000-4000-8000-00000000a001/resourceGroups/rg-vmroll/providers/"
    "Microsoft.Network/virtualNetworks/vnet-vmroll/subnets/missing"
)


@pytest.mark.parametrize(
    ("name", "mutate", "status", "code", "message_part"),
    [
        ("bad_name-", None, 400, "InvalidParameter", "must not end with a period or a hyphen"),
        ("web-0", _set({"a/b": "x"}, "tags"), 400, "InvalidTagNameCharacters", "'a/b'"),
        ("web-0", _set({"a%b": "x"}, "tags"), 400, "InvalidTagNameCharacters", "'a%b'"),
        ("web-0", _drop("location"), 400, "LocationRequired", "location property is required"),
        (
            "web-0",
            _drop("properties", "hardwareProfile"),
            400,
            "InvalidParameter",
            "Required parameter 'hardwareProfile.vmSize' is missing (null).",
        ),
        (
            "web-0",
            _drop("properties", "storageProfile", "imageReference"),
            400,
            "InvalidParameter",
            "'storageProfile.imageReference'",
        ),
        (
            "web-0",
            _drop("properties", "osProfile", "adminUsername"),
            400,
            "InvalidParameter",
            "'osProfile.adminUsername'",
        ),
        ("web-0", _drop("properties", "networkProfile"), 400, "InvalidParameter", "networkProfile"),
        (
            "web-0",
            _drop("properties", "networkProfile", "networkApiVersion"),
            400,
            "InvalidParameter",
            "networkProfile.networkApiVersion",
        ),
        (
            "web-0",
            _set("Standard_NC6s_v3", "properties", "hardwareProfile", "vmSize"),
            409,
            "SkuNotAvailable",
            "is currently not available in location 'westeurope'",
        ),
        ("web-0", _subnet(MISSING_SUBNET), 400, "InvalidResourceReference", MISSING_SUBNET),
        ("web-0", _set("mars", "location"), 400, "LocationNotAvailableForResourceType", "'mars'"),
        (
            "web-0",
            _set(
                {"publisher": "Canonical", "offer": "nope", "sku": "server", "version": "latest"},
                "properties",
                "storageProfile",
                "imageReference",
            ),
            404,
            "PlatformImageNotFound",
            "Canonical:nope:server:latest",
        ),
    ],
    ids=[
        "name",
        "tag-slash",
        "tag-percent",
        "location",
        "size",
        "image",
        "admin",
        "network",
        "network-api-version",
        "sku",
        "subnet",
        "region",
        "unknown-image",
    ],
)
async def test_invalid_creates_are_refused(
    emulator: Emulator,
    compute_client: ComputeManagementClient,
    vm_body: Any,
    name: str,
    mutate: Mutation | None,
    status: int,
    code: str,
    message_part: str,
) -> None:
    body = vm_body(size="Standard_D2s_v5")
    if mutate is not None:
        mutate(body)

    with pytest.raises(HttpResponseError) as raised:
        await compute_client.virtual_machines.begin_create_or_update(
            emulator.credentials.resource_group, name, body
        )

    assert raised.value.status_code == status
    assert raised.value.error is not None
    assert raised.value.error.code == code
    assert message_part in raised.value.error.message
    assert emulator.vms() == []


@pytest.fixture
def emulator_catalog(emulator_catalog: Catalog) -> Catalog:
    subscription = emulator_catalog.subscriptions[0]
    quotas = {**subscription.quotas, "westeurope": Quota(total_regional_cores=6)}
    limited = subscription.model_copy(update={"quotas": quotas})
    return emulator_catalog.model_copy(update={"subscriptions": [limited]})


async def test_regional_cores_quota_is_enforced_with_azures_wording(
    emulator: Emulator, compute_client: ComputeManagementClient, vm_body: Any
) -> None:
    group = emulator.credentials.resource_group
    first = await compute_client.virtual_machines.begin_create_or_update(
        group, "web-0", vm_body(size="Standard_D4s_v5")
    )
    await first.result()

    with pytest.raises(HttpResponseError) as raised:
        await compute_client.virtual_machines.begin_create_or_update(
            group, "web-1", vm_body(size="Standard_D4s_v5")
        )

    assert raised.value.status_code == 409
    assert raised.value.error is not None
    assert raised.value.error.code == "OperationNotAllowed"
    assert (
        "Operation could not be completed as it results in exceeding approved Total Regional "
        "Cores quota. Additional details - Deployment Model: Resource Manager, Location: "
        "westeurope, Current Limit: 6, Current Usage: 4, Additional Required: 4, (Minimum) New "
        "Limit Required: 8."
    ) in raised.value.error.message


async def test_a_body_that_is_not_json_is_refused(emulator: Emulator, arm: Any) -> None:
    path = (
        f"/subscriptions/{emulator.credentials.subscription_id}/resourceGroups/rg-vmroll"
        "/providers/Microsoft.Compute/virtualMachines/web-0"
    )
    async with arm.session.put(
        emulator.base_url + path,
        data=b"{not json",
        params={"api-version": "2024-07-01"},
        headers={"Authorization": f"Bearer {arm.token}", "Content-Type": "application/json"},
    ) as response:
        body = await response.json()

    assert response.status == 400
    assert body["error"]["code"] == "InvalidRequestContent"


async def test_etag_preconditions(emulator: Emulator, arm: Any, vm_body: Any) -> None:
    path = (
        f"/subscriptions/{emulator.credentials.subscription_id}/resourceGroups/rg-vmroll"
        "/providers/Microsoft.Compute/virtualMachines/web-0"
    )
    missing_if_match, _, _ = await arm.call("PUT", path, json=vm_body(), headers={"If-Match": "*"})
    created, _, body = await arm.call("PUT", path, json=vm_body(), headers={"If-None-Match": "*"})
    exists, _, _ = await arm.call("PUT", path, json=vm_body(), headers={"If-None-Match": "*"})
    stale, _, _ = await arm.call("PUT", path, json=vm_body(), headers={"If-Match": '"999"'})

    assert (missing_if_match, created, exists, stale) == (412, 201, 412, 412)
    assert body["etag"] == '"1"'


async def test_unknown_arm_paths_answer_in_arm_shape(emulator: Emulator, arm: Any) -> None:
    path = f"/subscriptions/{emulator.credentials.subscription_id}/providers/Microsoft.Nope/things"

    status, _, body = await arm.call("GET", path)

    assert status == 404
    assert body["error"]["code"] == "InvalidResourceType"


@pytest.mark.parametrize(
    ("mutate", "code", "message_part"),
    [
        (_set("eastus", "location"), "InvalidResourceLocation", "already exists in location"),
        (
            _set(
                {
                    "publisher": "Canonical",
                    "offer": "ubuntu-22_04-lts",
                    "sku": "server",
                    "version": "latest",
                },
                "properties",
                "storageProfile",
                "imageReference",
            ),
            "PropertyChangeNotAllowed",
            "Changing property 'storageProfile.imageReference' is not allowed.",
        ),
        (
            _set("root2", "properties", "osProfile", "adminUsername"),
            "PropertyChangeNotAllowed",
            "'osProfile.adminUsername'",
        ),
    ],
    ids=["region", "image", "admin"],
)
async def test_a_put_cannot_change_what_azure_fixes_at_create(
    emulator: Emulator,
    compute_client: ComputeManagementClient,
    vm_body: Any,
    mutate: Mutation,
    code: str,
    message_part: str,
) -> None:
    group = emulator.credentials.resource_group
    await (
        await compute_client.virtual_machines.begin_create_or_update(group, "web-0", vm_body())
    ).result()
    body = vm_body()
    mutate(body)

    with pytest.raises(HttpResponseError) as raised:
        await compute_client.virtual_machines.begin_create_or_update(group, "web-0", body)

    assert raised.value.status_code == 409
    assert raised.value.error is not None
    assert raised.value.error.code == code
    assert message_part in raised.value.error.message
