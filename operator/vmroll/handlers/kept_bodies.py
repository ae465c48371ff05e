"""What of a body kopf keeps that nothing reads is dropped from it.

kopf keeps each pool's newest body for the pool's daemon (`pool_loop`) for as long as the pool
lives, as the watch decoded it. Its `metadata.managedFields`, the API server's bookkeeping of
who set which field (~4.4 KB of a pool's ~11 KB of JSON, more as Python dicts), is read by
neither kopf nor vmroll, and the watch cannot leave it out (the API server has no such option).
kopf calls the pool's index handlers with the event's body before its daemon reads it, so
`pool_wakeups` (handlers/pools.py) drops it there, in place: the body kopf keeps is that one.

The body's `status` (~12 KiB as Python dicts for a pool of 10 VMs) is read only until the
pool's memory holds a status (reconcile/memory.py `PoolMemory.status`): every reader takes that
one first, since it is what vmroll last wrote and the watch may not have delivered it yet. kopf
reads no status (its progress and diff-base go to annotations, handlers/operator.py). So once
the memory holds one, the body's status is dropped too.
"""

from __future__ import annotations

from typing import Any, cast

import kopf

UNREAD_METADATA = ("managedFields",)


def drop_unread(body: kopf.Body, *, status_known: bool = False) -> None:
    """Remove `UNREAD_METADATA` from the raw body the view stands for, and its status when
    `status_known` (the pool's memory holds a status)."""
    # kopf's Body is a read-only view; the dict it stands for is the one kopf keeps.
    raw = cast(dict[str, Any], body._src)
    metadata = raw.get("metadata")
    if isinstance(metadata, dict):
        for key in UNREAD_METADATA:
            metadata.pop(key, None)
    if status_known:
        raw.pop("status", None)
