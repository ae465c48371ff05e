"""What vmroll reports on a VirtualMachinePool: the resolved image, replica counts, the VMs,
the rollout history and kstatus conditions.

Status is written only by vmroll; its schema still documents every field, because users,
Argo CD and Flux read it.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from vmroll.api.base import ApiModel
from vmroll.api.image import ImageSourceKind, PurchasePlan
from vmroll.api.types import CONDITIONS_SCHEMA_EXTRA, MAX_CONDITIONS, Condition

MAX_INSTANCES = 1000
MAX_HISTORY = 10


class Health(StrEnum):
    """Whether a VM counts towards availability."""

    HEALTHY = "Healthy"
    UNHEALTHY = "Unhealthy"
    UNKNOWN = "Unknown"


class RolloutOutcome(StrEnum):
    """How a rollout ended, or that it has not."""

    IN_PROGRESS = "InProgress"
    SUCCEEDED = "Succeeded"
    ROLLED_BACK = "RolledBack"
    FAILED = "Failed"
    SUPERSEDED = "Superseded"


class ImageStatus(ApiModel):
    """The image the pool's target revision uses, as resolved by vmroll."""

    source: ImageSourceKind = Field(description="Marketplace, Gallery or ManagedImage.")
    requested: str = Field(
        description="What the spec asks for, such as Canonical:ubuntu-24_04-lts:server:latest."
    )
    resolved_version: str | None = Field(
        default=None, description="The exact version `latest` resolved to, or the pinned one."
    )
    image_id: str | None = Field(
        default=None, description="Resource ID of the exact image version VMs are created from."
    )
    plan: PurchasePlan | None = Field(
        default=None, description="Purchase plan of the image, when it is a paid image."
    )
    resolved_at: datetime | None = Field(
        default=None, description="When vmroll last resolved the version."
    )
    latest_available: str | None = Field(
        default=None,
        description="Newest version available at the last check, even when the pool is pinned.",
    )


class InstanceStatus(ApiModel):
    """One VM of the pool, as last observed."""

    name: str = Field(description="VM name in Azure.")
    revision: str = Field(description="Revision the VM was created or reimaged at.")
    image_version: str | None = Field(default=None, description="Image version the VM runs.")
    provisioning_state: str | None = Field(
        default=None, description="Azure provisioning state, such as Succeeded or Creating."
    )
    power_state: str | None = Field(
        default=None, description="Azure power state, such as running or deallocated."
    )
    health: Health = Field(default=Health.UNKNOWN, description="Healthy, Unhealthy or Unknown.")
    zone: str | None = Field(default=None, description="Availability zone of the VM.")
    since: datetime | None = Field(
        default=None, description="When the VM entered its current health."
    )


class RolloutRecord(ApiModel):
    """One rollout of the pool to a revision."""

    revision: str = Field(description="Revision rolled out.")
    image_version: str | None = Field(default=None, description="Image version of the revision.")
    started_at: datetime = Field(description="When the rollout started.")
    finished_at: datetime | None = Field(default=None, description="When the rollout ended.")
    outcome: RolloutOutcome = Field(
        default=RolloutOutcome.IN_PROGRESS,
        description="InProgress, Succeeded, RolledBack, Failed or Superseded.",
    )


class ProgressRecord(ApiModel):
    """The progress-deadline clock of the rollout in progress: when it last made progress, and
    the counts that progress is measured against."""

    revision: str = Field(description="Revision the rollout moves to.")
    started_at: datetime = Field(description="When the rollout to this revision started.")
    last_progress_at: datetime = Field(
        description="When more VMs became available on the revision, or fewer old ones remained."
    )
    updated_available: int = Field(
        ge=0, description="VMs available on the revision at the last progress."
    )
    old_remaining: int = Field(ge=0, description="Old VMs left at the last progress.")


class OperationKind(StrEnum):
    """Azure operations vmroll starts on a VM and may have to resume."""

    CREATE = "Create"
    DELETE = "Delete"
    REIMAGE = "Reimage"


class PendingOperation(ApiModel):
    """An Azure long-running operation vmroll started and has not seen finish.

    Recorded before waiting, so that a restarted operator resumes it instead of starting the
    same work twice.
    """

    vm_name: str = Field(description="VM the operation acts on.")
    kind: OperationKind = Field(description="Create, Delete or Reimage.")
    revision: str | None = Field(default=None, description="Revision the operation moves to.")
    resume_token: str | None = Field(
        default=None, max_length=16384, description="Opaque token to resume polling."
    )
    started_at: datetime = Field(description="When vmroll started the operation.")


class VirtualMachinePoolStatus(ApiModel):
    """Observed state of a VirtualMachinePool."""

    observed_generation: int | None = Field(
        default=None, ge=0, description="The metadata.generation this status reflects."
    )
    image: ImageStatus | None = Field(
        default=None, description="The resolved image of the target revision."
    )
    replicas: int = Field(default=0, ge=0, description="VMs of the pool that exist.")
    ready_replicas: int = Field(default=0, ge=0, description="VMs that are healthy.")
    updated_replicas: int = Field(
        default=0, ge=0, description="VMs on the target revision (up to date)."
    )
    available_replicas: int = Field(
        default=0, ge=0, description="VMs healthy for at least strategy.minReadySeconds."
    )
    current_revision: str | None = Field(
        default=None, description="Revision the pool ran before the rollout in progress."
    )
    update_revision: str | None = Field(
        default=None, description="Revision the pool is moving to (the target revision)."
    )
    up_next: list[str] = Field(
        default_factory=list,
        max_length=MAX_INSTANCES,
        description=(
            "Names of the VMs not yet on the target revision and not yet being changed, in the "
            "order the next rollout batches will take them. Empty when no rollout is due. "
            "While paused, waiting for a maintenance window or under OnDelete, these VMs wait."
        ),
    )
    instances: list[InstanceStatus] = Field(
        default_factory=list,
        max_length=MAX_INSTANCES,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
        description="The pool's VMs, as last observed.",
    )
    history: list[RolloutRecord] = Field(
        default_factory=list,
        max_length=MAX_HISTORY,
        description=f"The last {MAX_HISTORY} rollouts, newest first.",
    )
    progress: ProgressRecord | None = Field(
        default=None,
        description=(
            "The progress deadline's clock while a rollout runs, kept so that an operator "
            "restart does not restart it; absent when no rollout is running (complete, paused, "
            "outside a maintenance window or waiting for deletions)."
        ),
    )
    pending_operations: list[PendingOperation] = Field(
        default_factory=list,
        max_length=MAX_INSTANCES,
        description="Azure operations started and not yet seen to finish.",
    )
    conditions: list[Condition] = Field(
        default_factory=list,
        max_length=MAX_CONDITIONS,
        json_schema_extra=CONDITIONS_SCHEMA_EXTRA,
        description="Ready, Reconciling, Stalled and domain conditions such as ImageResolved.",
    )
