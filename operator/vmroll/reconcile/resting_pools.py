"""Pools at rest wait for their group's next list, not for the resync interval.

A pool at rest passes again only to find that nothing it reads changed (reconcile/at_rest.py).
At a 60-s resync that is 16.7 passes a second at 1,000 pools, ~3 % of a core at 1,000 x 1 and
the larger part of 1,000 x 10's idle CPU besides the views, for passes that nearly always found
the same share of the same list. What Azure shows such a pass is its share of its group's list;
so each list, when it ends, compares the share of every pool resting on it with the share the pool
rests on, and wakes those whose share changed (`listed`): a VM deleted or changed out of band is
seen when the list that shows it ends.

Lists still come at the pace pools at rest took them (plan/list_pacing.py `oldest_at_rest`),
started by one pool per group, its sentinel: the first pool that came to rest on it, which keeps
passing at the resync interval and so takes (and starts) the group's lists as every pool did.
The others sleep until their instance views are due or their image is checked again
(`rest_pause`); when the sentinel leaves the rest or goes, the next pool resting on the group
is woken to take its place. A pool whose pass reads what neither a watch nor the list shows, a
template's Secret or ConfigMap, keeps the resync interval.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime

from vmroll.api.pool import VirtualMachinePool
from vmroll.azure.vms import PoolVm
from vmroll.plan.ownership import OwnershipIndex, PoolIdentity
from vmroll.reconcile.memory import AtRest

Share = tuple[tuple[PoolVm, ...], ...]
"""A pool's VMs and its look-alikes as a list shows them (AtRest.share)."""
GroupKey = tuple[Hashable, str]
"""A group's lists' key: the connection and the resource group (reconcile/shared_listing.py)."""


@dataclass(frozen=True)
class _Resting:
    identity: PoolIdentity
    share: Share


def _no_wake(uid: str) -> None:
    """No daemon to wake (a GroupListings outside the operator)."""


class RestingPools:
    """The pools at rest on each group's lists, in the order they came to rest."""

    def __init__(self, wake: Callable[[str], object] = _no_wake) -> None:
        self._wake = wake
        self._by_group: dict[GroupKey, dict[str, _Resting]] = {}
        self._group_of: dict[str, GroupKey] = {}

    def rest(self, key: GroupKey, uid: str, identity: PoolIdentity, share: Share) -> None:
        """The pool rests on the group's lists with `share`; one resting already keeps its
        place (a sentinel stays one)."""
        if self._group_of.get(uid) not in (None, key):
            self.leave(uid)
        self._by_group.setdefault(key, {})[uid] = _Resting(identity, share)
        self._group_of[uid] = key

    def leave(self, uid: str) -> None:
        """The pool no longer rests (or is gone); a sentinel's successor is woken."""
        key = self._group_of.pop(uid, None)
        if key is None:
            return
        pools = self._by_group[key]
        was_sentinel = next(iter(pools)) == uid
        del pools[uid]
        if not pools:
            del self._by_group[key]
        elif was_sentinel:
            self._wake(next(iter(pools)))

    def sentinel(self, uid: str) -> bool:
        """Whether the pool keeps passing at the resync interval: it is the first to rest on
        its group, or rests on none."""
        key = self._group_of.get(uid)
        return key is None or next(iter(self._by_group[key])) == uid

    def listed(
        self, key: GroupKey, index: OwnershipIndex[PoolVm], stale: Callable[[str], bool]
    ) -> None:
        """A list of the group ended: every pool resting on it whose share it shows changed,
        or that would not take it as it is (`stale`: it wrote since, or follows VMs it wrote),
        leaves the rest and is woken."""
        for uid, resting in list(self._by_group.get(key, {}).items()):
            share = index.share(resting.identity)
            if stale(uid) or (share.owned, share.look_alikes) != resting.share:
                self.leave(uid)
                self._wake(uid)

    def __len__(self) -> int:
        return len(self._group_of)


def rest_pause(
    rest: AtRest | None, pool: VirtualMachinePool, sentinel: bool, now: datetime, resync: float
) -> float:
    """Seconds a settled pool pauses: the resync interval, unless it rests on its group's lists
    (and is not their sentinel) and reads nothing else that no watch shows; then until its
    views are due, or its image is looked up again, whichever comes first."""
    if rest is None or sentinel or reads_unwatched(pool):
        return resync
    until = (rest.until - now).total_seconds()
    check = pool.spec.update_policy.check_interval.total_seconds()
    return max(resync, min(until, check))


def reads_unwatched(pool: VirtualMachinePool) -> bool:
    """Whether the pool's pass reads a Secret or ConfigMap of its template: read at each pass,
    since vmroll watches neither."""
    template = pool.spec.template
    custom = template.custom_data
    return any(key.secret_ref is not None for key in template.ssh_public_keys) or (
        custom is not None and (custom.secret_ref is not None or custom.config_map_ref is not None)
    )
