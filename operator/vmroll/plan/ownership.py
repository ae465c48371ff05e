"""Which VMs in a resource group belong to a pool, and the tags that say so.

vmroll shares resource groups with people and with other pools, so it acts only on VMs whose
pool-UID tag is its pool's UID. A VM that looks like the pool's (its pool tags or its name
match) without that UID is a "look-alike": the VM of a pool of the same name that was deleted
with deletionPolicy Retain, or of another cluster. vmroll never touches it, and reports it.

Azure tag names cannot contain `< > % & \\ ? /`, hence `vmroll.io_pool-uid` rather than a
Kubernetes-style `vmroll.io/pool-uid`.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, Protocol, TypeVar

from vmroll.plan.naming import uid_tag, vm_index

TAG_PREFIX = "vmroll.io_"
POOL_UID_TAG = "vmroll.io_pool-uid"
POOL_TAG = "vmroll.io_pool"
POOL_NAMESPACE_TAG = "vmroll.io_pool-namespace"
REVISION_TAG = "vmroll.io_revision"
IMAGE_VERSION_TAG = "vmroll.io_image-version"
RESTART_TAG = "vmroll.io_restarted-at"
"""The restart stamp a VM was written under; only on VMs of a pool that was restarted."""
RELEASED_TAG = "vmroll.io_released"
"""Set on the VMs of a `deletionPolicy: Retain` pool when the pool goes: vmroll lets go."""
CAPTURE_UID_TAG = "vmroll.io_capture-uid"
CAPTURE_TAG = "vmroll.io_capture"
CAPTURE_NAMESPACE_TAG = "vmroll.io_capture-namespace"
"""On a builder VM and on every gallery image version vmroll captures: the ImageCapture's UID,
name and namespace. Only a version with the UID tag is vmroll's, for retention to delete; a pool
rolling onto a version names the capture from them (`captured_by`), whichever operator made it."""
OWNERSHIP_TAGS = (POOL_UID_TAG, POOL_TAG, POOL_NAMESPACE_TAG, REVISION_TAG, IMAGE_VERSION_TAG)
MAX_TAGS = 50
"""Azure's limit of tags per resource."""


@dataclass(frozen=True)
class PoolIdentity:
    """Who a pool is: enough to tag its VMs and to recognise them."""

    namespace: str
    name: str
    uid: str


class Ownership(StrEnum):
    """How a listed VM relates to a pool."""

    OWNED = "Owned"
    LOOK_ALIKE = "LookAlike"
    UNRELATED = "Unrelated"


class ListedVm(Protocol):
    """What classification reads of a listed VM (an SDK VirtualMachine fits)."""

    @property
    def name(self) -> str | None: ...

    @property
    def tags(self) -> Mapping[str, str] | None: ...


VmT = TypeVar("VmT", bound=ListedVm)


@dataclass(frozen=True)
class Partition(Generic[VmT]):
    """A listing split by ownership, in listing order."""

    owned: tuple[VmT, ...]
    look_alikes: tuple[VmT, ...]
    unrelated: tuple[VmT, ...]


def ownership_tags(
    pool: PoolIdentity, revision: str, image_version: str | None, restart: str | None = None
) -> dict[str, str]:
    """The tags that mark a VM as the pool's, at a revision, image version and restart stamp."""
    tags = {
        POOL_UID_TAG: pool.uid,
        POOL_TAG: pool.name,
        POOL_NAMESPACE_TAG: pool.namespace,
        REVISION_TAG: revision,
    }
    if image_version is not None:
        tags[IMAGE_VERSION_TAG] = image_version
    if restart is not None:
        tags[RESTART_TAG] = restart
    return tags


def vm_tags(
    user_tags: Mapping[str, str],
    pool: PoolIdentity,
    revision: str,
    image_version: str | None,
    restart: str | None = None,
) -> dict[str, str]:
    """The full tag set of a new or updated VM: the user's tags, then vmroll's."""
    reserved = sorted(name for name in user_tags if name.startswith(TAG_PREFIX))
    if reserved:
        raise ValueError(f"tag names {reserved} use the prefix {TAG_PREFIX} reserved for vmroll")
    tags = {**user_tags, **ownership_tags(pool, revision, image_version, restart)}
    if len(tags) > MAX_TAGS:
        raise ValueError(f"a VM can carry {MAX_TAGS} tags; this one would carry {len(tags)}")
    return tags


