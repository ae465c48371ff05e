"""What a deleted ImageCapture must do before its finalizer goes; pure, no I/O.

A builder VM is owned by nothing but its capture: once the capture is gone, no one would ever
delete it. So a capture whose builder may still exist (its ID is in status, recorded before its
create is sent, and the disposal after the version has not run yet) looks it up and, with
`disposal: Delete`, deletes it (only a VM whose capture-UID tag is the capture's) before it lets
go. `Retain` leaves it, as after a finished capture. Without a builder, or once the disposal has
run, there is nothing in Azure to clean up and no call to make. A capture that cannot reach
Azure (its account is gone or does not admit it) but may have a builder keeps its finalizer, as
a pool does, until the cause is fixed or the release annotation lets it go.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class CleanupKind(StrEnum):
    RELEASE = "Release"
    """Let go without touching Azure: no builder of the capture can exist."""
    RETAIN = "Retain"
    """Let go: the builder stays in Azure (disposal Retain)."""
    DISPOSE = "Dispose"
    """Look the builder up and delete it if it is the capture's; let go once it is gone."""
    STALL = "Stall"
    """A builder may exist and Azure cannot be reached: keep the finalizer."""
    ABANDON = "Abandon"
    """As STALL, but the release annotation lets go: the builder, if any, stays untouched."""


@dataclass(frozen=True)
class DeletedCapture:
    builder: bool
    """The source is a builder VM."""
    retain: bool
    """Its disposal is Retain."""
    recorded: bool
    """Its ID is in status: a create may have been sent."""
    disposed: bool
    """The capture succeeded: a Delete disposal has already run."""
    reachable: bool
    """The account exists and admits the capture."""
    released: bool
    """The release annotation is set: a capture that cannot clean up lets go, leaving its
    builder (only then, as for pools: one that can clean up does)."""


def cleanup_on_deletion(capture: DeletedCapture) -> CleanupKind:
    """A reachable capture looks its builder up even when its status names none: the body a
    delete handler is given may predate the last pass's write of the builder's ID."""
    if not capture.builder or capture.disposed:
        return CleanupKind.RELEASE
    if capture.retain:
        return CleanupKind.RETAIN
    if capture.reachable:
        return CleanupKind.DISPOSE
    if not capture.recorded:
        return CleanupKind.RELEASE
    return CleanupKind.ABANDON if capture.released else CleanupKind.STALL
