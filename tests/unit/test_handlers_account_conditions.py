"""An AzureAccount that cannot authenticate is Stalled as well as not Ready, so that kstatus
readers (Flux's `wait`) see it Failed at once instead of InProgress until they time out; one
that can is Ready with no Stalled condition left behind."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from vmroll.api.types import ConditionStatus
from vmroll.handlers.accounts import account_assessment
from vmroll.plan.conditions import ConditionUpdate
from vmroll.plan.reasons import Reason

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
TRUE, FALSE = ConditionStatus.TRUE, ConditionStatus.FALSE


def _summary(update: ConditionUpdate) -> list[tuple[str, ConditionStatus, str]]:
    return [(c.type, c.status, c.reason) for c in update.conditions]


@pytest.mark.parametrize(
    "reason",
    [
        Reason.CREDENTIALS_NOT_FOUND,
        Reason.AUTHENTICATION_FAILED,
        Reason.CUSTOM_ENDPOINTS_NOT_ALLOWED,
        Reason.REFERENCE_NAMESPACE_NOT_ALLOWED,
    ],
)
def test_an_account_that_cannot_authenticate_is_stalled(reason: Reason) -> None:
    update = ConditionUpdate.of([]).assess(
        account_assessment(reason, "fix it"), observed_generation=1, now=T0
    )

    assert _summary(update) == [("Ready", FALSE, reason), ("Stalled", TRUE, reason)]
    assert all(c.message == "fix it" for c in update.conditions)


def test_an_account_that_authenticates_again_is_ready_and_no_longer_stalled() -> None:
    broken = ConditionUpdate.of([]).assess(
        account_assessment(Reason.CREDENTIALS_NOT_FOUND, "no Secret"),
        observed_generation=1,
        now=T0,
    )

    fixed = ConditionUpdate.of(broken.conditions).assess(
        account_assessment(Reason.AUTHENTICATED, "token"),
        observed_generation=2,
        now=T0 + timedelta(minutes=1),
    )

    assert fixed.changed
    assert _summary(fixed) == [("Ready", TRUE, Reason.AUTHENTICATED)]
