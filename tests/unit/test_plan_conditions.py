"""Conditions change only when something changed; lastTransitionTime follows status alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vmroll.api.types import Condition, ConditionStatus
from vmroll.plan.conditions import (
    Assessment,
    ConditionType,
    ConditionUpdate,
    State,
    assess,
    find_condition,
    remove_condition,
    set_condition,
)
from vmroll.plan.reasons import Reason

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
T1 = T0 + timedelta(minutes=5, microseconds=123456)
TRUE, FALSE = ConditionStatus.TRUE, ConditionStatus.FALSE


def ready(
    status: ConditionStatus, reason: str, message: str = "m", generation: int = 1
) -> Condition:
    return Condition(
        type="Ready",
        status=status,
        reason=reason,
        message=message,
        last_transition_time=T0,
        observed_generation=generation,
    )


NOW = T1.replace(microsecond=0)
CREATING = ready(FALSE, "Creating")
ALL_READY = ready(TRUE, "AllReplicasReady")


@pytest.mark.parametrize(
    ("before", "status", "reason", "message", "generation", "changed", "since"),
    [
        pytest.param(None, TRUE, "AllReplicasReady", "m", 1, True, NOW, id="new"),
        pytest.param(ALL_READY, TRUE, "AllReplicasReady", "m", 1, False, T0, id="same"),
        pytest.param(CREATING, FALSE, "Scaling", "m", 1, True, T0, id="reason-only"),
        pytest.param(CREATING, FALSE, "Creating", "other", 1, True, T0, id="message-only"),
        pytest.param(CREATING, FALSE, "Creating", "m", 2, True, T0, id="generation-only"),
        pytest.param(CREATING, TRUE, "AllReplicasReady", "m", 1, True, NOW, id="status-flip"),
    ],
)
def test_set_condition(
    before: Condition | None,
    status: ConditionStatus,
    reason: str,
    message: str,
    generation: int,
    changed: bool,
    since: datetime,
) -> None:
    conditions = [before] if before else []
    update = set_condition(
        conditions, "Ready", status, reason, message, observed_generation=generation, now=T1
    )
    assert update.changed is changed
    after = find_condition(update.conditions, "Ready")
    assert after is not None
    assert (after.status, after.reason, after.message) == (status, reason, message)
    assert after.last_transition_time == since


def test_set_keeps_the_order_of_other_conditions() -> None:
    stalled = Condition(
        type="Stalled", status=TRUE, reason="QuotaExceeded", last_transition_time=T0
    )
    conditions = [ready(FALSE, "Creating"), stalled]
    update = set_condition(
        conditions, "Ready", FALSE, "QuotaExceeded", "m", observed_generation=1, now=T1
    )
    assert [c.type for c in update.conditions] == ["Ready", "Stalled"]
    assert update.conditions[1] is stalled


def test_naive_clock_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        set_condition(
            [], "Ready", TRUE, "Ready", "", observed_generation=1, now=datetime(2026, 1, 1)
        )


def test_remove_reports_whether_anything_was_removed() -> None:
    assert remove_condition([ready(TRUE, "Ready")], "Stalled").changed is False
    removed = remove_condition([ready(TRUE, "Ready")], "Ready")
    assert (removed.conditions, removed.changed) == ((), True)


@pytest.mark.parametrize(
    ("state", "reason", "expected"),
    [
        pytest.param(State.READY, Reason.ALL_REPLICAS_READY, {"Ready": "True"}, id="ready"),
        pytest.param(
            State.RECONCILING,
            Reason.ROLLING_OUT,
            {"Ready": "False", "Reconciling": "True"},
            id="reconciling",
        ),
        pytest.param(
            State.STALLED,
            Reason.TERMS_NOT_ACCEPTED,
            {"Ready": "False", "Stalled": "True"},
            id="stalled",
        ),
    ],
)
def test_assess_sets_kstatus_conditions_together(
    state: State, reason: Reason, expected: dict[str, str]
) -> None:
    earlier = [
        Condition(type="Stalled", status=TRUE, reason="QuotaExceeded", last_transition_time=T0),
        Condition(type="Reconciling", status=TRUE, reason="Scaling", last_transition_time=T0),
        Condition(
            type="ImageResolved", status=TRUE, reason="ImageResolved", last_transition_time=T0
        ),
    ]
    update = assess(earlier, Assessment(state, reason, "msg"), observed_generation=4, now=T1)
    kstatus = {c.type: str(c.status) for c in update.conditions if c.type != "ImageResolved"}
    assert kstatus == expected
    assert all(c.reason == reason for c in update.conditions if c.type != "ImageResolved")
    resolved = find_condition(update.conditions, ConditionType.IMAGE_RESOLVED)
    assert resolved is not None
    assert resolved.status is ConditionStatus.TRUE
    assert update.changed


def test_chained_updates_report_any_change() -> None:
    start = ConditionUpdate.of([ready(TRUE, "AllReplicasReady")])
    unchanged = start.remove("Stalled").set(
        "Ready", TRUE, "AllReplicasReady", "m", observed_generation=1, now=T1
    )
    assert unchanged.changed is False
    changed = unchanged.assess(
        Assessment(State.RECONCILING, Reason.SCALING, "adding 2 VMs"), observed_generation=2, now=T1
    ).remove("Stalled")
    assert changed.changed is True


assessments = st.builds(
    Assessment,
    st.sampled_from(State),
    st.sampled_from([r.value for r in Reason]),
    st.text(max_size=20),
)
clock = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)
)


@given(st.lists(assessments, max_size=5), assessments, clock, clock)
def test_assess_is_idempotent(
    history: list[Assessment], last: Assessment, first_now: datetime, second_now: datetime
) -> None:
    conditions: tuple[Condition, ...] = ()
    for earlier in history:
        conditions = assess(conditions, earlier, observed_generation=1, now=first_now).conditions
    once = assess(conditions, last, observed_generation=1, now=first_now)
    twice = assess(once.conditions, last, observed_generation=1, now=second_now)
    assert twice.changed is False
    assert twice.conditions == once.conditions


@given(
    st.lists(st.tuples(st.sampled_from(ConditionStatus), st.sampled_from(["A", "B"])), min_size=1),
    clock,
)
def test_transition_time_moves_only_when_status_flips(
    steps: list[tuple[ConditionStatus, str]], start: datetime
) -> None:
    conditions: tuple[Condition, ...] = ()
    previous: Condition | None = None
    for i, (status, reason) in enumerate(steps):
        now = start + timedelta(seconds=i)
        conditions = set_condition(
            conditions, "Ready", status, reason, "", observed_generation=1, now=now
        ).conditions
        current = find_condition(conditions, "Ready")
        assert current is not None
        if previous is not None and previous.status == status:
            assert current.last_transition_time == previous.last_transition_time
        else:
            assert current.last_transition_time == now.replace(microsecond=0)
        previous = current
