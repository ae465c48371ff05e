"""What `kubectl vmroll undo` changes: the image version in the spec, and nothing else.

A revision is a hash of the VM template and the image; the operator keeps the image version
each revision ran in status.history, not the whole template. So undo sets
`spec.image.marketplace.version` (or `spec.image.gallery.version`) to the version of a history
entry and leaves every other field as it is: when the template changed since, the rollout that
follows reaches a new revision running the old version. A managed image has no version: no undo.

Without `--to-revision`, the target is the newest entry that succeeded on a version other than
the one the spec asks for now: the last good version before the current one (after a rollback,
the version the pool went back to, which is what the `RolledBack` condition asks to set).
"""

from __future__ import annotations

from typing import Any

from vmroll.kubectl import pool_object
from vmroll.kubectl.pool_object import Pool

SUCCEEDED = "Succeeded"


class NoUndo(ValueError):
    """No history entry to go back to; the message says why."""


def undo_target(pool: Pool, to_revision: str | None) -> dict[str, Any]:
    history: list[dict[str, Any]] = pool_object.status(pool).get("history", [])
    if to_revision is not None:
        for entry in history:
            if entry.get("revision") == to_revision and entry.get("imageVersion"):
                return entry
        known = ", ".join(sorted({str(e.get("revision")) for e in history})) or "none"
        raise NoUndo(f"revision {to_revision} is not in the pool's history (known: {known})")
    requested = pool_object.requested_version(pool)
    for entry in history:
        if entry.get("outcome") == SUCCEEDED and entry.get("imageVersion") not in (None, requested):
            return entry
    raise NoUndo(
        f"no earlier successful rollout to a version other than {requested} in the pool's history"
    )


def undo_patch(pool: Pool, version: str) -> dict[str, Any]:
    """The merge patch that pins the pool's image to `version`."""
    image = pool.get("spec", {}).get("image", {})
    for source in ("marketplace", "gallery"):
        if source in image:
            return {"spec": {"image": {source: {"version": version}}}}
    raise NoUndo("the pool's image is a managed image, which has no versions to go back to")
