"""The capture planner: one step from each observed state, and how versions are named."""

from __future__ import annotations

from datetime import date

import pytest

from vmroll.plan.capture import (
    Observation,
    Phase,
    RegionState,
    SourceVm,
    StallReason,
    StepKind,
    VersionState,
    date_version,
    next_patch_version,
    next_step,
)

VM = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/builder"
RUNNING = SourceVm(power_state="running", generalized=False, busy=False)
DEALLOCATED = SourceVm(power_state="deallocated", generalized=False, busy=False)
GENERALIZED = SourceVm(power_state="deallocated", generalized=True, busy=False)
DEALLOCATING = SourceVm(power_state="deallocating", generalized=False, busy=True)


def version(state: str, *regions: tuple[str, str], source: str | None = VM) -> VersionState:
    return VersionState(state, source, tuple(RegionState(n, s) for n, s in regions))


@pytest.mark.parametrize(
    ("source", "generalized_definition", "seen_version", "kind", "phase"),
    [
        (RUNNING, True, None, StepKind.DEALLOCATE, Phase.GENERALIZING),
        (DEALLOCATING, True, None, StepKind.WAIT, Phase.GENERALIZING),
        (DEALLOCATED, True, None, StepKind.GENERALIZE, Phase.GENERALIZING),
        (GENERALIZED, True, None, StepKind.CREATE_VERSION, Phase.CAPTURING),
        (RUNNING, False, None, StepKind.DEALLOCATE, Phase.GENERALIZING),
        (DEALLOCATED, False, None, StepKind.CREATE_VERSION, Phase.CAPTURING),
        (None, True, None, StepKind.STALL, Phase.FAILED),
        (
            GENERALIZED,
            True,
            version("Creating", ("westeurope", "Replicating"), ("eastus", "Replicating")),
            StepKind.WAIT,
            Phase.REPLICATING,
        ),
        (
            GENERALIZED,
            True,
            version("Creating", ("westeurope", "Completed"), ("eastus", "Replicating")),
            StepKind.WAIT,
            Phase.REPLICATING,
        ),
        (
            None,
            True,
            version("Succeeded", ("westeurope", "Completed"), ("eastus", "Completed")),
            StepKind.DONE,
            Phase.SUCCEEDED,
        ),
        (
            GENERALIZED,
            True,
            version("Succeeded", ("westeurope", "Completed"), source="/other/vm"),
            StepKind.STALL,
            Phase.FAILED,
        ),
        (
            GENERALIZED,
            True,
            version("Creating", ("westeurope", "Failed")),
            StepKind.STALL,
            Phase.FAILED,
        ),
    ],
    ids=[
        "running-is-deallocated-first",
        "deallocating-is-waited-for",
        "deallocated-is-generalized",
        "generalized-is-captured",
        "specialized-definition-still-deallocates",
        "specialized-definition-skips-generalize",
        "no-source-stalls",
        "replicating",
        "half-replicated",
        "replicated-everywhere-is-done-even-with-the-builder-gone",
        "a-version-of-another-source-stalls",
        "failed-replication-stalls",
    ],
)
def test_next_step(
    source: SourceVm | None,
    generalized_definition: bool,
    seen_version: VersionState | None,
    kind: StepKind,
    phase: Phase,
) -> None:
    step = next_step(Observation(VM, source, generalized_definition, seen_version))
    assert (step.kind, step.phase) == (kind, phase)


def test_stall_reasons_say_what_to_change() -> None:
    taken = next_step(
        Observation(
            VM, GENERALIZED, True, version("Succeeded", ("westeurope", "Completed"), source="/x")
        )
    )
    missing = next_step(Observation(VM, None, True, None))

    assert taken.stall_reason is StallReason.VERSION_EXISTS
    assert "name another version in spec.target" in taken.message
    assert missing.stall_reason is StallReason.SOURCE_NOT_FOUND
    assert "fix spec.source" in missing.message


def test_the_replication_message_counts_regions() -> None:
    step = next_step(
        Observation(
            VM, GENERALIZED, True, version("Creating", ("a", "Completed"), ("b", "Replicating"))
        )
    )
    assert step.message == "replicating: 1/2 regions"


@pytest.mark.parametrize(
    ("existing", "expected"),
    [
        ((), "1.0.0"),
        (("1.0.9", "1.0.18", "1.0.2"), "1.0.19"),
        (("1.2.0", "2.0.0", "1.9.9"), "2.0.1"),
        (("not-a-version", "0.1.0"), "0.1.1"),
    ],
    ids=["none", "numeric-not-text-order", "newest-major", "ignores-malformed"],
)
def test_next_patch_version(existing: tuple[str, ...], expected: str) -> None:
    assert next_patch_version(existing) == expected


def test_date_version_takes_the_next_free_number() -> None:
    today = date(2026, 11, 29)
    assert date_version((), today) == "2026.1129.0"
    assert date_version(("2026.1129.0", "2026.1129.1"), today) == "2026.1129.2"
