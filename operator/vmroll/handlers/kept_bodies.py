"""What of a body kopf keeps that nothing reads is dropped from it.

kopf keeps each pool's newest body for the pool's daemon (`pool_loop`) for as long as the pool
lives, as the watch decoded it. Its `metadata.managedFields`, the API server's bookkeeping of
who set which field (~4.4 KB of a pool's ~11 KB of JSON, more as Python dicts), is read by
neither kopf nor vmroll, and the watch cannot leave it out (the API server has no such option).
kopf calls the pool's index handlers with the event's body before its daemon reads it, so
`pool_wakeups` (handlers/pools.py) drops it there, in place: the body kopf keeps is that one.
"""

from __future__ import annotations

from typing import Any, cast

import kopf

UNREAD_METADATA = ("managedFields",)


def drop_unread(body: kopf.Body) -> None:
    """Remove `UNREAD_METADATA` from the raw body the view stands for."""
    # kopf's Body is a read-only view; the dict it stands for is the one kopf keeps.
    raw = cast(dict[str, Any], body._src)
    metadata = raw.get("metadata")
    if isinstance(metadata, dict):
        for key in UNREAD_METADATA:
            metadata.pop(key, None)
