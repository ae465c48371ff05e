"""The builder VM of an image capture: its name, its tags, and the next step towards a VM that
has finished configuring itself; pure, no I/O, no clock.

A capture with `source.builder` first creates a VM from the base image with the template's
cloud-init and waits for its completion signal; only then does plan/capture.py walk it through
deallocate, generalize and capture. The builder's name is derived from the capture's UID, so
that a create sent again after a crash finds the same VM and never makes a second one (creates
carry `If-None-Match: *`: the 412 is read back as the capture's own VM by its capture-UID tag).
Its tags say whose it is: vmroll deletes or otherwise touches a VM of that name only when its
capture-UID tag is the capture's. A VM that does not become healthy within the timeout is kept
for inspection, and the capture stalls saying what to change.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from vmroll.plan.naming import MAX_VM_NAME_LENGTH, uid_tag
from vmroll.plan.ownership import (
    CAPTURE_NAMESPACE_TAG,
    CAPTURE_TAG,
    CAPTURE_UID_TAG,
    MAX_TAGS,
    TAG_PREFIX,
)

HEALTHY = "healthy"
_BUILD_SUFFIX = "-build-"
_BUSY = frozenset({"creating", "updating", "deleting", "migrating"})


class BuilderStepKind(StrEnum):
    CREATE = "Create"
    WAIT = "Wait"
    BUILT = "Built"
    STALL = "Stall"


class BuilderStallReason(StrEnum):
    BUILDER_TIMED_OUT = "BuilderTimedOut"
    BUILDER_FAILED = "BuilderFailed"
    BUILDER_NOT_OWNED = "BuilderNotOwned"


class DisposalStepKind(StrEnum):
    DELETE = "Delete"
    WAIT = "Wait"
    DONE = "Done"


@dataclass(frozen=True)
class CaptureIdentity:
    namespace: str
    name: str
    uid: str


@dataclass(frozen=True)
class BuilderVm:
    """The builder VM as Azure reports it now."""

    capture_uid: str | None
    """Its capture-UID tag."""
    provisioning_state: str
    power_state: str | None
    health: str | None


@dataclass(frozen=True)
class BuilderSeen:
    vm_id: str
    vm: BuilderVm | None
    capture_uid: str
    elapsed_seconds: float | None
    """Since Azure accepted the create; None before."""
    timeout_seconds: int


@dataclass(frozen=True)
class BuilderStep:
    kind: BuilderStepKind
    message: str
    stall_reason: BuilderStallReason | None = None


def builder_name(capture: CaptureIdentity) -> str:
    """`<capture>-build-<uid5>`: the capture's name for people, five characters of its UID."""
    suffix = f"{_BUILD_SUFFIX}{uid_tag(capture.uid)}"
    prefix = re.sub(r"[^a-z0-9-]", "-", capture.name.lower())
    return (prefix[: MAX_VM_NAME_LENGTH - len(suffix)].strip("-") or "capture") + suffix


def builder_tags(user_tags: Mapping[str, str], capture: CaptureIdentity) -> dict[str, str]:
    """The user's tags, then the ones that mark the VM as the capture's builder."""
    reserved = sorted(name for name in user_tags if name.startswith(TAG_PREFIX))
    if reserved:
        raise ValueError(f"tag names {reserved} use the prefix {TAG_PREFIX} reserved for vmroll")
    tags = {
        **user_tags,
        CAPTURE_UID_TAG: capture.uid,
        CAPTURE_TAG: capture.name,
        CAPTURE_NAMESPACE_TAG: capture.namespace,
    }
    if len(tags) > MAX_TAGS:
        raise ValueError(f"a VM can carry {MAX_TAGS} tags; this one would carry {len(tags)}")
    return tags


def builder_step(seen: BuilderSeen) -> BuilderStep:
    """The one step that moves the builder on, until its guest reports healthy."""
    vm = seen.vm
    if vm is None:
        return BuilderStep(BuilderStepKind.CREATE, f"creating the builder VM {seen.vm_id}")
    if vm.capture_uid != seen.capture_uid:
        return BuilderStep(
            BuilderStepKind.STALL,
            f"a VM {seen.vm_id} exists that is not this capture's builder (its "
            f"{CAPTURE_UID_TAG} tag differs); vmroll does not touch it: delete or rename it",
            BuilderStallReason.BUILDER_NOT_OWNED,
        )
    state = vm.provisioning_state.lower()
    if state == "failed":
        return BuilderStep(
            BuilderStepKind.STALL,
            f"the builder VM {seen.vm_id} failed to provision; check its base image and size "
            "in spec.source.builder, delete the VM, and create another ImageCapture",
            BuilderStallReason.BUILDER_FAILED,
        )
    if state not in _BUSY and vm.power_state == "running" and vm.health == HEALTHY:
        return BuilderStep(BuilderStepKind.BUILT, f"the builder VM {seen.vm_id} is healthy")
    elapsed = seen.elapsed_seconds or 0.0
    if elapsed > seen.timeout_seconds:
        return BuilderStep(
            BuilderStepKind.STALL,
            f"the builder VM {seen.vm_id} did not report GuestHealthy within "
            f"{seen.timeout_seconds} s (guest health: {vm.health or 'unknown'}); it is kept for "
            "inspection. Fix spec.source.builder.template.customData so that cloud-init ends "
            "healthy, or raise spec.source.builder.completion.timeoutSeconds, then create "
            "another ImageCapture",
            BuilderStallReason.BUILDER_TIMED_OUT,
        )
    if state in _BUSY:
        return BuilderStep(BuilderStepKind.WAIT, f"the builder VM {seen.vm_id} is {state}")
    return BuilderStep(
        BuilderStepKind.WAIT,
        f"waiting for the builder VM {seen.vm_id} to report GuestHealthy "
        f"({int(elapsed)} of {seen.timeout_seconds} s)",
    )


def disposal_step(vm: BuilderVm | None, capture_uid: str) -> DisposalStepKind:
    """With disposal Delete, once the version is created: delete the builder if it is ours."""
    if vm is None or vm.capture_uid != capture_uid:
        return DisposalStepKind.DONE
    if vm.provisioning_state.lower() == "deleting":
        return DisposalStepKind.WAIT
    return DisposalStepKind.DELETE
