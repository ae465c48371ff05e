"""What a deleted capture does before its finalizer goes: which captures touch Azure at all."""

from __future__ import annotations

import pytest

from vmroll.plan.capture_deletion import CleanupKind, DeletedCapture, cleanup_on_deletion


def capture(
    *,
    builder: bool = True,
    retain: bool = False,
    recorded: bool = True,
    disposed: bool = False,
    reachable: bool = True,
    released: bool = False,
) -> DeletedCapture:
    return DeletedCapture(
        builder=builder,
        retain=retain,
        recorded=recorded,
        disposed=disposed,
        reachable=reachable,
        released=released,
    )


@pytest.mark.parametrize(
    ("seen", "expected"),
    [
        pytest.param(capture(), CleanupKind.DISPOSE, id="mid-build-delete"),
        pytest.param(capture(recorded=False), CleanupKind.DISPOSE, id="id-not-yet-in-the-body"),
        pytest.param(capture(builder=False), CleanupKind.RELEASE, id="no-builder"),
        pytest.param(
            capture(builder=False, reachable=False), CleanupKind.RELEASE, id="no-builder-no-account"
        ),
        pytest.param(capture(disposed=True), CleanupKind.RELEASE, id="succeeded-disposal-ran"),
        pytest.param(capture(retain=True), CleanupKind.RETAIN, id="retain"),
        pytest.param(
            capture(retain=True, reachable=False), CleanupKind.RETAIN, id="retain-no-acct"
        ),
        pytest.param(capture(reachable=False), CleanupKind.STALL, id="builder-account-gone"),
        pytest.param(
            capture(reachable=False, released=True), CleanupKind.ABANDON, id="released-by-admin"
        ),
        pytest.param(capture(released=True), CleanupKind.DISPOSE, id="annotated-but-reachable"),
        pytest.param(
            capture(reachable=False, recorded=False), CleanupKind.RELEASE, id="never-sent-no-acct"
        ),
    ],
)
def test_cleanup_on_deletion(seen: DeletedCapture, expected: CleanupKind) -> None:
    assert cleanup_on_deletion(seen) is expected
