"""Which versions of a gallery image definition a capture's retention deletes: pure, no I/O.

`spec.retention.keepNewest: N` keeps the newest N versions of the capture's target definition,
whoever published them, ranked by version number (the order Azure's `latest` and vmroll's
NextPatch use; `publishedDate` is when a copy started, which a re-published or backfilled version
makes misleading). Of the older ones, a version is deleted only when every rule below lets it go:

| older than the newest N, and ...                          | kept because           |
|-----------------------------------------------------------|------------------------|
| it is the version this capture produced                   | Own                    |
| it carries no vmroll capture tag (someone else made it)   | NotCaptured            |
| Azure is still writing it (Creating, Updating, Deleting)  | InProgress             |
| a pool's VMs run it, or a pool may roll back to it        | InUse                  |
| a pool pins it, resolved to it, or follows `latest`       | InUse                  |
|   and it is what `latest` means in the pool's region now  |                        |

A pool's status records the versions its VMs run by name only, not by definition, so a name
any pool's VMs run is kept in every definition: over-keeping costs storage, deleting a version
a VM runs breaks its reimage and the pool's rollback. A version whose name does not parse is
never ranked nor deleted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from vmroll.plan.ownership import CAPTURE_UID_TAG
from vmroll.plan.versions import (
    GalleryRegion,
    GalleryVersion,
    is_image_version,
    parse_image_version,
    resolve_gallery_latest,
)

MIN_KEEP_NEWEST = 1
_IN_PROGRESS = frozenset({"creating", "updating", "deleting", "migrating"})
_SUCCEEDED = "succeeded"


class KeptBecause(StrEnum):
    """Why a version older than the newest N survives retention."""

    OWN = "Own"
    NOT_CAPTURED = "NotCaptured"
    IN_PROGRESS = "InProgress"
    IN_USE = "InUse"


@dataclass(frozen=True)
class StoredVersion:
    """A version of the definition as Azure lists it."""

    name: str
    provisioning_state: str
    exclude_from_latest: bool = False
    tags: Mapping[str, str] = field(default_factory=dict, hash=False)
    regions: tuple[GalleryRegion, ...] = ()
    """Its target regions, with their own excludeFromLatest: what `latest` means in a region."""

    def captured_by_vmroll(self) -> bool:
        return bool(self.tags.get(CAPTURE_UID_TAG))


@dataclass(frozen=True)
class PoolUse:
    """What one VirtualMachinePool (any namespace) holds on to, from its spec and status."""

    pool: str
    """namespace/name, for the message."""
    runs: frozenset[str] = frozenset()
    """Version names its VMs run or its rollback goes to, in whatever definition."""
    targets: frozenset[str] = frozenset()
    """Version names of this definition it pins or resolved to."""
    follows_latest: bool = False
    """Whether its spec asks for this definition's `latest`."""
    location: str | None = None
    """Its region, where `latest` is resolved; unknown: the definition's newest eligible."""


@dataclass(frozen=True)
class Kept:
    name: str
    because: KeptBecause
    detail: str


@dataclass(frozen=True)
class RetentionPlan:
    delete: tuple[str, ...]
    """Oldest first."""
    kept: tuple[Kept, ...]
    """The versions older than the newest N that survive, oldest first, and why."""


def latest_version(versions: Iterable[StoredVersion], location: str | None = None) -> str | None:
    """What `latest` means now in `location` (as plan/versions.py resolves it for pools), or,
    without one, the definition's newest succeeded version not excluded anywhere."""
    if location is not None:
        gallery = [
            GalleryVersion(
                v.name,
                v.regions,
                v.exclude_from_latest,
                provisioned=v.provisioning_state.lower() == _SUCCEEDED,
            )
            for v in versions
        ]
        return resolve_gallery_latest(gallery, location)
    eligible = [
        parse_image_version(v.name)
        for v in versions
        if is_image_version(v.name)
        and v.provisioning_state.lower() == _SUCCEEDED
        and not v.exclude_from_latest
    ]
    return str(max(eligible)) if eligible else None


def plan_retention(
    versions: Iterable[StoredVersion],
    keep_newest: int,
    own_version: str | None,
    uses: Iterable[PoolUse],
) -> RetentionPlan:
    """The versions beyond the newest `keep_newest` to delete, and those kept despite their age."""
    if keep_newest < MIN_KEEP_NEWEST:
        raise ValueError(f"keepNewest must be at least {MIN_KEEP_NEWEST}, not {keep_newest}")
    listed = [v for v in versions if is_image_version(v.name)]
    ranked = sorted(listed, key=lambda v: parse_image_version(v.name), reverse=True)
    holders = _holders(listed, list(uses))
    delete: list[str] = []
    kept: list[Kept] = []
    for version in reversed(ranked[keep_newest:]):
        reason = _kept_because(version, own_version, holders)
        if reason is None:
            delete.append(version.name)
        else:
            kept.append(reason)
    return RetentionPlan(tuple(delete), tuple(kept))


def _holders(versions: list[StoredVersion], uses: list[PoolUse]) -> Mapping[str, list[str]]:
    """Version name -> the pools that hold on to it."""
    holders: dict[str, list[str]] = {}
    for use in uses:
        names = set(use.runs) | set(use.targets)
        latest = latest_version(versions, use.location) if use.follows_latest else None
        if latest is not None:
            names.add(latest)
        for name in names:
            holders.setdefault(name, []).append(use.pool)
    return holders


def _kept_because(
    version: StoredVersion, own_version: str | None, holders: Mapping[str, list[str]]
) -> Kept | None:
    name = version.name
    if name == own_version:
        return Kept(name, KeptBecause.OWN, "the version this capture produced")
    pools = holders.get(name)
    if pools:
        return Kept(name, KeptBecause.IN_USE, "used by pool " + ", ".join(sorted(set(pools))))
    if not version.captured_by_vmroll():
        return Kept(name, KeptBecause.NOT_CAPTURED, f"no {CAPTURE_UID_TAG} tag: not vmroll's")
    if version.provisioning_state.lower() in _IN_PROGRESS:
        return Kept(name, KeptBecause.IN_PROGRESS, f"Azure reports it {version.provisioning_state}")
    return None
