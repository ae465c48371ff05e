"""The models accept what the CRD accepts and refuse what it refuses, in Python too."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from vmroll.api.account import AzureAccount, AzureAccountSpec
from vmroll.api.image import ImageSource, ImageSourceKind
from vmroll.api.policy import ImagePolicy
from vmroll.api.pool import VirtualMachinePool, VirtualMachinePoolSpec
from vmroll.api.pool_status import InstanceStatus, VirtualMachinePoolStatus
from vmroll.api.strategy import StrategyType, Track
from vmroll.api.types import Condition, ConditionStatus, format_duration, parse_duration

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SUBNET = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-net/providers/"
    "Microsoft.Network/virtualNetworks/vnet/subnets/default"
)
GALLERY_IMAGE = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/"
    "Microsoft.Compute/galleries/g/images/web"
)
MANAGED_IMAGE = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/"
    "Microsoft.Compute/images/golden"
)
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBwXr7qJ8Ue6bS2dGf0a9bT4XqvD2Fh1nQj7k3mPz5Lc me@host"

MINIMAL_SPEC: dict[str, Any] = {
    "accountRef": {"name": "prod"},
    "resourceGroup": "rg-web",
    "location": "westeurope",
    "image": {"marketplace": {"publisher": "Canonical", "offer": "ubuntu", "sku": "server"}},
    "template": {
        "vmSize": "Standard_D2s_v5",
        "subnetId": SUBNET,
        "sshPublicKeys": [{"keyData": KEY}],
    },
}


def spec_with(path: str, value: Any) -> dict[str, Any]:
    """MINIMAL_SPEC with the value at a dotted path replaced (or added)."""
    spec = copy.deepcopy(MINIMAL_SPEC)
    *parents, leaf = path.split(".")
    node = spec
    for key in parents:
        node = node.setdefault(key, {})
    node[leaf] = value
    return spec


@pytest.mark.parametrize(
    ("model", "filename"),
    [
        pytest.param(VirtualMachinePool, "pool-marketplace.yaml", id="marketplace"),
        pytest.param(VirtualMachinePool, "pool-gallery.yaml", id="gallery"),
        pytest.param(VirtualMachinePool, "pool-managed.yaml", id="managed"),
        pytest.param(VirtualMachinePool, "pool-golden-latest.yaml", id="golden-latest"),
        pytest.param(AzureAccount, "azureaccount.yaml", id="account"),
        pytest.param(ImagePolicy, "policy-patched-30d.yaml", id="policy-patched-30d"),
        pytest.param(ImagePolicy, "policy-deny-list.yaml", id="policy-deny-list"),
        pytest.param(ImagePolicy, "policy-paid-images.yaml", id="policy-paid-images"),
    ],
)
def test_examples_validate(model: type[BaseModel], filename: str) -> None:
    document = yaml.safe_load((EXAMPLES / filename).read_text())
    parsed = model.model_validate(document)
    assert (
        parsed.model_dump(mode="json", by_alias=True, exclude_none=True)["kind"]
        == (document["kind"])
    )


def test_minimal_spec_gets_the_documented_defaults() -> None:
    spec = VirtualMachinePoolSpec.model_validate(MINIMAL_SPEC)
    assert spec.replicas == 1
    assert spec.image.marketplace is not None
    assert spec.image.marketplace.version == "latest"
    assert spec.update_policy.track is Track.LATEST
    assert spec.update_policy.check_interval == timedelta(hours=1)
    assert spec.strategy.type is StrategyType.ROLLING_REPLACE
    assert (
        spec.strategy.rolling_update.max_surge,
        spec.strategy.rolling_update.max_unavailable,
    ) == (
        1,
        0,
    )
    assert spec.template.admin_username == "azureuser"


def test_wire_form_round_trips_with_camel_case_names() -> None:
    spec = VirtualMachinePoolSpec.model_validate(
        spec_with("strategy", {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1}})
    )
    wire = spec.to_wire()
    assert wire["strategy"]["rollingUpdate"] == {"maxSurge": "25%", "maxUnavailable": 1}
    assert wire["updatePolicy"]["checkInterval"] == "1h"
    assert wire["template"]["osDisk"]["storageAccountType"] == "Premium_LRS"
    assert VirtualMachinePoolSpec.model_validate(wire) == spec


@pytest.mark.parametrize(
    ("path", "value", "complaint"),
    [
        pytest.param(
            "image.gallery",
            {"imageId": GALLERY_IMAGE},
            "exactly one of marketplace, gallery or managedImageId",
            id="two-image-sources",
        ),
        pytest.param("image", {}, "exactly one of marketplace", id="no-image-source"),
        pytest.param("image.marketplace.version", "1.2", "version", id="two-part-version"),
        pytest.param("image.marketplace.version", "v1.2.3", "version", id="prefixed-version"),
        pytest.param("replicas", -1, "replicas", id="negative-replicas"),
        pytest.param("replicas", 1001, "replicas", id="too-many-replicas"),
        pytest.param(
            "strategy.rollingUpdate",
            {"maxSurge": 0, "maxUnavailable": "0%"},
            "must not both be 0",
            id="surge-and-unavailable-zero",
        ),
        pytest.param("strategy.rollingUpdate", {"maxSurge": "150%"}, "maxSurge", id="percent>100"),
        pytest.param("strategy.rollingUpdate", {"maxSurge": -1}, "maxSurge", id="negative-surge"),
        pytest.param("strategy.rollingUpdate", {"maxSurge": "1"}, "maxSurge", id="number-string"),
        pytest.param("strategy.type", "BlueGreen", "type", id="unknown-strategy"),
        pytest.param(
            "strategy",
            {"minReadySeconds": 600, "progressDeadlineSeconds": 600},
            "progressDeadlineSeconds must be greater",
            id="deadline-not-after-ready",
        ),
        pytest.param("template.vmSize", "D2s_v5", "vmSize", id="size-without-tier"),
        pytest.param("template.zones", ["4"], "zones", id="zone-4"),
        pytest.param(
            "template.subnetId", "/subscriptions/x/subnets/y", "subnetId", id="bad-subnet"
        ),
        pytest.param("template.adminUsername", "root", "reserved", id="reserved-user"),
        pytest.param("template.sshPublicKeys", [], "sshPublicKeys", id="no-ssh-key"),
        pytest.param(
            "template.sshPublicKeys",
            [{"keyData": KEY, "secretRef": {"name": "k", "key": "pub"}}],
            "exactly one of keyData or secretRef",
            id="key-inline-and-secret",
        ),
        pytest.param(
            "template.customData",
            {"secretRef": {"name": "a", "key": "b"}, "configMapRef": {"name": "a", "key": "b"}},
            "exactly one of secretRef or configMapRef",
            id="custom-data-two-sources",
        ),
        pytest.param("template.tags", {"vmroll.io_pool": "x"}, "reserved", id="reserved-tag"),
        pytest.param("template.tags", {"a/b": "x"}, "must not contain", id="slash-in-tag"),
        pytest.param(
            "template.tags",
            {f"t{i}": "x" for i in range(46)},
            "tags",
            id="too-many-tags",
        ),
        pytest.param("template.osDisk", {"sizeGB": 10}, "sizeGB", id="tiny-disk"),
        pytest.param("updatePolicy.checkInterval", "30s", "at least 1m", id="short-interval"),
        pytest.param("updatePolicy.checkInterval", "1 hour", "duration", id="spelled-interval"),
        pytest.param(
            "updatePolicy.maintenanceWindows", ["Sunday 02:00 3h"], "maintenanceWindows", id="day"
        ),
        pytest.param(
            "updatePolicy.maintenanceWindows", ["Sun 24:00 3h"], "maintenanceWindows", id="hour"
        ),
        pytest.param(
            "updatePolicy.maintenanceWindows", ["Sat 22:00 169h"], "at most 168h", id="week+"
        ),
        pytest.param("updatePolicy.maintenanceWindows", ["Sat 22:00 0m"], "more than 0", id="0m"),
        pytest.param("location", "West Europe", "location", id="display-location"),
        pytest.param("resourceGroup", "rg.", "resourceGroup", id="rg-ends-with-period"),
        pytest.param("deletionPolicy", "Orphan", "deletionPolicy", id="unknown-deletion-policy"),
        pytest.param("surprise", True, "surprise", id="unknown-field"),
    ],
)
def test_invalid_specs_are_refused_naming_the_field(path: str, value: Any, complaint: str) -> None:
    with pytest.raises(ValidationError, match=complaint):
        VirtualMachinePoolSpec.model_validate(spec_with(path, value))


@pytest.mark.parametrize(
    ("image", "kind", "requested"),
    [
        pytest.param(
            {"marketplace": {"publisher": "p", "offer": "o", "sku": "s", "version": "1.2.3"}},
            ImageSourceKind.MARKETPLACE,
            "1.2.3",
            id="marketplace",
        ),
        pytest.param(
            {"gallery": {"imageId": GALLERY_IMAGE}}, ImageSourceKind.GALLERY, "latest", id="gallery"
        ),
        pytest.param(
            {"managedImageId": MANAGED_IMAGE}, ImageSourceKind.MANAGED_IMAGE, None, id="managed"
        ),
    ],
)
def test_image_source_kind_and_requested_version(
    image: dict[str, Any], kind: ImageSourceKind, requested: str | None
) -> None:
    source = ImageSource.model_validate(image)
    assert (source.kind, source.requested_version) == (kind, requested)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("90s", timedelta(seconds=90), id="seconds"),
        pytest.param("1h30m", timedelta(minutes=90), id="hours-minutes"),
        pytest.param("250ms", timedelta(milliseconds=250), id="millis"),
        pytest.param("2h0m", timedelta(hours=2), id="zero-part"),
    ],
)
def test_durations_parse_like_go(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@given(st.integers(min_value=0, max_value=10**9))
def test_durations_round_trip(millis: int) -> None:
    duration = timedelta(milliseconds=millis)
    assert parse_duration(format_duration(duration)) == duration


@pytest.mark.parametrize(
    ("auth", "valid"),
    [
        pytest.param({"defaultChain": {}}, True, id="default-chain"),
        pytest.param(
            {"workloadIdentity": {"clientId": "22222222-2222-2222-2222-222222222222"}},
            True,
            id="workload-identity",
        ),
        pytest.param({}, False, id="none"),
        pytest.param(
            {
                "defaultChain": {},
                "workloadIdentity": {"clientId": "22222222-2222-2222-2222-222222222222"},
            },
            False,
            id="two",
        ),
    ],
)
def test_account_takes_exactly_one_auth_method(auth: dict[str, Any], valid: bool) -> None:
    spec = {
        "subscriptionId": "00000000-0000-0000-0000-000000000000",
        "tenantId": "11111111-1111-1111-1111-111111111111",
        "auth": auth,
        "allowedResourceGroups": ["*"],
    }
    if valid:
        assert AzureAccountSpec.model_validate(spec).allowed_namespaces.names == []
    else:
        with pytest.raises(ValidationError, match="exactly one of clientSecret"):
            AzureAccountSpec.model_validate(spec)


def test_status_round_trips_conditions_at_second_precision() -> None:
    written = VirtualMachinePoolStatus(
        observed_generation=3,
        conditions=[
            Condition(
                type="Ready",
                status=ConditionStatus.TRUE,
                reason="AllReplicasReady",
                message="3 of 3 VMs ready",
                last_transition_time=datetime(2026, 11, 25, 17, 0, tzinfo=UTC),
                observed_generation=3,
            )
        ],
    )
    wire = written.to_wire()
    assert wire["conditions"][0]["lastTransitionTime"] == "2026-11-25T17:00:00Z"
    assert VirtualMachinePoolStatus.model_validate(wire) == written


def test_alike_models_share_one_set_of_given_fields_and_a_copy_changes_only_its_own() -> None:
    """A pool's status holds a model per VM: each keeping a set of its own was half its size."""
    given_fields = {
        "name": "web-0", "revision": "r1", "imageVersion": "1.0.0",
        "provisioningState": "Succeeded", "powerState": "running", "zone": "1",
    }  # fmt: skip
    first = InstanceStatus.model_validate(given_fields)
    second = InstanceStatus.model_validate({**given_fields, "name": "web-1"})

    assert first.model_fields_set is second.model_fields_set
    assert InstanceStatus(name="web-2", revision="r1").model_fields_set == {"name", "revision"}
    healthy = first.model_copy(update={"health": "Healthy"})
    assert "health" in healthy.model_fields_set
    assert "health" not in second.model_fields_set
    assert second.model_fields_set == {
        "name", "revision", "image_version", "provisioning_state", "power_state", "zone"
    }  # fmt: skip
