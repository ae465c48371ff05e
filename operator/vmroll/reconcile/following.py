"""Which recorded operations a pass polls, and which the group's shared list follows instead.

Polling every operation cost about 2.2 status reads (Azure's `Retry-After` is short next to a
create) plus the SDK's final GET of each create, so that ARM's reads bucket, not the write
buckets, bounded a fleet's creates and rollouts. The resource group's list, shared by every pool
in it (shared_listing.py, never older than the pool's own last write), shows each VM's
provisioning state in one read, so it settles what a list can prove (observe.settle_pending):
- a create is done when such a list shows its VM Succeeded: the name did not exist before
  (a create whose answer was lost is read by name instead, listing.py);
- a delete is done when such a list no longer shows its VM.

The operation itself is still polled (and its failure's code and message reach the condition
and the event as before) when:
- the list shows its VM Failed: one status read says why;
- it is a reimage (or any other kind), as before: a reimage keeps the VM's name and, for a
  restart, its version, so nothing a list shows can only have changed by the reimage's end (the
  emulator lists the VM Updating meanwhile; that Azure never lists it Succeeded right after
  accepting the reimage is not documented);
- it was started `poll_after` or longer ago and no list settled it: a state the list never
  settles (Canceled, a VM listed Creating for ever) must not hold the pool for ever.
An operation without a resume token (never answered) is not polled: listing.py resolves it.

Where the group's list is costly, a pool at work reads the VMs it wrote by name instead of
waiting for the next list (below).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from vmroll.api.pool_status import OperationKind, PendingOperation
from vmroll.azure.vms import PoolVm

LIST_FOLLOWED = frozenset({OperationKind.CREATE, OperationKind.DELETE})
FAILED = "Failed"


def to_poll(
    pending: Iterable[PendingOperation],
    listed: Mapping[str, PoolVm],
    now: datetime,
    poll_after: float,
) -> list[PendingOperation]:
    """The recorded operations whose status is to be read; the others are left to the list."""
    return [op for op in pending if _polled(op, listed.get(op.vm_name), now, poll_after)]


def _polled(op: PendingOperation, vm: PoolVm | None, now: datetime, poll_after: float) -> bool:
    if op.resume_token is None:
        return False
    if op.kind not in LIST_FOLLOWED:
        return True
    if vm is not None and vm.provisioning_state == FAILED:
        return True
    return (now - op.started_at).total_seconds() >= poll_after


# A group's list at work is spaced by its pages (shared_listing.py): a minute for 10,000 VMs. A
# pool that waited for a list newer than each write of its own waited that long at each step of
# a rollout (create, see it healthy, delete), for VMs it could read one by one in a Low-cost GET.
# Once the group's lists are that far apart, the pool takes the newest list for what other hands
# change and reads each VM it wrote since that list started (or saw changing) by name.
# A rollout then spends ARM's reads bucket (25 a second per principal) on these GETs more than on
# anything else, so what is already known is not read again: an accepted create's answer shows
# its VM Creating and an accepted delete's shows it Deleting, as a GET right after would, and a
# VM a list shows changing is as that list showed it when it started. Each is read by name
# `READ_AGAIN_AFTER` after that; a write whose answer was lost is read at once.
FOLLOW_BY_READS_AFTER = 5.0
"""Seconds between a group's lists at work above which its pools follow their writes by GETs."""
READ_AGAIN_AFTER = 15.0
"""Seconds before a VM read still changing is read again: a create or delete takes minutes,
and every pool of the subscription reads through one pacer (azure/read_pacing.py)."""
SETTLED = frozenset({"Succeeded", FAILED})


class Unread(Enum):
    UNREAD = "unread"


UNREAD = Unread.UNREAD


@dataclass(frozen=True)
class Followed:
    """A VM a pool wrote or saw changing: the group's lists numbered above `after` show it."""

    after: int
    read: PoolVm | Unread | None = UNREAD
    """What a GET last found of it since `after` (None: no such VM)."""
    read_at: float = -math.inf


def follows_by_reads(list_period: float) -> bool:
    """Whether a pool at work follows its writes by GETs: the group's lists at work are
    `list_period` seconds apart."""
    return list_period > FOLLOW_BY_READS_AFTER


def reads_due(followed: Mapping[str, Followed], listed: int, now: float) -> list[str]:
    """The VMs to GET for a pass observing through list number `listed`: written after it
    started, and never read since, or read changing `READ_AGAIN_AFTER` ago."""
    return [name for name, f in followed.items() if f.after >= listed and _due(f, now)]


def _due(followed: Followed, now: float) -> bool:
    read = followed.read
    if read is UNREAD:
        return True
    if read is None or read.provisioning_state in SETTLED:
        return False
    return now - followed.read_at >= READ_AGAIN_AFTER


def overlay(
    owned: Mapping[str, PoolVm], followed: Mapping[str, Followed], listed: int, pool_uid: str
) -> dict[str, PoolVm]:
    """The pool's VMs from list number `listed`, each VM it wrote since read by name instead:
    one found is as read, one not found (or no longer the pool's) is gone."""
    view = dict(owned)
    for name, f in followed.items():
        if f.after < listed or f.read is UNREAD:
            continue
        if f.read is None or f.read.pool_uid != pool_uid:
            view.pop(name, None)
        else:
            view[name] = f.read
    return view
