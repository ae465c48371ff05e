"""VirtualMachinePool: N VMs of one shape, from one image, kept on a declared version.

The spec is what users write; `vmroll.api.pool_status` holds what vmroll reports back.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final, Literal

from pydantic import Field
from pydantic.config import JsonDict

from vmroll.api.base import API_VERSION, ApiModel, cel, nested, validations
from vmroll.api.image import ImageSource
from vmroll.api.pool_status import VirtualMachinePoolStatus
from vmroll.api.strategy import Strategy, UpdatePolicy
from vmroll.api.template import VmTemplate
from vmroll.api.types import LocalObjectReference, ObjectMeta

KIND: Final = "VirtualMachinePool"
PLURAL = "virtualmachinepools"
SINGULAR = "virtualmachinepool"
SHORT_NAMES = ("vmpool",)
MAX_REPLICAS = 1000

RESOURCE_GROUP_PATTERN = r"^[-A-Za-z0-9_.()]{0,89}[-A-Za-z0-9_()]$"
LOCATION_PATTERN = r"^[a-z][a-z0-9]*$"


class DeletionPolicy(StrEnum):
    """What happens to the VMs when their pool is deleted."""

    DELETE = "Delete"
    RETAIN = "Retain"


RELEASE_ANNOTATION: Final = "vmroll.io/release-without-cleanup"
"""Set to "true" to let a deleted pool go without touching its VMs (reconcile/deletion.py)."""
ACCEPT_SUBSCRIPTION_ANNOTATION: Final = "vmroll.io/accept-subscription"
"""Set to the account's new subscription ID to make the pool adopt it (see `account_ref`)."""


def _immutable(field: str, why: str = "") -> JsonDict:
    return validations(cel("self == oldSelf", f"{field} is immutable{why}"))


class VirtualMachinePoolSpec(ApiModel):
    """Desired state of a VirtualMachinePool."""

    account_ref: LocalObjectReference = Field(
        json_schema_extra=_immutable(
            "accountRef",
            ": the pool's VMs stay in the subscription they were created in; to use another "
            "account, create a new pool (this pool's VMs stay with this pool)",
        ),
        description="The AzureAccount whose subscription and credentials the pool uses; it "
        "must admit the pool's namespace and resource group. Immutable. vmroll records the "
        "subscription in status.subscriptionId; when the account later names another one "
        "(deleted and recreated under the same name), the pool is Stalled with AccountChanged "
        "and vmroll writes to neither subscription until subscriptionId is restored on the "
        f"account, or the pool is annotated {ACCEPT_SUBSCRIPTION_ANNOTATION}=<the new "
        "subscription ID>: the pool then starts afresh in the new subscription and leaves "
        "its VMs in the old one, unmanaged and not deleted.",
    )
    resource_group: str = Field(
        pattern=RESOURCE_GROUP_PATTERN,
        json_schema_extra=_immutable("resourceGroup"),
        description="Existing resource group the VMs are created in. Immutable.",
    )
    location: str = Field(
        max_length=64,
        pattern=LOCATION_PATTERN,
        json_schema_extra=_immutable("location"),
        description="Azure region of the VMs, such as westeurope. Immutable.",
    )
    replicas: int = Field(
        default=1, ge=0, le=MAX_REPLICAS, description="Number of VMs the pool keeps."
    )
    image: ImageSource = Field(
        description="The OS image: exactly one of marketplace, gallery or managedImageId."
    )
    update_policy: UpdatePolicy = nested(
        UpdatePolicy, "When vmroll looks for a new image version and may roll to it."
    )
    template: VmTemplate = Field(description="The shape of every VM in the pool.")
    strategy: Strategy = nested(Strategy, "How VMs move to a new revision.")
    deletion_policy: DeletionPolicy = Field(
        default=DeletionPolicy.DELETE,
        description="Delete removes the VMs with the pool; Retain leaves them in Azure, no "
        "longer managed by vmroll.",
    )


class VirtualMachinePool(ApiModel):
    """A whole VirtualMachinePool object, as read from the API server."""

    api_version: Literal["vmroll.io/v1alpha1"] = Field(
        default=API_VERSION, description="API version."
    )
    kind: Literal["VirtualMachinePool"] = Field(default=KIND, description="Kind.")
    metadata: ObjectMeta = Field(description="Standard object metadata.")
    spec: VirtualMachinePoolSpec = Field(description="Desired state.")
    status: VirtualMachinePoolStatus | None = Field(default=None, description="Observed state.")
