"""ImageCapture: one golden image version produced from a configured VM, declared in Kubernetes.

A capture copies a VM into an Azure Compute Gallery image definition as a new image version and
replicates it to the regions listed. The VM is an existing one (`source.virtualMachineId`), or a
builder vmroll creates from a base image with cloud-init, waits for and deletes afterwards
(`source.builder`, carried out by vmroll.plan.capture_builder). A capture happens once: its
spec is immutable, and another version is another ImageCapture.
`vmroll.api.capture_status` holds what vmroll reports back.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Final, Literal

from pydantic import AfterValidator, ConfigDict, Field, model_validator

from vmroll.api.base import API_VERSION, ApiModel, cel, nested, validations
from vmroll.api.capture_status import ImageCaptureStatus
from vmroll.api.image import (
    ARM_NAME_SEGMENT,
    ARM_PREFIX,
    GALLERY_IMAGE_ID_PATTERN,
    ImageSource,
    check_version_range,
)
from vmroll.api.pool import LOCATION_PATTERN, RESOURCE_GROUP_PATTERN
from vmroll.api.template import VmTemplate
from vmroll.api.types import LocalObjectReference, ObjectMeta

KIND: Final = "ImageCapture"
PLURAL = "imagecaptures"
SINGULAR = "imagecapture"
SHORT_NAMES = ("imgcap",)
MAX_TARGET_REGIONS = 32
MAX_REGIONAL_REPLICAS = 100
"""Azure's limit of replicas of one image version in one region."""

VIRTUAL_MACHINE_ID_PATTERN = ARM_PREFIX + rf"Microsoft\.Compute/virtualMachines/{ARM_NAME_SEGMENT}$"
GALLERY_VERSION_PATTERN = r"^[0-9]+\.[0-9]+\.[0-9]+$"
MIN_KEEP_NEWEST = 1
"""The capture's own version is always kept, so fewer than one cannot be honoured."""
MAX_KEEP_NEWEST = 1000


class CompletionSignal(StrEnum):
    """How vmroll knows a builder VM has finished configuring itself."""

    GUEST_HEALTHY = "GuestHealthy"


class BuilderDisposal(StrEnum):
    """What happens to the builder VM once the version is captured."""

    DELETE = "Delete"
    RETAIN = "Retain"


class VersionScheme(StrEnum):
    """How the version is named when the spec does not name it."""

    NEXT_PATCH = "NextPatch"
    DATE = "Date"


class StorageAccountType(StrEnum):
    """The storage of an image version's replicas in a region (Azure's values)."""

    STANDARD_LRS = "Standard_LRS"
    STANDARD_ZRS = "Standard_ZRS"
    PREMIUM_LRS = "Premium_LRS"


class Completion(ApiModel):
    """When the builder is done: the signal to wait for, and how long to wait for it."""

    signal: CompletionSignal = Field(
        default=CompletionSignal.GUEST_HEALTHY,
        description="GuestHealthy: the VM's guest reports healthy (its Application Health "
        "extension), which cloud-init's last step makes true.",
    )
    timeout_seconds: int = Field(
        default=3600,
        ge=60,
        le=86400,
        description="Builder not done after this long: the capture is Stalled with "
        "BuilderTimedOut and the builder is kept for inspection.",
    )


class Builder(ApiModel):
    """A VM vmroll creates to be captured: a base image, a shape and cloud-init."""

    location: str = Field(
        max_length=64,
        pattern=LOCATION_PATTERN,
        description="Azure region of the builder VM; the gallery's region is the usual choice.",
    )
    image: ImageSource = Field(
        description="The base image: exactly one of marketplace, gallery or managedImageId."
    )
    template: VmTemplate = Field(
        description="The builder's shape; template.customData configures it (cloud-init)."
    )
    completion: Completion = nested(Completion, "When the builder has finished configuring.")
    disposal: BuilderDisposal = Field(
        default=BuilderDisposal.DELETE,
        description="Delete (the default) removes the builder VM once the version is "
        "captured, or when the ImageCapture is deleted before that; Retain leaves it "
        "(deallocated and generalized once captured), unmanaged.",
    )


