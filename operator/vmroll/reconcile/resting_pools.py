"""Pools at rest wait for their group's next list, not for the resync interval.

A pool at rest passes again only to find that nothing it reads changed (reconcile/at_rest.py).
At a 60-s resync that is 16.7 passes a second at 1,000 pools, ~3 % of a core at 1,000 x 1 and
the larger part of 1,000 x 10's idle CPU besides the views, for passes that nearly always found
the same share of the same list and the same image. What Azure shows such a pass is its share of
its group's list and its image lookups. So each list, when it ends, compares the share of every
pool resting on it with the share the pool rests on, and wakes those whose share changed
(`listed`): a VM deleted or changed out of band is seen when the list that shows it ends.

Lists and image lookups still come as often as before, by one pool per group and image (the
image, its region and how its pools track it: `image_key`), its sentinel: the first pool that
came to rest there, which keeps passing at the resync interval and so takes (and starts) the
group's lists, and looks the image up again once its `checkInterval` has passed, as every pool
did. The others sleep until their instance views are due a refresh (`rest_pause`). When the
sentinel leaves the rest (a newer image found, a VM of its own changed) or goes, the next pool
resting there is woken and takes its place; its pass finds what the sentinel found, leaves in
turn if that changes it, and so on down the line. A pool whose pass reads what neither a watch
nor the list shows, a template's Secret or ConfigMap, keeps the resync interval.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime

from vmroll.api.pool import VirtualMachinePool
from vmroll.azure.vms import ListedShare, PoolVm
from vmroll.plan.ownership import OwnershipIndex, PoolIdentity
from vmroll.reconcile.memory import AtRest

GroupKey = tuple[Hashable, str]
"""A group's lists' key: the connection and the resource group (reconcile/shared_listing.py)."""


@dataclass(frozen=True)
class _Resting:
    identity: PoolIdentity
    share: ListedShare


def _no_wake(uid: str) -> None:
    """No daemon to wake (a GroupListings outside the operator)."""


class RestingPools:
    """The pools at rest on each group's lists, by the image they look up, in the order they
    came to rest."""

    def __init__(self, wake: Callable[[str], object] = _no_wake) -> None:
        self._wake = wake
        self._by_group: dict[GroupKey, dict[Hashable, dict[str, _Resting]]] = {}
        self._place_of: dict[str, tuple[GroupKey, Hashable]] = {}

    def rest(
        self, key: GroupKey, image: Hashable, uid: str, identity: PoolIdentity, share: ListedShare
    ) -> None:
        """The pool rests on the group's lists with `share`, looking up `image`; one resting
        there already keeps its place (a sentinel stays one)."""
        if self._place_of.get(uid) not in (None, (key, image)):
            self.leave(uid)
        self._by_group.setdefault(key, {}).setdefault(image, {})[uid] = _Resting(identity, share)
        self._place_of[uid] = (key, image)

    def leave(self, uid: str) -> None:
        """The pool no longer rests (or is gone); a sentinel's successor is woken."""
        place = self._place_of.pop(uid, None)
        if place is None:
            return
        key, image = place
        images = self._by_group[key]
        pools = images[image]
        was_sentinel = next(iter(pools)) == uid
        del pools[uid]
        if not pools:
            del images[image]
            if not images:
                del self._by_group[key]
        elif was_sentinel:
            self._wake(next(iter(pools)))

    def sentinel(self, uid: str) -> bool:
        """Whether the pool keeps passing at the resync interval: it is the first to rest on
        its group with its image, or rests on none."""
        place = self._place_of.get(uid)
        if place is None:
            return True
        key, image = place
        return next(iter(self._by_group[key][image])) == uid

    def listed(
        self, key: GroupKey, index: OwnershipIndex[PoolVm], stale: Callable[[str], bool]
    ) -> None:
        """A list of the group ended: every pool resting on it whose share it shows changed,
        or that would not take it as it is (`stale`: it wrote since, or follows VMs it wrote),
        leaves the rest and is woken."""
        for pools in list(self._by_group.get(key, {}).values()):
            for uid, resting in list(pools.items()):
                share = index.share(resting.identity)
                if stale(uid) or (share.owned, share.look_alikes) != resting.share:
                    self.leave(uid)
                    self._wake(uid)

    def __len__(self) -> int:
        return len(self._place_of)


def image_key(pool: VirtualMachinePool) -> Hashable:
    """What a pool's image lookups depend on: pools alike in these share one sentinel, whose
    passes at the resync interval look the image up as often as each of them did."""
    spec = pool.spec
    policy = spec.update_policy
    return (spec.location, spec.image, policy.track, policy.check_interval)


def rest_pause(
    rest: AtRest | None, pool: VirtualMachinePool, sentinel: bool, now: datetime, resync: float
) -> float:
    """Seconds a settled pool pauses: the resync interval, unless it rests on its group's lists
    (and is not a sentinel) and reads nothing else that no watch shows; then until its views
    are due a refresh."""
    if rest is None or sentinel or reads_unwatched(pool):
        return resync
    return max(resync, (rest.until - now).total_seconds())


def reads_unwatched(pool: VirtualMachinePool) -> bool:
    """Whether the pool's pass reads a Secret or ConfigMap of its template: read at each pass,
    since vmroll watches neither."""
    template = pool.spec.template
    custom = template.custom_data
    return any(key.secret_ref is not None for key in template.ssh_public_keys) or (
        custom is not None and (custom.secret_ref is not None or custom.config_map_ref is not None)
    )
