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
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

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