class CaptureSource(ApiModel):
    """The VM to capture. Set exactly one of virtualMachineId or builder."""

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                "has(self.virtualMachineId) != has(self.builder)",
                "set exactly one of virtualMachineId or builder",
            ),
        )
    )

    virtual_machine_id: str | None = Field(
        default=None,
        max_length=1024,
        pattern=VIRTUAL_MACHINE_ID_PATTERN,
        description="Resource ID of an existing VM to capture. vmroll deallocates it and, for "
        "a Generalized image definition, generalizes it: the VM cannot start again.",
    )
    builder: Builder | None = Field(
        default=None,
        description="A VM vmroll creates from a base image with cloud-init, waits for "
        "(completion) and captures; named after the capture, created in spec.resourceGroup.",
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> CaptureSource:
        if (self.virtual_machine_id is None) == (self.builder is None):
            raise ValueError("set exactly one of virtualMachineId or builder")
        return self


class TargetRegion(ApiModel):
    """A region the version is replicated to."""

    name: str = Field(max_length=64, pattern=LOCATION_PATTERN, description="Azure region.")
    replica_count: int = Field(
        default=1,
        ge=1,
        le=MAX_REGIONAL_REPLICAS,
        description="Replicas of the version in the region (more serve more VM creates at once).",
    )
    storage_account_type: StorageAccountType = Field(
        default=StorageAccountType.STANDARD_LRS,
        description="Standard_LRS, Standard_ZRS or Premium_LRS.",
    )


GalleryVersionText = Annotated[
    str,
    Field(
        max_length=64,
        pattern=GALLERY_VERSION_PATTERN,
        description="The version to create, Major.Minor.Patch, such as 1.4.0.",
    ),
    AfterValidator(check_version_range),
]


class CaptureTarget(ApiModel):
    """The gallery image version to produce and where it is replicated."""

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                "!(has(self.version) && has(self.versionScheme))",
                "set at most one of version or versionScheme",
            ),
            cel(
                "self.regions.all(r, self.regions.exists_one(s, s.name == r.name))",
                "each region may be listed once",
                ".regions",
            ),
        )
    )

    image_id: str = Field(
        max_length=1024,
        pattern=GALLERY_IMAGE_ID_PATTERN,
        description="Resource ID of the gallery image definition: /subscriptions/{s}/"
        "resourceGroups/{rg}/providers/Microsoft.Compute/galleries/{g}/images/{image}. Its OS "
        "type, Hyper-V generation, architecture and OS state must fit the source VM.",
    )
    version: GalleryVersionText | None = Field(
        default=None,
        description="The version to create. When omitted, versionScheme names it.",
    )
    version_scheme: VersionScheme | None = Field(
        default=None,
        description="When version is omitted: NextPatch (the default) is the newest existing "
        "version with its patch number plus one (1.0.0 when there is none); Date is "
        "YYYY.MMDD.N, today's date and the next free N.",
    )
    regions: list[TargetRegion] = Field(
        min_length=1,
        max_length=MAX_TARGET_REGIONS,
        description="Regions the version is replicated to, the gallery's own first. Ready "
        "once every one has completed.",
    )
    exclude_from_latest: bool = Field(
        default=False,
        description="True: VMs and pools asking for the definition's latest never get this "
        "version; only those naming it do.",
    )
    end_of_life: datetime | None = Field(
        default=None,
        description="Published end-of-life date of the version (informational in Azure).",
    )

    @model_validator(mode="after")
    def _one_way_to_name(self) -> CaptureTarget:
        if self.version is not None and self.version_scheme is not None:
            raise ValueError("set at most one of version or versionScheme")
        names = [r.name for r in self.regions]
        if len(set(names)) != len(names):
            raise ValueError("each region may be listed once")
        return self


class Retention(ApiModel):
    """How many versions of the target definition to keep once the capture is Ready."""

    keep_newest: int = Field(
        ge=MIN_KEEP_NEWEST,
        le=MAX_KEEP_NEWEST,
        description="Keep the newest N versions of the target image definition, ranked by "
        "version number, whoever published them; delete older ones, but only those vmroll "
        "captured (tagged vmroll.io_capture-uid) and never the version this capture produced, "
        "one Azure is still writing, nor one any VirtualMachinePool in the cluster runs, may "
        "roll back to, pins, resolved to or follows as latest. Applied once the capture is "
        "Ready and again on every resync.",
    )


class ImageCaptureSpec(ApiModel):
    """Desired state of an ImageCapture. Immutable: a capture is made once."""

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                "self == oldSelf",
                "spec is immutable: a capture is made once; create another ImageCapture for "
                "another version",
            )
        )
    )

    account_ref: LocalObjectReference = Field(
        description="The AzureAccount whose subscription and credentials the capture uses; it "
        "must admit the capture's namespace and every resource group it touches (the "
        "builder's or source VM's, and the gallery's), as for pools.",
    )
    resource_group: str = Field(
        pattern=RESOURCE_GROUP_PATTERN,
        description="Existing resource group the builder VM is created in (with a builder), "
        "or the source VM's (with virtualMachineId).",
    )
    source: CaptureSource = Field(description="The VM to capture.")
    target: CaptureTarget = Field(description="The gallery image version to produce.")
    retention: Retention | None = Field(
        default=None,
        description="Deletes old versions of the target definition; absent, none is deleted.",
    )


class ImageCapture(ApiModel):
    """A whole ImageCapture object, as read from the API server."""

    api_version: Literal["vmroll.io/v1alpha1"] = Field(
        default=API_VERSION, description="API version."
    )
    kind: Literal["ImageCapture"] = Field(default=KIND, description="Kind.")
    metadata: ObjectMeta = Field(description="Standard object metadata.")
    spec: ImageCaptureSpec = Field(description="Desired state.")
    status: ImageCaptureStatus | None = Field(default=None, description="Observed state.")
