"""A pool writes only to the subscription its VMs live in: recorded first, adopted only when the
annotation names the account's new subscription, else stalled with a message that says what to
change."""

from __future__ import annotations

import pytest

from vmroll.plan.subscription import Choice, SubscriptionCheck, decide_subscription

OLD = "00000000-0000-4000-8000-00000000a001"
NEW = "00000000-0000-4000-8000-00000000a002"
THIRD = "00000000-0000-4000-8000-00000000a003"


def check(recorded: str | None, current: str, accepted: str | None = None) -> SubscriptionCheck:
    return SubscriptionCheck(
        account="prod", recorded=recorded, current=current, accepted=accepted, pool_uid="uid-1"
    )


@pytest.mark.parametrize(
    ("recorded", "current", "accepted", "choice"),
    [
        pytest.param(None, OLD, None, Choice.RECORD, id="nothing-recorded-records"),
        pytest.param(None, OLD, NEW, Choice.RECORD, id="annotation-irrelevant-before-recording"),
        pytest.param(OLD, OLD, None, Choice.SAME, id="same"),
        pytest.param(OLD, OLD.upper(), None, Choice.SAME, id="case-insensitive"),
        pytest.param(OLD, NEW, None, Choice.CHANGED, id="changed-stalls"),
        pytest.param(OLD, NEW, NEW, Choice.ADOPT, id="annotation-names-new-adopts"),
        pytest.param(OLD, NEW, f" {NEW.upper()} ", Choice.ADOPT, id="annotation-spelling"),
        pytest.param(OLD, NEW, "true", Choice.CHANGED, id="true-is-not-a-subscription"),
        pytest.param(OLD, THIRD, NEW, Choice.CHANGED, id="stale-annotation-adopts-nothing"),
        pytest.param(NEW, NEW, NEW, Choice.SAME, id="annotation-left-behind-after-adopting"),
    ],
)
def test_decision(recorded: str | None, current: str, accepted: str | None, choice: Choice) -> None:
    assert decide_subscription(check(recorded, current, accepted)).choice is choice


def test_changed_message_names_both_subscriptions_and_both_ways_out() -> None:
    message = decide_subscription(check(OLD, NEW)).message

    assert f"AzureAccount prod now names subscription {NEW}" in message
    assert f"VMs live in subscription {OLD}" in message
    assert f"restore subscriptionId {OLD} on AzureAccount prod" in message
    assert f"vmroll.io/accept-subscription={NEW}" in message


def test_a_stale_annotation_is_called_out() -> None:
    message = decide_subscription(check(OLD, THIRD, NEW)).message

    assert f"vmroll.io/accept-subscription names {NEW}, not {THIRD}" in message


def test_while_deleting_the_way_out_is_restoring_or_releasing() -> None:
    message = decide_subscription(check(OLD, NEW), deleting=True).message

    assert "deletes nothing" in message
    assert f"restore subscriptionId {OLD} on AzureAccount prod" in message
    assert "vmroll.io/release-without-cleanup=true" in message
    assert "vmroll.io_pool-uid=uid-1" in message


def test_adopting_says_the_old_vms_are_abandoned_not_deleted() -> None:
    decision = decide_subscription(check(OLD, NEW, NEW))

    assert f"its VMs in subscription {OLD} are abandoned" in decision.message
    assert "does not delete them" in decision.message
