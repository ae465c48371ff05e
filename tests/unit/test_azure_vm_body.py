"""The VM create body: what Azure receives for a pool's VM."""

from __future__ import annotations

import base64
from dataclasses import replace

import pytest

from vmroll.azure.images import AzureImageKind, MarketplacePlan, ResolvedImage
from vmroll.azure.vm_body import OsDiskSpec, VmSpec, build_vm_body, made_by
from vmroll.plan.ownership import (
    CAPTURE_UID_TAG,
    IMAGE_VERSION_TAG,
    POOL_NAMESPACE_TAG,
    POOL_TAG,
    POOL_UID_TAG,
    REVISION_TAG,
    PoolIdentity,
)

SUBNET = (
    "/subscriptions/s/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/v/subnets/d"
)
UBUNTU = ResolvedImage(
    source=AzureImageKind.MARKETPLACE,
    requested="latest",
    resolved_version="24.04.202501010",
    image_id="/Subscriptions/s/Providers/Microsoft.Compute/.../Versions/24.04.202501010",
    image_reference={
        "publisher": "Canonical",
        "offer": "ubuntu-24_04-lts",
        "sku": "server",
        "version": "24.04.202501010",
    },
)
OWNER = PoolIdentity(namespace="team", name="web", uid="uid-1")


def spec(**changes: object) -> VmSpec:
    base = VmSpec(
        name="web-abc12",
        location="westeurope",
        size="Standard_D2s_v5",
        image=UBUNTU,
        subnet_id=SUBNET,
        admin_username="azureuser",
        owner=OWNER,
        revision="r3",
        ssh_public_keys=("ssh-ed25519 AAAA key1",),
    )
    return replace(base, **changes)


def test_marketplace_vm_body() -> None:
    body = build_vm_body(spec(zone="2"))
    props = body["properties"]
    assert body["location"] == "westeurope"
    assert body["zones"] == ["2"]
    assert "plan" not in body
    assert props["hardwareProfile"] == {"vmSize": "Standard_D2s_v5"}
    assert props["storageProfile"]["imageReference"] == UBUNTU.image_reference
    assert props["storageProfile"]["osDisk"] == {
        "createOption": "FromImage",
        "deleteOption": "Delete",
        "caching": "ReadWrite",
    }
    assert props["osProfile"] == {
        "computerName": "web-abc12",
        "adminUsername": "azureuser",
        "linuxConfiguration": {
            "disablePasswordAuthentication": True,
            "ssh": {
                "publicKeys": [
                    {
                        "path": "/home/azureuser/.ssh/authorized_keys",
                        "keyData": "ssh-ed25519 AAAA key1",
                    }
                ]
            },
        },
    }
    nic = props["networkProfile"]["networkInterfaceConfigurations"][0]
    assert props["networkProfile"]["networkApiVersion"] == "2020-11-01"
    assert nic["properties"]["deleteOption"] == "Delete"
    assert nic["properties"]["ipConfigurations"][0]["properties"]["subnet"] == {"id": SUBNET}


def test_no_zone_means_no_zones_key() -> None:
    assert "zones" not in build_vm_body(spec())


def test_custom_data_is_base64() -> None:
    body = build_vm_body(spec(custom_data=b"#cloud-config\npackages: [nginx]\n"))
    encoded = body["properties"]["osProfile"]["customData"]
    assert base64.b64decode(encoded) == b"#cloud-config\npackages: [nginx]\n"


def test_custom_data_never_in_repr() -> None:
    assert "cloud-config" not in repr(spec(custom_data=b"#cloud-config password: hunter2"))


@pytest.mark.parametrize(
    ("disk", "expected"),
    [
        pytest.param(
            OsDiskSpec(ephemeral=True),
            {
                "createOption": "FromImage",
                "deleteOption": "Delete",
                "caching": "ReadOnly",
                "diffDiskSettings": {"option": "Local", "placement": "ResourceDisk"},
            },
            id="ephemeral",
        ),
        pytest.param(
            OsDiskSpec(size_gb=64, storage_account_type="Premium_LRS"),
            {
                "createOption": "FromImage",
                "deleteOption": "Delete",
                "caching": "ReadWrite",
                "diskSizeGB": 64,
                "managedDisk": {"storageAccountType": "Premium_LRS"},
            },
            id="managed-premium",
        ),
    ],
)
def test_os_disk(disk: OsDiskSpec, expected: dict[str, object]) -> None:
    assert build_vm_body(spec(os_disk=disk))["properties"]["storageProfile"]["osDisk"] == expected


def test_plan_image_carries_plan() -> None:
    plan = MarketplacePlan(name="rabbitmq", publisher="bitnami", product="rabbitmq")
    image = replace(UBUNTU, plan=plan)
    assert build_vm_body(spec(image=image))["plan"] == {
        "name": "rabbitmq",
        "publisher": "bitnami",
        "product": "rabbitmq",
    }


def test_user_tags_then_ownership_tags() -> None:
    assert build_vm_body(spec(tags={"team": "web"}))["tags"] == {
        "team": "web",
        POOL_UID_TAG: "uid-1",
        POOL_TAG: "web",
        POOL_NAMESPACE_TAG: "team",
        REVISION_TAG: "r3",
        IMAGE_VERSION_TAG: "24.04.202501010",
    }


def test_user_tags_cannot_claim_ownership() -> None:
    with pytest.raises(ValueError, match="reserved"):
        build_vm_body(spec(tags={POOL_UID_TAG: "someone-else"}))


def test_computer_name_is_a_valid_host_name() -> None:
    body = build_vm_body(spec(name="Web_Pool.0"))
    assert body["properties"]["osProfile"]["computerName"] == "web-pool-0"


def test_tag_names_use_no_character_azure_forbids() -> None:
    tags = build_vm_body(spec())["tags"]
    assert not any(set(name) & set("<>%&\\?/") for name in tags)


def test_managed_image_has_no_version_tag() -> None:
    golden = ResolvedImage(
        source=AzureImageKind.MANAGED_IMAGE,
        requested="/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/images/golden",
        resolved_version=None,
        image_id="/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/images/golden",
        image_reference={
            "id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/images/golden"
        },
    )
    body = build_vm_body(spec(image=golden))
    assert IMAGE_VERSION_TAG not in body["tags"]
    assert body["properties"]["storageProfile"]["imageReference"] == golden.image_reference


OWN = {POOL_UID_TAG: "uid-1", REVISION_TAG: "r3"}
BUILDER = {CAPTURE_UID_TAG: "uid-cap", "purpose": "build"}


@pytest.mark.parametrize(
    ("name", "all_tags", "vm_tags", "made"),
    [
        ("the pool's VM at the create's revision", None, {**OWN, "team": "x"}, True),
        ("the pool's VM at another revision", None, {**OWN, REVISION_TAG: "r2"}, False),
        ("another pool's VM", None, {**OWN, POOL_UID_TAG: "uid-2"}, False),
        ("a VM not vmroll's", None, {}, False),
        ("the capture's builder", BUILDER, {CAPTURE_UID_TAG: "uid-cap"}, True),
        ("another capture's builder", BUILDER, {CAPTURE_UID_TAG: "uid-other"}, False),
        ("no identity tag to tell", {"purpose": "build"}, {"purpose": "build"}, False),
    ],
)
def test_a_vm_is_what_the_create_makes_when_it_carries_the_create_s_identity_tags(
    name: str, all_tags: dict[str, str] | None, vm_tags: dict[str, str], made: bool
) -> None:
    assert made_by(spec(all_tags=all_tags), vm_tags) is made, name
