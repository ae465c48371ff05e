"""Retention of a Ready ImageCapture: delete the old versions of its definition nobody uses.

Runs on the pass that sees the capture Ready and on every resync after, so it converges when a
pool lets go of a version. Each run lists the definition's versions, then reads every
VirtualMachinePool of the cluster (any namespace) as late as possible before deleting, and asks
plan/retention.py which versions go. What a pool holds on to comes from its spec (the gallery
definition and version it asks for) and its status (the version its target revision resolved
to, the versions its VMs run, the one it would roll back to): see `pool_use`.

A delete is sent and not followed: Azure lists the version `Deleting` until it is gone, and the
planner never deletes a version in that state, so a restart sends nothing twice. Each deletion
is a Normal event; a failure to list, read pools or delete sets RetentionApplied False with the
cause and a Warning event, and the next resync tries again. Ready is left alone: the version the
capture produced is available whatever retention does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from vmroll.api.capture import ImageCapture
from vmroll.api.capture_status import (
    MAX_RETENTION_ENTRIES,
    ImageCaptureStatus,
    RetainedVersion,
    RetentionStatus,
)
from vmroll.api.pool_status import RolloutOutcome
from vmroll.api.types import ConditionStatus, ObjectMeta
from vmroll.azure.capture_gateway import CaptureGateway
from vmroll.azure.errors import AzureGatewayError
from vmroll.plan.conditions import ConditionType, ConditionUpdate
from vmroll.plan.ownership import CAPTURE_NAMESPACE_TAG, CAPTURE_TAG, CAPTURE_UID_TAG
from vmroll.plan.reasons import Reason
from vmroll.plan.retention import (
    PoolUse,
    RetentionPlan,
    plan_retention,
)
from vmroll.plan.versions import is_latest
from vmroll.reconcile.failures import describe_error

VERSION_DELETED = "VersionDeleted"
"""The event reason of each version retention deletes."""
_NAMED_IN_MESSAGE = 5


class PoolSource(Protocol):
    async def pools(self) -> Sequence[Mapping[str, Any]]:
        """Every VirtualMachinePool of the cluster, as stored."""
        ...


class EventSink(Protocol):
    def event(self, type_: str, reason: str, message: str) -> None: ...


def pool_use(pool: Mapping[str, Any], definition_id: str) -> PoolUse:
    """What one pool holds on to among the versions of `definition_id`."""
    meta, spec = pool.get("metadata") or {}, pool.get("spec") or {}
    status = pool.get("status") or {}
    name = f"{meta.get('namespace', '')}/{meta.get('name', '')}"
    definition = definition_id.lower()
    runs = {i.get("imageVersion") for i in status.get("instances") or ()}
    for record in status.get("history") or ():
        in_progress = record.get("outcome") == RolloutOutcome.IN_PROGRESS.value
        if in_progress or record.get("revision") == status.get("currentRevision"):
            runs.add(record.get("imageVersion"))
    targets: set[str] = set()
    image = status.get("image") or {}
    resolved_id = str(image.get("imageId") or "").lower()
    if resolved_id.rpartition("/versions/")[0] == definition and image.get("resolvedVersion"):
        targets.add(str(image["resolvedVersion"]))
    gallery = (spec.get("image") or {}).get("gallery") or {}
    follows = False
    if str(gallery.get("imageId") or "").lower() == definition:
        version = str(gallery.get("version") or "latest")
        follows = is_latest(version)
        if not follows:
            targets.add(version)
    return PoolUse(
        pool=name,
        runs=frozenset(str(v) for v in runs if v),
        targets=frozenset(targets),
        follows_latest=follows,
        location=str(spec["location"]) if spec.get("location") else None,
    )


async def apply_retention(
    capture: ImageCapture,
    status: ImageCaptureStatus,
    gateway: CaptureGateway,
    pools: PoolSource,
    events: EventSink,
    now: datetime,
) -> ImageCaptureStatus | None:
    """The status after one run of retention, or None when nothing changed."""
    retention = capture.spec.retention
    assert retention is not None  # the pass calls it only for a capture with spec.retention
    definition = capture.spec.target.image_id
    keep = retention.keep_newest
    before = status.retention or RetentionStatus()
    deleted: list[str] = []
    try:
        versions = await gateway.list_versions(definition)
        uses = await _uses(pools, definition)
        plan = plan_retention(versions, keep, status.version, uses)
        for name in plan.delete:
            await gateway.delete_version(definition, name)
            deleted.append(name)
            events.event(
                "Normal",
                VERSION_DELETED,
                f"deleted version {name} of {definition} (retention keepNewest {keep})",
            )
    except (AzureGatewayError, _PoolsUnreadable) as error:
        message = f"retention (keepNewest {keep}) stopped; retrying on the next resync: {error}"
        events.event("Warning", Reason.RETENTION_FAILED.value, message)
        after = _with(status, before, deleted, before.kept)
        return _conditioned(after, capture, ConditionStatus.FALSE, Reason.RETENTION_FAILED,
                            message, now)  # fmt: skip
    kept = [RetainedVersion(name=k.name, reason=k.because.value, message=k.detail)
            for k in plan.kept]  # fmt: skip
    after = _with(status, before, deleted, kept)
    message = _summary(keep, plan)
    return _conditioned(after, capture, ConditionStatus.TRUE, Reason.RETENTION_APPLIED,
                        message, now)  # fmt: skip


def retention_blocked(
    capture: ImageCapture,
    status: ImageCaptureStatus,
    events: EventSink,
    now: datetime,
    cause: str,
) -> ImageCaptureStatus | None:
    """RetentionApplied False when the capture cannot reach Azure at all (its account)."""
    message = f"retention cannot run: {cause}"
    after = _conditioned(status, capture, ConditionStatus.FALSE, Reason.RETENTION_FAILED,
                         message, now)  # fmt: skip
    if after is not None:
        events.event("Warning", Reason.RETENTION_FAILED.value, message)
    return after


def capture_tags(meta: ObjectMeta) -> dict[str, str]:
    """The tags that mark a version as vmroll's capture, which retention may delete: the same
    as its builder VM's."""
    return {
        CAPTURE_UID_TAG: meta.uid or "",
        CAPTURE_TAG: meta.name or "",
        CAPTURE_NAMESPACE_TAG: meta.namespace or "",
    }


