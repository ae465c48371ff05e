"""Field types shared by several resources: durations, int-or-percent, references, conditions.

Each type validates in Python exactly what its schema lets the API server enforce, so that an
object the API server accepted always parses, and a model built in Python always applies.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
)

from vmroll.api.base import ApiModel

DURATION_PATTERN = r"^([0-9]+(ms|s|m|h))+$"
_DURATION_PART = re.compile(r"([0-9]+)(ms|s|m|h)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}

PERCENT_PATTERN = r"^(100|[1-9]?[0-9])%$"

K8S_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
CONFIG_KEY_PATTERN = r"^[-._a-zA-Z0-9]+$"


def parse_duration(value: object) -> object:
    """Go-style durations on the wire ("1h30m", "90s"), `timedelta` in Python."""
    if not isinstance(value, str):
        return value
    if not re.fullmatch(DURATION_PATTERN, value):
        raise ValueError(f"{value!r} is not a duration such as 30s, 5m, 1h or 1h30m")
    seconds = sum(int(n) * _UNIT_SECONDS[unit] for n, unit in _DURATION_PART.findall(value))
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """The shortest Go-style spelling of a duration, the inverse of `parse_duration`."""
    millis = round(value.total_seconds() * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    seconds, millis = divmod(millis, 1000)
    parts = [(hours, "h"), (minutes, "m"), (seconds, "s"), (millis, "ms")]
    text = "".join(f"{n}{unit}" for n, unit in parts if n)
    return text or "0s"


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema({"type": "string", "pattern": DURATION_PATTERN}),
]


def _check_int_or_percent(value: int | str) -> int | str:
    if isinstance(value, int):
        if value < 0:
            raise ValueError("must be a non-negative integer or a percentage such as 25%")
    elif not re.fullmatch(PERCENT_PATTERN, value):
        raise ValueError(f"{value!r} is not a non-negative integer or a percentage such as 25%")
    return value


IntOrPercent = Annotated[
    int | str,
    AfterValidator(_check_int_or_percent),
    WithJsonSchema(
        {
            "x-kubernetes-int-or-string": True,
            "anyOf": [{"type": "integer"}, {"type": "string"}],
            "minimum": 0,
            "pattern": PERCENT_PATTERN,
        }
    ),
]
"""A count (`2`) or a percentage of the desired replicas (`"25%"`), as in a Deployment."""


def is_zero(value: int | str) -> bool:
    """Whether an int-or-percent says "none at all" (`0` or `"0%"`)."""
    return value in (0, "0%")


K8sName = Annotated[str, Field(min_length=1, max_length=253, pattern=K8S_NAME_PATTERN)]
ConfigKey = Annotated[str, Field(min_length=1, max_length=253, pattern=CONFIG_KEY_PATTERN)]


class LocalObjectReference(ApiModel):
    """A reference to an object by name, in the namespace (or scope) of the referrer."""

    name: K8sName = Field(description="Name of the referenced object.")


class KeyReference(ApiModel):
    """A key of a Secret or ConfigMap in the namespace of the referrer."""

    name: K8sName = Field(description="Name of the Secret or ConfigMap.")
    key: ConfigKey = Field(description="Key inside the Secret or ConfigMap data.")


class NamespacedKeyReference(ApiModel):
    """A key of a Secret or ConfigMap referenced by a cluster-scoped object.

    The operator reads such objects only from its own namespace (`--cluster-resource-namespace`),
    as cert-manager does for ClusterIssuers. `namespace` stays optional so that manifests that
    already name that namespace keep working; any other namespace is refused by the operator
    (the schema cannot know which namespace the operator runs in).
    """

    name: K8sName = Field(description="Name of the Secret or ConfigMap.")
    namespace: K8sName | None = Field(
        default=None,
        description="The operator's own namespace (its --cluster-resource-namespace), where "
        "it is read from when omitted; any other namespace is refused.",
    )
    key: ConfigKey = Field(description="Key inside the Secret or ConfigMap data.")


class ConditionStatus(StrEnum):
    """The three values of a condition's status, as in metav1.Condition."""

    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


MAX_CONDITIONS = 16
CONDITIONS_SCHEMA_EXTRA: dict[str, Any] = {
    "x-kubernetes-list-type": "map",
    "x-kubernetes-list-map-keys": ["type"],
}


class Condition(ApiModel):
    """One aspect of the object's state, in the shape of metav1.Condition (kstatus)."""

    type: str = Field(
        min_length=1,
        max_length=316,
        pattern=r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
        r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$",
        description="Type of the condition in CamelCase, such as Ready, Reconciling or Stalled.",
    )
    status: ConditionStatus = Field(description="Status of the condition: True, False or Unknown.")
    reason: str = Field(
        min_length=1,
        max_length=1024,
        pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$",
        description="Programmatic identifier, in CamelCase, of the reason for the last transition.",
    )
    message: str = Field(
        default="",
        max_length=32768,
        description="Human-readable detail of the transition: what happened, what to change.",
    )
    last_transition_time: datetime = Field(
        description="When the status last changed (not the reason or message).",
    )
    observed_generation: int | None = Field(
        default=None,
        ge=0,
        description="The metadata.generation the condition was set against.",
    )


class ObjectMeta(ApiModel):
    """The parts of metav1.ObjectMeta vmroll reads; the API server owns the rest."""

    model_config = ConfigDict(extra="ignore")

    name: str = Field(description="Name of the object.")
    namespace: str | None = Field(default=None, description="Namespace of a namespaced object.")
    uid: str | None = Field(default=None, description="Unique ID the API server assigned.")
    generation: int | None = Field(default=None, description="Generation of the spec.")
    labels: dict[str, str] = Field(default_factory=dict, description="Labels of the object.")
    annotations: dict[str, str] = Field(
        default_factory=dict, description="Annotations of the object."
    )
