"""What vmroll reports about an ImageCapture: its step, the version, replication per region.

The step (`phase`) and the operation in flight are recorded before Azure is asked, so that a
restarted operator resumes the capture instead of starting a second one.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from vmroll.api.base import ApiModel
from vmroll.api.types import CONDITIONS_SCHEMA_EXTRA, MAX_CONDITIONS, Condition

MAX_REGIONS = 32
MAX_RETENTION_ENTRIES = 100


class CapturePhase(StrEnum):
    """The step a capture is at."""

    PENDING = "Pending"
    BUILDING = "Building"
    GENERALIZING = "Generalizing"
    CAPTURING = "Capturing"
    REPLICATING = "Replicating"
    DELETING_BUILDER = "DeletingBuilder"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


class CaptureOperationKind(StrEnum):
    """Azure long-running operations a capture starts and may have to resume."""

    DEALLOCATE = "Deallocate"
    CREATE_VERSION = "CreateVersion"
    CREATE = "Create"
    """Of the builder VM."""
    DELETE = "Delete"
    """Of the builder VM (disposal: Delete)."""


class CaptureOperation(ApiModel):
    """An Azure operation vmroll started for the capture and has not seen finish."""

    kind: CaptureOperationKind = Field(description="What the operation does.")
    target: str = Field(max_length=1024, description="Resource ID it acts on.")
    resume_token: str | None = Field(
        default=None, max_length=16384, description="Opaque token to resume polling."
    )
    started_at: datetime = Field(description="When vmroll started the operation.")


class RegionReplication(ApiModel):
    """One target region's replica of the version."""

    name: str = Field(description="Azure region.")
    state: str = Field(description="Azure's replication state: Replicating, Completed, Failed.")
    progress: int | None = Field(default=None, ge=0, le=100, description="Percent replicated.")


class RetainedVersion(ApiModel):
    """A version older than the newest N that retention kept, and why."""

    name: str = Field(description="The version.")
    reason: str = Field(description="Own, NotCaptured, InProgress or InUse.")
    message: str = Field(description="What holds on to it, such as the pools using it.")


class RetentionStatus(ApiModel):
    """What spec.retention last did to the target definition."""

    deleted: list[str] = Field(
        default_factory=list,
        max_length=MAX_RETENTION_ENTRIES,
        description="Versions retention deleted (Azure accepted the delete), in the order "
        f"deleted (the last {MAX_RETENTION_ENTRIES}).",
    )
    kept: list[RetainedVersion] = Field(
        default_factory=list,
        max_length=MAX_RETENTION_ENTRIES,
        description="Versions beyond the newest N kept at the last pass, and why.",
    )
    applied_at: datetime | None = Field(
        default=None, description="When retention last ran to the end."
    )


class ImageCaptureStatus(ApiModel):
    """Observed state of an ImageCapture."""

    observed_generation: int | None = Field(
        default=None, description="The generation this status describes."
    )
    phase: CapturePhase = Field(default=CapturePhase.PENDING, description="The step it is at.")
    subscription_id: str | None = Field(
        default=None, description="Subscription of the account when the capture started."
    )
    source_vm_id: str | None = Field(
        default=None, description="The VM captured (the builder's ID once created)."
    )
    builder_started_at: datetime | None = Field(
        default=None,
        description="With a builder: when Azure accepted its create (completion's timeout "
        "counts from here).",
    )
    built_at: datetime | None = Field(
        default=None, description="With a builder: when it reported its completion signal."
    )
    version: str | None = Field(default=None, description="The version being produced.")
    image_version_id: str | None = Field(
        default=None, description="Resource ID of the produced gallery image version."
    )
    replicated: str | None = Field(
        default=None, description="Regions replicated out of the target regions, as n/m."
    )
    regions: list[RegionReplication] = Field(
        default_factory=list, max_length=MAX_REGIONS, description="Replication per region."
    )
    pending_operation: CaptureOperation | None = Field(
        default=None, description="The Azure operation started and not yet seen to finish."
    )
    started_at: datetime | None = Field(default=None, description="When the capture started.")
    finished_at: datetime | None = Field(
        default=None, description="When the version was available in every target region."
    )
    retention: RetentionStatus | None = Field(
        default=None, description="What spec.retention did; absent without one."
    )
    conditions: list[Condition] = Field(
        default_factory=list,
        max_length=MAX_CONDITIONS,
        json_schema_extra=CONDITIONS_SCHEMA_EXTRA,
        description="Ready, Reconciling and Stalled; RetentionApplied with spec.retention.",
    )
