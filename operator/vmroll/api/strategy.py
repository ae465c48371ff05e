"""How a pool moves to a new revision (strategy) and when it looks for one (update policy).

The strategy mirrors a Deployment's on purpose: maxSurge, maxUnavailable, minReadySeconds and
progressDeadlineSeconds mean what Kubernetes users already expect.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, ConfigDict, Field, model_validator

from vmroll.api.base import ApiModel, cel, nested, validations
from vmroll.api.types import Duration, IntOrPercent, format_duration, is_zero, parse_duration

DEFAULT_CHECK_INTERVAL = timedelta(hours=1)


class StrategyType(StrEnum):
    """How VMs move to a new revision."""

    ROLLING_REIMAGE = "RollingReimage"
    ROLLING_REPLACE = "RollingReplace"
    ON_DELETE = "OnDelete"


class Track(StrEnum):
    """Whether a pool whose image version is `latest` follows newer versions."""

    LATEST = "Latest"
    PINNED = "Pinned"


_DAY = "(Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
_DAYS = rf"(\*|{_DAY}(-{_DAY})?(,{_DAY}(-{_DAY})?)*)"
MAINTENANCE_WINDOW_PATTERN = rf"^{_DAYS} ([01][0-9]|2[0-3]):[0-5][0-9] ([0-9]+h([0-9]+m)?|[0-9]+m)$"
"""`<days> <HH:MM> <duration>` in UTC, the format `vmroll.plan.maintenance` parses."""

MAX_WINDOW = timedelta(hours=168)


def _check_window_length(text: str) -> str:
    length = parse_duration(text.split(" ")[2])
    if not (isinstance(length, timedelta) and timedelta(0) < length <= MAX_WINDOW):
        raise ValueError("a maintenance window lasts more than 0 and at most 168h")
    return text


MaintenanceWindowText = Annotated[
    str,
    Field(
        max_length=128,
        pattern=MAINTENANCE_WINDOW_PATTERN,
        json_schema_extra=validations(
            cel(
                "duration(self.split(' ')[2]) > duration('0s')"
                " && duration(self.split(' ')[2]) <= duration('168h')",
                "a maintenance window lasts more than 0 and at most 168h",
            )
        ),
    ),
    AfterValidator(_check_window_length),
]


DEFAULT_MAX_SURGE = 1
DEFAULT_MAX_UNAVAILABLE = 0
DEFAULT_MIN_READY_SECONDS = 0
DEFAULT_PROGRESS_DEADLINE_SECONDS = 1800
DEFAULT_HEALTH_GRACE_SECONDS = 600


def _or_default(field: str, default: object) -> str:
    """CEL for a field's value, or its default: the API server checks a `default: {}` parent
    against the rules before it fills the nested defaults in."""
    return f"(has(self.{field}) ? self.{field} : {default!r})"


def _zero(field: str, default: int) -> str:
    value = _or_default(field, default)
    return f"(type({value}) == int ? {value} == 0 : {value} == '0%')"


class RollingUpdate(ApiModel):
    """Bounds on how many VMs a rollout may add or take away at a time."""

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                f"!({_zero('maxSurge', DEFAULT_MAX_SURGE)}"
                f" && {_zero('maxUnavailable', DEFAULT_MAX_UNAVAILABLE)})",
                "maxSurge and maxUnavailable must not both be 0",
            )
        )
    )

    max_surge: IntOrPercent = Field(
        default=DEFAULT_MAX_SURGE,
        description=(
            "VMs that may exist above replicas during a RollingReplace rollout: a count, or a "
            "percentage of replicas rounded up. RollingReimage works in place and ignores it."
        ),
    )
    max_unavailable: IntOrPercent = Field(
        default=DEFAULT_MAX_UNAVAILABLE,
        description=(
            "VMs that may be unavailable during a rollout: a count, or a percentage of "
            "replicas rounded down. RollingReimage takes at least one VM at a time."
        ),
    )

    @model_validator(mode="after")
    def _not_both_zero(self) -> RollingUpdate:
        if is_zero(self.max_surge) and is_zero(self.max_unavailable):
            raise ValueError("maxSurge and maxUnavailable must not both be 0")
        return self


class Rollback(ApiModel):
    """What vmroll does when a rollout fails."""

    on_failure: bool = Field(
        default=True,
        description=(
            "Roll back to the previous revision when the rollout exceeds its progress deadline "
            "or too many new VMs are unhealthy."
        ),
    )
    max_unhealthy_percent: int = Field(
        default=20,
        ge=0,
        le=100,
        description="Percentage of new-revision VMs that may be unhealthy before rolling back. "
        "A VM whose provisioning failed counts, unless Azure failed it for a reason of its own "
        "(an internal error, no capacity): that VM is replaced and not held against the image.",
    )
    health_grace_seconds: int = Field(
        default=DEFAULT_HEALTH_GRACE_SECONDS,
        ge=0,
        le=86400,
        description=(
            "Seconds a created or reimaged VM may take to become healthy before it counts as "
            "unhealthy (as a scale set's health probe grace period). Once more than "
            "maxUnhealthyPercent of the new-revision VMs are unhealthy past it, the rollout "
            "fails at once, without waiting for progressDeadlineSeconds."
        ),
    )


class Strategy(ApiModel):
    """How the pool replaces VMs that are not on the target revision."""

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                f"{_or_default('progressDeadlineSeconds', DEFAULT_PROGRESS_DEADLINE_SECONDS)}"
                f" > {_or_default('minReadySeconds', DEFAULT_MIN_READY_SECONDS)}",
                "progressDeadlineSeconds must be greater than minReadySeconds",
                ".progressDeadlineSeconds",
            )
        )
    )

    type: StrategyType = Field(
        default=StrategyType.ROLLING_REPLACE,
        description=(
            "RollingReplace creates new VMs and deletes old ones; RollingReimage reimages VMs "
            "in place, and replaces them when only a replacement can apply the change (another "
            "image, or a VM shape that cannot change in place); OnDelete changes a VM only "
            "after someone deletes it."
        ),
    )
    rolling_update: RollingUpdate = nested(
        RollingUpdate, "Surge and unavailability bounds of a rolling strategy."
    )
    min_ready_seconds: int = Field(
        default=DEFAULT_MIN_READY_SECONDS,
        ge=0,
        le=86400,
        description="Seconds a new VM must be healthy before it counts as available.",
    )
    progress_deadline_seconds: int = Field(
        default=DEFAULT_PROGRESS_DEADLINE_SECONDS,
        ge=60,
        le=604800,
        description=(
            "Seconds a rollout may go without progress before the pool is Stalled with "
            "ProgressDeadlineExceeded (and rolled back when rollback.onFailure). A paused "
            "rollout never times out."
        ),
    )
    rollback: Rollback = nested(Rollback, "What to do when a rollout fails.")
    paused: bool = Field(
        default=False,
        description="Stop starting new rollout steps; steps already started finish.",
    )

    @model_validator(mode="after")
    def _deadline_after_ready(self) -> Strategy:
        if self.progress_deadline_seconds <= self.min_ready_seconds:
            raise ValueError("progressDeadlineSeconds must be greater than minReadySeconds")
        return self


class UpdatePolicy(ApiModel):
    """When vmroll looks for a new image version and when it may roll to it."""

    track: Track = Field(
        default=Track.LATEST,
        description=(
            "With image version `latest`: Latest rolls the pool to each newer version found; "
            "Pinned resolves `latest` once and keeps that version until the spec changes. "
            "An explicit version is always pinned."
        ),
    )
    check_interval: Duration = Field(
        default=DEFAULT_CHECK_INTERVAL,
        json_schema_extra=validations(
            cel("duration(self) >= duration('1m')", "checkInterval must be at least 1m")
        )
        | {"default": format_duration(DEFAULT_CHECK_INTERVAL)},
        description="How often to look for a newer image version, such as 1h or 30m.",
    )
    maintenance_windows: list[MaintenanceWindowText] = Field(
        default_factory=list,
        max_length=16,
        description=(
            "When set, rollout steps start only inside one of these weekly windows, each "
            "`<days> <HH:MM> <duration>` in UTC: `Sat 22:00 4h`, `Mon-Fri 02:00 90m`, "
            "`* 03:00 1h`. A window may run past midnight; its duration is at most 168h."
        ),
    )

    @model_validator(mode="after")
    def _interval_bounded(self) -> UpdatePolicy:
        if self.check_interval < timedelta(minutes=1):
            raise ValueError("checkInterval must be at least 1m")
        return self
