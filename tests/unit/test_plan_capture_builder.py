"""The builder planner: its name and tags, one step from each observed builder, and disposal."""

from __future__ import annotations

import pytest

from vmroll.plan.capture_builder import (
    BuilderSeen,
    BuilderStallReason,
    BuilderStepKind,
    BuilderVm,
    CaptureIdentity,
    DisposalStepKind,
    builder_name,
    builder_step,
    builder_tags,
    disposal_step,
)
from vmroll.plan.ownership import CAPTURE_NAMESPACE_TAG, CAPTURE_TAG, CAPTURE_UID_TAG

UID = "0f6c1d2e-3a4b-4c5d-8e9f-a0b1c2d3e4f5"
CAPTURE = CaptureIdentity(namespace="images", name="web-golden", uid=UID)
VM = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/b"


def vm(
    state: str = "Succeeded",
    power: str | None = "running",
    health: str | None = "healthy",
    uid: str | None = UID,
) -> BuilderVm:
    return BuilderVm(capture_uid=uid, provisioning_state=state, power_state=power, health=health)


def seen(found: BuilderVm | None, elapsed: float | None = 10.0, timeout: int = 600) -> BuilderSeen:
    return BuilderSeen(
        vm_id=VM, vm=found, capture_uid=UID, elapsed_seconds=elapsed, timeout_seconds=timeout
    )


def test_the_builder_name_is_the_captures_and_stable() -> None:
    name = builder_name(CAPTURE)

    assert name.startswith("web-golden-build-")
    assert name == builder_name(CaptureIdentity("other", "web-golden", UID))
    assert name != builder_name(CaptureIdentity("images", "web-golden", UID[::-1]))


def test_a_long_capture_name_is_shortened_to_fit_azure() -> None:
    name = builder_name(CaptureIdentity("images", "x" * 253, UID))

    assert len(name) == 64
    assert name.endswith(builder_name(CAPTURE).removeprefix("web-golden"))


def test_the_tags_say_whose_builder_it_is_after_the_users() -> None:
    assert builder_tags({"team": "images"}, CAPTURE) == {
        "team": "images",
        CAPTURE_UID_TAG: UID,
        CAPTURE_TAG: "web-golden",
        CAPTURE_NAMESPACE_TAG: "images",
    }


def test_a_user_tag_with_vmrolls_prefix_is_refused() -> None:
    with pytest.raises(ValueError, match="reserved for vmroll"):
        builder_tags({"vmroll.io_capture-uid": "someone"}, CAPTURE)


@pytest.mark.parametrize(
    ("found", "elapsed", "kind"),
    [
        pytest.param(None, None, BuilderStepKind.CREATE, id="not-created"),
        pytest.param(None, 30.0, BuilderStepKind.CREATE, id="recorded-but-never-sent"),
        pytest.param(vm("Creating", None, None), 5.0, BuilderStepKind.WAIT, id="creating"),
        pytest.param(vm(health="unknown"), 30.0, BuilderStepKind.WAIT, id="configuring"),
        pytest.param(vm(), 30.0, BuilderStepKind.BUILT, id="healthy"),
        pytest.param(vm(), 9999.0, BuilderStepKind.BUILT, id="healthy-after-the-timeout"),
        pytest.param(vm("Updating"), 30.0, BuilderStepKind.WAIT, id="healthy-but-busy"),
    ],
)
def test_one_step_from_each_builder(
    found: BuilderVm | None, elapsed: float | None, kind: BuilderStepKind
) -> None:
    step = builder_step(seen(found, elapsed))

    assert step.kind is kind
    assert step.stall_reason is None
    assert VM in step.message


@pytest.mark.parametrize(
    ("found", "reason", "words"),
    [
        pytest.param(
            vm(health="unhealthy"),
            BuilderStallReason.BUILDER_TIMED_OUT,
            "raise spec.source.builder.completion.timeoutSeconds",
            id="timed-out",
        ),
        pytest.param(
            vm("Failed", None, None),
            BuilderStallReason.BUILDER_FAILED,
            "failed to provision",
            id="failed",
        ),
        pytest.param(
            vm(uid="another-capture"),
            BuilderStallReason.BUILDER_NOT_OWNED,
            "vmroll does not touch it",
            id="not-ours",
        ),
        pytest.param(
            vm(uid=None), BuilderStallReason.BUILDER_NOT_OWNED, "delete or rename", id="untagged"
        ),
    ],
)
def test_a_builder_that_cannot_go_on_stalls_saying_what_to_change(
    found: BuilderVm, reason: BuilderStallReason, words: str
) -> None:
    step = builder_step(seen(found, elapsed=601.0, timeout=600))

    assert (step.kind, step.stall_reason) == (BuilderStepKind.STALL, reason)
    assert words in step.message


def test_the_timeout_counts_from_the_first_create() -> None:
    configuring = vm(health="unknown")

    assert builder_step(seen(configuring, elapsed=600.0)).kind is BuilderStepKind.WAIT
    assert builder_step(seen(configuring, elapsed=600.5)).kind is BuilderStepKind.STALL


@pytest.mark.parametrize(
    ("found", "kind"),
    [
        pytest.param(vm(), DisposalStepKind.DELETE, id="ours"),
        pytest.param(vm("Succeeded", "deallocated", None), DisposalStepKind.DELETE, id="captured"),
        pytest.param(vm("Deleting"), DisposalStepKind.WAIT, id="deleting"),
        pytest.param(None, DisposalStepKind.DONE, id="gone"),
        pytest.param(vm(uid="another-capture"), DisposalStepKind.DONE, id="not-ours"),
    ],
)
def test_disposal_deletes_only_the_captures_own_builder(
    found: BuilderVm | None, kind: DisposalStepKind
) -> None:
    assert disposal_step(found, UID) is kind