def classify(name: str | None, tags: Mapping[str, str] | None, pool: PoolIdentity) -> Ownership:
    """Owned when the pool-UID tag is the pool's; look-alike when it only looks so."""
    tags = tags or {}
    if tags.get(POOL_UID_TAG) == pool.uid:
        return Ownership.OWNED
    same_pool_tags = (
        tags.get(POOL_TAG) == pool.name and tags.get(POOL_NAMESPACE_TAG) == pool.namespace
    )
    same_name = name is not None and vm_index(name, pool.name, pool.uid) is not None
    return Ownership.LOOK_ALIKE if same_pool_tags or same_name else Ownership.UNRELATED


def partition(vms: Iterable[VmT], pool: PoolIdentity) -> Partition[VmT]:
    """Split a resource group's listing into the pool's VMs, look-alikes and the rest."""
    groups: dict[Ownership, list[VmT]] = {kind: [] for kind in Ownership}
    for vm in vms:
        groups[classify(vm.name, vm.tags, pool)].append(vm)
    return Partition(
        owned=tuple(groups[Ownership.OWNED]),
        look_alikes=tuple(groups[Ownership.LOOK_ALIKE]),
        unrelated=tuple(groups[Ownership.UNRELATED]),
    )


@dataclass(frozen=True)
class PoolShare(Generic[VmT]):
    """A pool's part of a listing, in listing order: its VMs and its look-alikes."""

    owned: tuple[VmT, ...]
    look_alikes: tuple[VmT, ...]


class OwnershipIndex(Generic[VmT]):
    """A resource group's listing indexed once by what classification reads, so that each pool
    sharing the listing finds its part in the time of its own VMs, not of the whole group's.

    `partition` reads every VM of the listing for one pool: 1,000 pools sharing a listing of
    10,000 VMs looked at ten million VMs per window. A VM can be a pool's or look like it only
    through its pool-UID tag, its pool name and namespace tags, or a name of the pool's form,
    which carries `uid_tag(pool.uid)` before its index; the index keys the listing by these
    three, and `classify` confirms the few candidates, so a share is exactly `partition`'s.
    """

    def __init__(self, vms: Iterable[VmT]) -> None:
        # Keys map to positions in the listing, packed in arrays: (position, VM) pairs kept
        # 1.5 MiB more for a group's list of 20,000 VMs, and a group holds two lists
        # mid-rollout (benchmarks/pool_memory.py).
        self._vms = tuple(vms)
        self._by_uid: dict[str, array[int]] = {}
        self._by_pool_tags: dict[tuple[str, str], array[int]] = {}
        self._by_name_tag: dict[str, array[int]] = {}
        for position, vm in enumerate(self._vms):
            tags = vm.tags or {}
            uid = tags.get(POOL_UID_TAG)
            if uid is not None:
                _positions(self._by_uid, uid).append(position)
            name, namespace = tags.get(POOL_TAG), tags.get(POOL_NAMESPACE_TAG)
            if name is not None and namespace is not None:
                _positions(self._by_pool_tags, (namespace, name)).append(position)
            name_tag = _name_tag(vm.name)
            if name_tag is not None:
                _positions(self._by_name_tag, name_tag).append(position)

    def share(self, pool: PoolIdentity) -> PoolShare[VmT]:
        vms = self._vms
        candidates = {
            *self._by_pool_tags.get((pool.namespace, pool.name), ()),
            *self._by_name_tag.get(uid_tag(pool.uid), ()),
        }
        return PoolShare(
            owned=tuple(vms[position] for position in self._by_uid.get(pool.uid, ())),
            look_alikes=tuple(
                vms[position]
                for position in sorted(candidates)
                if classify(vms[position].name, vms[position].tags, pool) is Ownership.LOOK_ALIKE
            ),
        )


K = TypeVar("K")


def _positions(index: dict[K, array[int]], key: K) -> array[int]:
    positions = index.get(key)
    if positions is None:
        positions = index[key] = array("L")
    return positions


def _name_tag(name: str | None) -> str | None:
    """The part of `<pool>-<uid5>-<index>` that `uid_tag` makes, if the name has that form."""
    if name is None:
        return None
    rest, _, index = name.lower().rpartition("-")
    if not index.isdigit():
        return None
    return rest.rpartition("-")[2] or None


def captured_by(tags: Mapping[str, str]) -> str | None:
    """`<namespace>/<name>` of the ImageCapture that made a gallery image version, from its tags."""
    name = tags.get(CAPTURE_TAG)
    if not name:
        return None
    namespace = tags.get(CAPTURE_NAMESPACE_TAG)
    return f"{namespace}/{name}" if namespace else name
