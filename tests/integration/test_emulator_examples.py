"""Every VM answer carries the fields of Microsoft's published x-ms-examples response.

Each test sends the example's request (adapted to the emulator's catalog: region, size, image)
and checks that every key path of the example's response is present in the emulator's with the
same kind of value (object, array or scalar); values are not compared. The paths left out are
listed with the reason. The examples are the verbatim copies in
`azure_examples/` beside this file (their sources are in its SOURCES.md).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from vmroll.emulator.catalog import Catalog
from vmroll.emulator.server import Emulator

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).parent / "azure_examples"
SUBSCRIPTION = "00000000-0000-4000-8000-00000000a001"
GROUP_ID = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-vmroll"
UBUNTU = {
    "publisher": "Canonical",
    "offer": "ubuntu-24_04-lts",
    "sku": "server",
    "version": "latest",
}
RABBIT = {"publisher": "bitnami", "offer": "rabbitmq", "sku": "rabbitmq", "version": "latest"}
RABBIT_PLAN = {"publisher": "bitnami", "product": "rabbitmq", "name": "rabbitmq"}
GALLERY_IMAGE = f"{GROUP_ID}/providers/Microsoft.Compute/galleries/vmrollGallery/images/ubuntu-web"
MANAGED_IMAGE = f"{GROUP_ID}/providers/Microsoft.Compute/images/golden-ubuntu-2404"
# The emulator's images are Linux; the Windows examples' osProfile differs for that reason only.
WINDOWS_ONLY = frozenset(
    {
        "properties.osProfile.windowsConfiguration",
        "properties.osProfile.windowsConfiguration.provisionVMAgent",
        "properties.osProfile.windowsConfiguration.enableAutomaticUpdates",
    }
)
NOTHING: frozenset[str] = frozenset()


def shape(value: Any, path: str = "") -> dict[str, str]:
    """Every key path of a JSON value with the kind at it; list elements merge under `[]`."""
    if isinstance(value, dict):
        paths = {path: "object"} if path else {}
        for key, item in value.items():
            paths.update(shape(item, f"{path}.{key}" if path else key))
        return paths
    if isinstance(value, list):
        paths = {path: "array"}
        for item in value:
            paths.update(shape(item, f"{path}[]"))
        return paths
    return {path: "scalar"}


def missing(example: Any, answer: Any, excused: frozenset[str] = frozenset()) -> list[str]:
    """Example paths the answer lacks or holds a different kind of value at."""
    ours = shape(answer)
    return sorted(
        f"{path} ({kind})"
        for path, kind in shape(example).items()
        if path not in excused and ours.get(path) != kind
    )


def example(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EXAMPLES / name).read_text())
    return loaded


def adapted_request(name: str, image: dict[str, str]) -> dict[str, Any]:
    """The example's request body, moved into the emulator's region, sizes and images."""
    body = copy.deepcopy(example(name)["parameters"]["parameters"])
    body["location"] = "westeurope"
    body["properties"]["hardwareProfile"]["vmSize"] = "Standard_D2s_v5"
    body["properties"]["storageProfile"]["imageReference"] = image
    return body


@pytest.fixture
def emulator_catalog(emulator_catalog: Catalog) -> Catalog:
    """The paid image's terms accepted, so the marketplace-plan example can run."""
    images = emulator_catalog.images
    terms = [t.model_copy(update={"accepted_in": [SUBSCRIPTION]}) for t in images.marketplace_terms]
    return emulator_catalog.model_copy(
        update={"images": images.model_copy(update={"marketplace_terms": terms})}
    )


def _vm_path(name: str) -> str:
    return f"{GROUP_ID}/providers/Microsoft.Compute/virtualMachines/{name}"


