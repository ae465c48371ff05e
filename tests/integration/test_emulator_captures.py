"""Capturing a VM into a gallery image version with the real SDK, as an image pipeline does.

Generalize (after deallocation), then `GalleryImageVersions_CreateOrUpdate` with
`storageProfile.source.virtualMachineId` (the shape of Microsoft's
GalleryImageVersion_Create_WithVmAsSource example in `azure_examples/`): a long-running operation
during which the version is `Creating` and its regions replicate one after another, on a clock
the test moves. Azure's refusals of a source that does not fit its definition, a version's fixed
source, and deletion while a capture runs.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.compute.aio import ComputeManagementClient

from vmroll.azure.captures import (
    TargetRegionSpec,
    VersionRequest,
    begin_create_version,
    begin_delete_version,
    list_versions,
)
from vmroll.emulator.catalog import Catalog
from vmroll.emulator.errors import ArmError
from vmroll.emulator.server import Emulator
from vmroll.plan.ownership import CAPTURE_TAG, CAPTURE_UID_TAG
from vmroll.plan.versions import GalleryRegion

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).parent / "azure_examples"
GROUP = "rg-vmroll"
GALLERY = "vmrollGallery"
# Azure seconds of the default catalog, scaled by the fast catalog's timeScale (0.001).
CAPTURE, REPLICATE = 0.18, 0.3
EXTRA_DEFINITIONS = [
    {"name": "ubuntu-gen1", "hyperVGeneration": "V1"},
    {"name": "ubuntu-specialized", "osState": "Specialized"},
    {"name": "windows-golden", "osType": "Windows"},
    {"name": "ubuntu-arm", "architecture": "Arm64"},
]


@pytest.fixture
def emulator_clock(manual_clock: Any) -> Any:
    return manual_clock


@pytest.fixture
def emulator_catalog(emulator_catalog: Catalog) -> Catalog:
    """The fast catalog with definitions a Gen2 x64 Linux VM does not fit."""
    data = emulator_catalog.model_dump(by_alias=True)
    gallery = data["images"]["galleries"][0]
    base = {"publisher": "vmroll", "offer": "captures", "sku": "test", "versions": []}
    gallery["images"].extend({**base, **d, "offer": d["name"]} for d in EXTRA_DEFINITIONS)
    return Catalog.model_validate(data)


class Stack:
    """The emulator, an ARM session and the manual clock, with the steps of a capture."""

    def __init__(self, emulator: Emulator, arm: Any, clock: Any, vm_body: Any) -> None:
        self.emulator, self.arm, self.clock, self.vm_body = emulator, arm, clock, vm_body
        self.group = f"/subscriptions/{emulator.credentials.subscription_id}/resourceGroups/{GROUP}"

    def version_path(self, name: str) -> str:
        gallery = f"{self.group}/providers/Microsoft.Compute/galleries/{GALLERY}"
        return f"{gallery}/images/ubuntu-web/versions/{name}"

    def vm_id(self, name: str) -> str:
        return f"{self.group}/providers/Microsoft.Compute/virtualMachines/{name}"

    async def vm(self, name: str, *, deallocated: bool = True) -> str:
        status, _, _ = await self.arm.call("PUT", self.vm_id(name), json=self.vm_body())
        assert status == 201
        self.clock.advance(1)
        if deallocated:
            status, _, _ = await self.arm.call("POST", self.vm_id(name) + "/deallocate")
            assert status == 202
            self.clock.advance(1)
        return self.vm_id(name)

    def version_body(self, vm_id: str, regions: list[str], **publishing: Any) -> dict[str, Any]:
        return {
            "location": "westeurope",
            "properties": {
                "publishingProfile": {
                    "targetRegions": [
                        {"name": r, "regionalReplicaCount": 2, "storageAccountType": "Standard_ZRS"}
                        for r in regions
                    ],
                    **publishing,
                },
                "storageProfile": {"source": {"virtualMachineId": vm_id}},
            },
        }

    def latest(self, definition: str, region: str) -> str | None:
        image_id = (
            f"{self.group}/providers/Microsoft.Compute/galleries/{GALLERY}/images/{definition}"
        )
        try:
            resolved = self.emulator.context.images.resolve_vm_image(
                self.emulator.credentials.subscription_id, region, {"id": image_id}, None
            )
        except ArmError:  # no version qualifies: Azure's InvalidParameter
            return None
        return resolved.exact_version


@pytest.fixture
def stack(emulator: Emulator, arm: Any, manual_clock: Any, vm_body: Any) -> Stack:
    return Stack(emulator, arm, manual_clock, vm_body)


async def replication(client: ComputeManagementClient, name: str) -> list[tuple[str, str]]:
    got = await client.gallery_image_versions.get(
        GROUP, GALLERY, "ubuntu-web", name, expand="ReplicationStatus"
    )
    return [(s.region, s.state) for s in got.replication_status.summary]


async def test_generalize_needs_a_deallocated_vm_and_is_final(
    stack: Stack, compute_client: ComputeManagementClient
) -> None:
    await stack.vm("builder", deallocated=False)
    with pytest.raises(HttpResponseError) as running:
        await compute_client.virtual_machines.generalize(GROUP, "builder")
    await stack.arm.call("POST", stack.vm_id("builder") + "/deallocate")
    stack.clock.advance(1)
    await compute_client.virtual_machines.generalize(GROUP, "builder")
    view = await compute_client.virtual_machines.instance_view(GROUP, "builder")
    with pytest.raises(HttpResponseError) as started:
        await compute_client.virtual_machines.begin_start(GROUP, "builder")

    assert (running.value.status_code, running.value.error.code) == (409, "OperationNotAllowed")
    assert "since the VM is running" in running.value.error.message
    assert [s.code for s in view.statuses] == [
        "ProvisioningState/succeeded",
        "OSState/generalized",
        "PowerState/deallocated",
    ]
    assert (started.value.status_code, started.value.error.code) == (409, "OperationNotAllowed")
    assert "since the VM is generalized" in started.value.error.message


async def test_a_capture_replicates_region_by_region_then_succeeds(
    stack: Stack, compute_client: ComputeManagementClient
) -> None:
    vm_id = await stack.vm("builder")
    await compute_client.virtual_machines.generalize(GROUP, "builder")
    body = stack.version_body(vm_id, ["westeurope", "eastus"], endOfLifeDate="2027-12-31T00:00:00Z")
    versions = compute_client.gallery_image_versions
    poller = await versions.begin_create_or_update(GROUP, GALLERY, "ubuntu-web", "2.0.0", body)
    creating = await versions.get(GROUP, GALLERY, "ubuntu-web", "2.0.0")
    at_start = await replication(compute_client, "2.0.0")
    latest_at_start = (
        stack.latest("ubuntu-web", "westeurope"),
        stack.latest("ubuntu-web", "eastus"),
    )
    stack.clock.advance(CAPTURE + REPLICATE + 0.01)
    halfway = await replication(compute_client, "2.0.0")
    latest_halfway = (
        stack.latest("ubuntu-web", "westeurope"),
        stack.latest("ubuntu-web", "eastus"),
    )
    stack.clock.advance(REPLICATE)
    done = await poller.result()
    at_end = await replication(compute_client, "2.0.0")

    assert creating.provisioning_state == "Creating"
    assert creating.storage_profile.source.virtual_machine_id == vm_id
    assert at_start == [("West Europe", "Replicating"), ("East US", "Replicating")]
    assert latest_at_start == ("1.3.0", "1.1.0")
    assert halfway == [("West Europe", "Completed"), ("East US", "Replicating")]
    assert latest_halfway == ("2.0.0", "1.1.0")
    assert at_end == [("West Europe", "Completed"), ("East US", "Completed")]
    assert (stack.latest("ubuntu-web", "westeurope"), stack.latest("ubuntu-web", "eastus")) == (
        "2.0.0",
        "2.0.0",
    )
    assert done.provisioning_state == "Succeeded"
    assert done.publishing_profile.end_of_life_date == datetime(2027, 12, 31, tzinfo=UTC)
    assert done.publishing_profile.published_date is not None
    assert [
        (r.name, r.regional_replica_count, r.storage_account_type)
        for r in done.publishing_profile.target_regions
    ] == [
        ("West Europe", 2, "Standard_ZRS"),
        ("East US", 2, "Standard_ZRS"),
    ]


async def test_a_version_excluded_from_latest_is_never_latest(
    stack: Stack, compute_client: ComputeManagementClient
) -> None:
    vm_id = await stack.vm("builder")
    await compute_client.virtual_machines.generalize(GROUP, "builder")
    body = stack.version_body(vm_id, ["westeurope"], excludeFromLatest=True)
    poller = await compute_client.gallery_image_versions.begin_create_or_update(
        GROUP, GALLERY, "ubuntu-web", "2.0.0", body
    )
    stack.clock.advance(CAPTURE + REPLICATE + 0.01)
    done = await poller.result()

    assert done.publishing_profile.exclude_from_latest
    assert stack.latest("ubuntu-web", "westeurope") == "1.3.0"


async def test_the_201_answer_has_the_example_shape(stack: Stack, arm: Any) -> None:
    vm_id = await stack.vm("builder")
    await arm.call("POST", vm_id + "/generalize")
    example = json.loads(
        (
            EXAMPLES
            / "GalleryImageVersions_CreateOrUpdate__GalleryImageVersion_Create_WithVmAsSource.json"
        ).read_text()
    )
    request = example["parameters"]["galleryImageVersion"]
    request = {
        **request,
        "location": "westeurope",
        "properties": {
            **request["properties"],
            "storageProfile": {"source": {"virtualMachineId": vm_id}},
        },
    }
    for region, name in zip(
        request["properties"]["publishingProfile"]["targetRegions"],
        ["West Europe", "East US"],
        strict=True,
    ):
        region["name"] = name
    path = stack.version_path("1.0.1")
    status, headers, answer = await arm.call("PUT", path, json=request, api_version="2024-03-03")
    expected = example["responses"]["201"]["body"]

    assert status == 201
    assert "Azure-AsyncOperation" in headers
    assert "monitor=true" in headers["Location"]
    assert answer["properties"]["provisioningState"] == expected["properties"]["provisioningState"]
    assert answer["properties"]["storageProfile"]["source"] == {"virtualMachineId": vm_id}
    ours, theirs = (
        answer["properties"]["publishingProfile"],
        expected["properties"]["publishingProfile"],
    )
    assert set(theirs) <= set(ours)
    assert [
        (r["name"], r["regionalReplicaCount"], r["storageAccountType"])
        for r in ours["targetRegions"]
    ] == [
        ("West Europe", 2, "Standard_LRS"),
        ("East US", 2, "Standard_ZRS"),
    ]
    assert set(expected["properties"]["storageProfile"]["osDiskImage"]) <= set(
        answer["properties"]["storageProfile"]["osDiskImage"]
    )


@pytest.mark.parametrize(
    ("definition", "generalize", "status", "code", "words"),
    [
        (
            "ubuntu-gen1",
            True,
            409,
            "Conflict",
            "different Hypervisor generation ['V2'] than the parent gallery image Hypervisor "
            "generation ['V1']",
        ),
        ("windows-golden", True, 409, "Conflict", "different OS type ['Linux']"),
        ("ubuntu-arm", True, 409, "Conflict", "different architecture ['x64']"),
        (
            "ubuntu-web",
            False,
            400,
            "BadRequest",
            "different OS state ['Specialized'] than the parent gallery image OS state "
            "['Generalized']",
        ),
        ("ubuntu-specialized", True, 400, "BadRequest", "different OS state ['Generalized']"),
        ("no-such-definition", True, 404, "ParentResourceNotFound", "not found"),
    ],
    ids=[
        "generation",
        "os-type",
        "architecture",
        "not-generalized",
        "generalized-into-specialized",
        "no-definition",
    ],
)
async def test_sources_that_do_not_fit_are_refused(
    stack: Stack,
    compute_client: ComputeManagementClient,
    definition: str,
    generalize: bool,
    status: int,
    code: str,
    words: str,
) -> None:
    vm_id = await stack.vm("builder")
    if generalize:
        await compute_client.virtual_machines.generalize(GROUP, "builder")
    with pytest.raises(HttpResponseError) as refused:
        await compute_client.gallery_image_versions.begin_create_or_update(
            GROUP, GALLERY, definition, "2.0.0", stack.version_body(vm_id, ["westeurope"])
        )

    assert (refused.value.status_code, refused.value.error.code) == (status, code)
    assert words in refused.value.error.message
    assert not [
        op
        for op in stack.emulator.context.operations.snapshot()
        if op["kind"].startswith("gallery.")
    ]


async def test_a_missing_source_vm_is_not_found(
    stack: Stack, compute_client: ComputeManagementClient
) -> None:
    with pytest.raises(HttpResponseError) as refused:
        await compute_client.gallery_image_versions.begin_create_or_update(
            GROUP,
            GALLERY,
            "ubuntu-web",
            "2.0.0",
            stack.version_body(stack.vm_id("gone"), ["westeurope"]),
        )

    assert (refused.value.status_code, refused.value.error.code) == (404, "NotFound")


async def test_a_repeated_put_joins_the_capture_and_another_source_is_refused(
    stack: Stack, arm: Any, compute_client: ComputeManagementClient
) -> None:
    vm_id = await stack.vm("builder")
    other = await stack.vm("other")
    for name in ("builder", "other"):
        await compute_client.virtual_machines.generalize(GROUP, name)
    path = stack.version_path("2.0.0")
    body = stack.version_body(vm_id, ["westeurope"])
    first = await arm.call("PUT", path, json=body, api_version="2024-03-03")
    again = await arm.call("PUT", path, json=body, api_version="2024-03-03")
    moved = await arm.call(
        "PUT", path, json=stack.version_body(other, ["westeurope"]), api_version="2024-03-03"
    )

    assert (first[0], again[0]) == (201, 200)
    assert again[1]["Azure-AsyncOperation"] == first[1]["Azure-AsyncOperation"]
    assert (moved[0], moved[2]["error"]["code"]) == (409, "PropertyChangeNotAllowed")
    gallery_ops = [
        op for op in stack.emulator.context.operations.snapshot() if op["kind"] == "gallery.capture"
    ]
    assert len(gallery_ops) == 1


async def test_deleting_a_version_while_it_is_captured_cancels_the_capture(
    stack: Stack, arm: Any, compute_client: ComputeManagementClient
) -> None:
    vm_id = await stack.vm("builder")
    await compute_client.virtual_machines.generalize(GROUP, "builder")
    path = stack.version_path("2.0.0")
    _, headers, _ = await arm.call(
        "PUT",
        path,
        json=stack.version_body(vm_id, ["westeurope", "eastus"]),
        api_version="2024-03-03",
    )
    await (
        await compute_client.gallery_image_versions.begin_delete(
            GROUP, GALLERY, "ubuntu-web", "2.0.0"
        )
    ).result()
    stack.clock.advance(100)
    _, _, status = await arm.call("GET", headers["Azure-AsyncOperation"], api_version=None)

    assert status["status"] == "Canceled"
    with pytest.raises(ResourceNotFoundError):
        await compute_client.gallery_image_versions.get(GROUP, GALLERY, "ubuntu-web", "2.0.0")
    assert stack.latest("ubuntu-web", "eastus") == "1.1.0"


async def test_a_captured_version_keeps_its_tags_and_retention_deletes_it(
    stack: Stack, compute_client: ComputeManagementClient
) -> None:
    """vmroll's capture tags round-trip (PUT, then list), and its delete removes the version."""
    vm_id = await stack.vm("builder")
    await compute_client.virtual_machines.generalize(GROUP, "builder")
    image_id = stack.version_path("x").rpartition("/versions/")[0]
    tags = {CAPTURE_TAG: "golden", CAPTURE_UID_TAG: "uid-1"}
    request = VersionRequest(vm_id, (TargetRegionSpec("westeurope", 1, "Standard_LRS"),),
                             False, None, tags)  # fmt: skip
    await begin_create_version(compute_client, image_id, "2.0.0", "westeurope", request)
    stack.clock.advance(CAPTURE + REPLICATE + 0.01)

    listed = {v.name: v for v in await list_versions(compute_client, image_id)}
    await begin_delete_version(compute_client, image_id, "2.0.0")
    after = {v.name for v in await list_versions(compute_client, image_id)}

    assert listed["2.0.0"].tags == tags
    assert listed["2.0.0"].captured_by_vmroll()
    assert listed["2.0.0"].provisioning_state == "Succeeded"
    assert listed["2.0.0"].regions == (GalleryRegion("West Europe", exclude_from_latest=False),)
    assert not listed["1.3.0"].captured_by_vmroll()
    assert "2.0.0" not in after
    assert "1.3.0" in after
