"""Whether a VM is available at a given instant, and if not, whether to wait or to give up on it.

Every rollout decision counts available VMs, so the rule lives in one place and takes `now` as an
argument. It mirrors a Deployment's pod states: *ready* is "healthy right now", *available* is
"ready for at least `min_ready_seconds`" (so a VM that flaps is not counted), and a VM that is not
healthy is only *unhealthy* once its grace period after creation or reimage has passed; before
that it is *starting*, which must not trigger a rollback. Azure's application-health extension
has the same notion of a grace period, and reports "Unhealthy" while the workload boots.

A VM whose provisioning failed is replaced either way, but it counts against its revision only
when the failure may be the revision's: a failure Azure reports with one of its own codes (an
internal error, no capacity, a preempted operation: `PLATFORM_FAILURE_CODES`) says nothing about
the image, and rolling a fleet back for it would undo a good rollout on one hiccup of Azure's.

Healthy means all of: provisioning Succeeded, power state running, the VM agent ready, and the
application-health extension healthy when the VM reports one.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

PLATFORM_FAILURE_CODES = frozenset(
    {
        "allocationfailed",
        "zonalallocationfailed",
        "overconstrainedallocationrequest",
        "overconstrainedzonalallocationrequest",
        "internalexecutionerror",
        "internaloperationerror",
        "internalservererror",
        "operationpreempted",
    }
)
"""Provisioning failure codes (lower case) that are Azure's own condition, not the VM's."""


class ProvisioningState(enum.Enum):
    """Azure's provisioningState of the VM, as the handler observed it."""

    CREATING = "Creating"
    UPDATING = "Updating"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    DELETING = "Deleting"
    UNKNOWN = "Unknown"


class PowerState(enum.Enum):
    """The `PowerState/...` code of the VM's instance view."""

    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"
    DEALLOCATING = "deallocating"
    DEALLOCATED = "deallocated"
    UNKNOWN = "unknown"


class AppHealth(enum.Enum):
    """What the application-health extension reports; NOT_REPORTED when the VM has none."""

    NOT_REPORTED = "NotReported"
    INITIALIZING = "Initializing"
    HEALTHY = "Healthy"
    UNHEALTHY = "Unhealthy"
    UNKNOWN = "Unknown"


class Readiness(enum.Enum):
    """Where a VM stands on the way to serving traffic."""

    AVAILABLE = "Available"  # healthy for at least min_ready_seconds
    READY = "Ready"  # healthy, but not yet for min_ready_seconds
    STARTING = "Starting"  # not healthy, still inside its grace period
    UNHEALTHY = "Unhealthy"  # not healthy, grace period over
    FAILED = "Failed"  # provisioning failed: only replacing the VM helps
    PLATFORM_FAILED = "PlatformFailed"  # failed for Azure's own reason: replaced, not held
    # against the revision

    @property
    def is_available(self) -> bool:
        return self is Readiness.AVAILABLE

    @property
    def is_ready(self) -> bool:
        return self in (Readiness.AVAILABLE, Readiness.READY)

    @property
    def is_unhealthy(self) -> bool:
        """Unhealthy for good: counts towards a rollback, unlike STARTING."""
        return self in (Readiness.UNHEALTHY, Readiness.FAILED)

    @property
    def is_failed(self) -> bool:
        """Provisioning failed, whoever's the fault: the VM is to be replaced."""
        return self in (Readiness.FAILED, Readiness.PLATFORM_FAILED)


@dataclass(frozen=True)
class HealthSignals:
    """What Azure says about one VM, plus the two instants the handler records for it.

    `healthy_since` is when the VM was first seen healthy without interruption (None when it is
    not healthy, or not yet seen so); `changed_at` is when it was created or last reimaged, the
    start of its grace period.
    """

    provisioning: ProvisioningState
    power: PowerState
    agent_ready: bool
    app_health: AppHealth
    healthy_since: datetime | None
    changed_at: datetime
    failure_code: str | None = None
    """Azure's code for a failed provisioning (`ProvisioningState/failed/<code>`), if read."""

    @property
    def healthy(self) -> bool:
        return (
            self.provisioning is ProvisioningState.SUCCEEDED
            and self.power is PowerState.RUNNING
            and self.agent_ready
            and self.app_health in (AppHealth.HEALTHY, AppHealth.NOT_REPORTED)
        )


@dataclass(frozen=True)
class ReadinessPolicy:
    """How long a VM must stay healthy to count, and how long it may take to become healthy."""

    min_ready_seconds: int
    grace_seconds: int

    def __post_init__(self) -> None:
        if self.min_ready_seconds < 0 or self.grace_seconds < 0:
            raise ValueError("min_ready_seconds and grace_seconds must not be negative")


def assess(signals: HealthSignals, policy: ReadinessPolicy, now: datetime) -> Readiness:
    """Classify one VM at `now`."""
    if signals.provisioning is ProvisioningState.FAILED:
        code = (signals.failure_code or "").lower()
        return Readiness.PLATFORM_FAILED if code in PLATFORM_FAILURE_CODES else Readiness.FAILED
    if signals.healthy:
        if policy.min_ready_seconds == 0:
            return Readiness.AVAILABLE
        since = signals.healthy_since
        if since is not None and now - since >= timedelta(seconds=policy.min_ready_seconds):
            return Readiness.AVAILABLE
        return Readiness.READY
    if now - signals.changed_at < timedelta(seconds=policy.grace_seconds):
        return Readiness.STARTING
    return Readiness.UNHEALTHY
