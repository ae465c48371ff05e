"""The next step of an image capture, decided from what was observed: pure, no I/O, no clock.

A capture walks deallocate -> generalize (for a Generalized definition) -> create the gallery
image version -> wait for every target region to replicate. Each pass observes the source VM and
the version once and takes the one step that moves it on; a step whose Azure operation is
recorded but not seen to finish is followed, never started again. A version that already exists
is the capture's own only when its source is the capture's VM (a restart after the PUT was sent),
else the name is taken and a human must choose another.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from vmroll.plan.versions import is_image_version, parse_image_version

COMPLETED = "Completed"
FAILED = "Failed"


class StepKind(StrEnum):
    """What a pass does next."""

    DEALLOCATE = "Deallocate"
    GENERALIZE = "Generalize"
    CREATE_VERSION = "CreateVersion"
    WAIT = "Wait"
    DONE = "Done"
    STALL = "Stall"


class Phase(StrEnum):
    """The step reported in status.phase (the same values as the API's CapturePhase)."""

    PENDING = "Pending"
    BUILDING = "Building"
    GENERALIZING = "Generalizing"
    CAPTURING = "Capturing"
    REPLICATING = "Replicating"
    DELETING_BUILDER = "DeletingBuilder"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


class StallReason(StrEnum):
    SOURCE_NOT_FOUND = "SourceNotFound"
    VERSION_EXISTS = "VersionExists"
    REPLICATION_FAILED = "ReplicationFailed"


@dataclass(frozen=True)
class SourceVm:
    """The VM to capture, as Azure reports it now."""

    power_state: str | None
    generalized: bool
    busy: bool


@dataclass(frozen=True)
class RegionState:
    name: str
    state: str


@dataclass(frozen=True)
class VersionState:
    """The gallery image version of the capture's name, as Azure reports it now."""

    provisioning_state: str
    source_vm_id: str | None
    regions: tuple[RegionState, ...]

    def replicated(self) -> int:
        return sum(1 for r in self.regions if r.state == COMPLETED)


@dataclass(frozen=True)
class Observation:
    source_vm_id: str
    source: SourceVm | None
    generalized_definition: bool
    version: VersionState | None


@dataclass(frozen=True)
class Step:
    kind: StepKind
    phase: Phase
    message: str
    stall_reason: StallReason | None = None


def next_step(seen: Observation) -> Step:
    """The one step that moves the capture on from what was observed."""
    version = seen.version
    if version is not None:
        return _follow_version(seen.source_vm_id, version)
    source = seen.source
    if source is None:
        return Step(
            StepKind.STALL,
            Phase.FAILED,
            f"source VM {seen.source_vm_id} does not exist; fix spec.source",
            StallReason.SOURCE_NOT_FOUND,
        )
    if source.busy:
        return Step(StepKind.WAIT, Phase.GENERALIZING, "waiting for the source VM's operation")
    if source.power_state != "deallocated" and not source.generalized:
        return Step(StepKind.DEALLOCATE, Phase.GENERALIZING, "deallocating the source VM")
    if seen.generalized_definition and not source.generalized:
        return Step(StepKind.GENERALIZE, Phase.GENERALIZING, "generalizing the source VM")
    return Step(StepKind.CREATE_VERSION, Phase.CAPTURING, "creating the gallery image version")


def _follow_version(source_vm_id: str, version: VersionState) -> Step:
    if (version.source_vm_id or "").lower() != source_vm_id.lower():
        return Step(
            StepKind.STALL,
            Phase.FAILED,
            f"the version already exists, captured from {version.source_vm_id or 'another source'}"
            "; name another version in spec.target (or delete that one)",
            StallReason.VERSION_EXISTS,
        )
    failed = [r.name for r in version.regions if r.state == FAILED]
    if failed or version.provisioning_state == FAILED:
        where = ", ".join(failed) or "the gallery"
        return Step(
            StepKind.STALL,
            Phase.FAILED,
            f"replication failed in {where}; delete the version and the ImageCapture to retry",
            StallReason.REPLICATION_FAILED,
        )
    done = version.replicated()
    if version.provisioning_state == "Succeeded" and done == len(version.regions):
        return Step(StepKind.DONE, Phase.SUCCEEDED, f"available in {done} regions")
    return Step(
        StepKind.WAIT,
        Phase.REPLICATING,
        f"replicating: {replicated_text(version.regions)} regions",
    )


def replicated_text(regions: Sequence[RegionState]) -> str:
    """Regions replicated out of all, as status.replicated shows it: "1/2"."""
    return f"{sum(1 for r in regions if r.state == COMPLETED)}/{len(regions)}"


def next_patch_version(existing: Iterable[str]) -> str:
    """The newest existing version with its patch number plus one; 1.0.0 when there is none."""
    versions = [parse_image_version(name) for name in existing if is_image_version(name)]
    if not versions:
        return "1.0.0"
    major, minor, patch = max(versions).components
    return f"{major}.{minor}.{patch + 1}"


def date_version(existing: Iterable[str], today: date) -> str:
    """YYYY.MMDD.N: today's date and the first N no existing version has."""
    prefix = f"{today.year}.{today.month * 100 + today.day}"
    taken = {str(name) for name in existing}
    number = 0
    while f"{prefix}.{number}" in taken:
        number += 1
    return f"{prefix}.{number}"
