"""Which exact image a pool's VMs should run, and the newest one available.

- A pinned version (`1.2.3`) is the target; `latest` is still resolved, only to be reported as
  `status.image.latestAvailable`.
- `latest` with `updatePolicy.track: Latest` targets the newest version: when the shared cache
  finds a newer one (at most once per `checkInterval`), the pool rolls to it.
- `latest` with `track: Pinned` keeps the version it first resolved (kept in
  `status.image.resolvedVersion`) and only reports newer ones. After a rollback, status.image
  names the previous version the pool runs again; the kept version is then the one rolled back
  from, which the planner knows failed, so the pool stays rolled back until the spec changes.
- A managed image has no versions: it is its own target.
Both resolutions go through the shared cache, so a steady pool costs no extra request.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from vmroll.api.image import LATEST
from vmroll.api.pool import VirtualMachinePoolSpec
from vmroll.api.pool_status import ImageStatus, RolloutOutcome, VirtualMachinePoolStatus
from vmroll.api.strategy import Track
from vmroll.azure.images import ImageRef, ManagedImageRef, ResolvedImage
from vmroll.azure.protocol import ComputeGateway
from vmroll.reconcile.spec_map import image_ref, requested_text


@dataclass(frozen=True)
class ResolvedTarget:
    image: ResolvedImage
    latest_available: str | None


def _at(ref: ImageRef, version: str) -> ImageRef:
    return ref if isinstance(ref, ManagedImageRef) else replace(ref, version=version)


async def resolve_target(
    gateway: ComputeGateway,
    spec: VirtualMachinePoolSpec,
    previous: ImageStatus | None,
    *,
    held_back: str | None = None,
) -> ResolvedTarget:
    """`previous`: the status's image; `held_back`: `held_back_version` of the status."""
    location = spec.location
    max_age = spec.update_policy.check_interval.total_seconds()
    ref = image_ref(spec.image)
    requested = spec.image.requested_version
    if requested is None:
        return ResolvedTarget(await gateway.resolve_image(location, ref, max_age=max_age), None)
    if requested != LATEST:
        pinned = await gateway.resolve_image(location, ref, max_age=max_age)
        latest = await gateway.resolve_image(location, _at(ref, LATEST), max_age=max_age)
        return ResolvedTarget(pinned, latest.resolved_version)
    latest = await gateway.resolve_image(location, ref, max_age=max_age)
    kept = _kept_version(spec, previous, held_back)
    if kept is None or kept == latest.resolved_version:
        return ResolvedTarget(latest, latest.resolved_version)
    pinned = await gateway.resolve_image(location, _at(ref, kept), max_age=max_age)
    return ResolvedTarget(pinned, latest.resolved_version)


async def resolve_version(
    gateway: ComputeGateway, spec: VirtualMachinePoolSpec, version: str
) -> ResolvedImage:
    """The spec's image at an exact version (a managed image has none: it is itself)."""
    ref = _at(image_ref(spec.image), version)
    max_age = spec.update_policy.check_interval.total_seconds()
    return await gateway.resolve_image(spec.location, ref, max_age=max_age)


def held_back_version(status: VirtualMachinePoolStatus) -> str | None:
    """The image version the pool rolled back from, while the rollback is still its target."""
    records = status.history
    if len(records) < 2 or records[0].revision != status.update_revision:
        return None
    failed = records[1]
    return failed.image_version if failed.outcome is RolloutOutcome.ROLLED_BACK else None


def _kept_version(
    spec: VirtualMachinePoolSpec, previous: ImageStatus | None, held_back: str | None
) -> str | None:
    """With `track: Pinned`, the version `latest` resolved to before, for the same image."""
    if spec.update_policy.track is not Track.PINNED or previous is None:
        return None
    if previous.requested != requested_text(spec.image):
        return None
    return held_back or previous.resolved_version