@pytest.mark.parametrize(
    ("name", "image", "plan", "excused"),
    [
        (
            "VirtualMachines_CreateOrUpdate__VirtualMachine_Create_WithSshAuthentication.json",
            UBUNTU,
            None,
            NOTHING,
        ),
        (
            "VirtualMachines_CreateOrUpdate__VirtualMachine_Create_WithAMarketplaceImagePlan.json",
            RABBIT,
            RABBIT_PLAN,
            WINDOWS_ONLY,
        ),
        (
            "VirtualMachines_CreateOrUpdate__VirtualMachine_Create_FromACustomImage.json",
            {"id": MANAGED_IMAGE},
            None,
            NOTHING,
        ),
        (
            "VirtualMachines_CreateOrUpdate__VirtualMachine_Create_FromAGeneralizedSharedImage"
            "__2024-03-01.json",
            {"id": GALLERY_IMAGE},
            None,
            NOTHING,
        ),
    ],
    ids=["ssh", "marketplace-plan", "custom-image", "shared-image"],
)
async def test_create_answers_carry_the_example_fields(
    emulator: Emulator,
    arm: Any,
    name: str,
    image: dict[str, str],
    plan: dict[str, str] | None,
    excused: frozenset[str],
) -> None:
    body = adapted_request(name, image)
    if plan is not None:
        body["plan"] = plan
    published = example(name)["responses"]

    status, _, answer = await arm.call("PUT", _vm_path("myVM"), json=body)

    assert status == 201, answer
    assert missing(published["201"]["body"], answer, excused) == []


async def test_get_carries_the_example_fields(emulator: Emulator, arm: Any) -> None:
    published = example("VirtualMachines_Get__VirtualMachine_Get.json")["responses"]["200"]["body"]
    properties = {
        k: copy.deepcopy(v)
        for k, v in published["properties"].items()
        if k not in ("vmId", "provisioningState", "timeCreated")
    }
    properties["hardwareProfile"] = {"vmSize": "Standard_D2s_v5"}
    properties["storageProfile"]["imageReference"] = UBUNTU
    properties["osProfile"] = {"adminUsername": "azureuser", "computerName": "myVM"}
    body = {"location": "westeurope", "tags": published["tags"], "properties": properties}
    status, _, created = await arm.call("PUT", _vm_path("myVM"), json=body)
    assert status == 201, created

    _, _, answer = await arm.call("GET", _vm_path("myVM"), params={"$expand": "userData"})

    excused = WINDOWS_ONLY | {
        *{p for p in shape(published) if p.startswith("resources")},  # extensions: not emulated
        "managedBy",  # only VMs in a flexible scale set are managed by one
    }
    assert missing(published, answer, excused) == []


async def test_instance_view_carries_the_example_fields(
    emulator: Emulator, arm: Any, vm_body: Any
) -> None:
    published = example("VirtualMachines_InstanceView__VirtualMachine_Get_InstanceView.json")
    await arm.call("PUT", _vm_path("myVM"), json=vm_body())

    _, _, answer = await arm.call("GET", _vm_path("myVM") + "/instanceView")

    body = published["responses"]["200"]["body"]
    # Boot diagnostics and patch assessment are not emulated.
    excused = frozenset(p for p in shape(body) if p.startswith(("bootDiagnostics", "patchStatus")))
    assert missing(body, answer, excused) == []


async def test_list_carries_the_example_fields(emulator: Emulator, arm: Any, vm_body: Any) -> None:
    published = example("VirtualMachines_List__VirtualMachine_List_MinimumSet_Gen.json")
    await arm.call("PUT", _vm_path("web-0"), json=vm_body())
    await arm.call("PUT", _vm_path("web-1"), json=vm_body())

    _, _, answer = await arm.call("GET", f"{GROUP_ID}/providers/Microsoft.Compute/virtualMachines")

    assert missing(published["responses"]["200"]["body"], answer) == []


@pytest.mark.parametrize(
    ("name", "method", "suffix", "params"),
    [
        (
            "VirtualMachines_Delete__VirtualMachine_Delete_Force__2024-03-01.json",
            "DELETE",
            "",
            {"forceDeletion": "true"},
        ),
        ("VirtualMachines_Reimage__VirtualMachine_Reimage.json", "POST", "/reimage", {}),
        (
            "VirtualMachines_Reimage__VirtualMachine_Reimage_NonEphemeralVMs.json",
            "POST",
            "/reimage",
            {},
        ),
    ],
    ids=["delete-force", "reimage", "reimage-non-ephemeral"],
)
async def test_accepted_answers_carry_the_example_headers(
    emulator: Emulator,
    compute_client: Any,
    vm_body: Any,
    arm: Any,
    name: str,
    method: str,
    suffix: str,
    params: dict[str, str],
) -> None:
    published = example(name)["responses"]
    poller = await compute_client.virtual_machines.begin_create_or_update(
        "rg-vmroll", "myVM", vm_body()
    )
    await poller.result()

    status, headers, _ = await arm.call(method, _vm_path("myVM") + suffix, params=params)

    assert str(status) in published
    assert set(published[str(status)].get("headers", {})) <= set(headers)
    assert "?monitor=true&api-version=" in headers["Location"]