class _PoolsUnreadable(Exception):
    """The pools could not be listed: without them, no version is sure to be unused."""


async def _uses(pools: PoolSource, definition: str) -> list[PoolUse]:
    try:
        found = await pools.pools()
    except Exception as error:
        raise _PoolsUnreadable(
            f"cannot list VirtualMachinePools: {describe_error(error)}"
        ) from error
    return [pool_use(pool, definition) for pool in found]


def _with(
    status: ImageCaptureStatus,
    before: RetentionStatus,
    deleted: list[str],
    kept: Sequence[RetainedVersion],
) -> ImageCaptureStatus:
    history = [*before.deleted, *deleted][-MAX_RETENTION_ENTRIES:]
    retention = RetentionStatus(deleted=history, kept=list(kept)[:MAX_RETENTION_ENTRIES])
    return status.model_copy(update={"retention": retention})


def _conditioned(
    status: ImageCaptureStatus,
    capture: ImageCapture,
    condition: ConditionStatus,
    reason: Reason,
    message: str,
    now: datetime,
) -> ImageCaptureStatus | None:
    update = ConditionUpdate.of(status.conditions).set(
        ConditionType.RETENTION_APPLIED,
        condition,
        reason.value,
        message,
        observed_generation=capture.metadata.generation,
        now=now,
    )
    before = capture.status or ImageCaptureStatus()
    if not update.changed and status.retention == before.retention:
        return None
    return status.model_copy(update={"conditions": list(update.conditions)})


def _summary(keep: int, plan: RetentionPlan) -> str:
    """The state retention leaves, the same on every resync until something changes (the
    deletions of one run are in the events and status.retention.deleted)."""
    message = f"keeping the newest {keep} versions of the definition"
    if not plan.kept:
        return message + "; none older is left"
    named = [f"{k.name} ({k.detail})" for k in plan.kept[:_NAMED_IN_MESSAGE]]
    more = len(plan.kept) - len(named)
    message += "; older ones kept: " + ", ".join(named)
    return message + (f" and {more} more (status.retention.kept)" if more else "")
