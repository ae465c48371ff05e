"""A VM is available only when healthy for minReadySeconds; unhealthy only after its grace."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from vmroll.plan.availability import (
    AppHealth,
    HealthSignals,
    PowerState,
    ProvisioningState,
    Readiness,
    ReadinessPolicy,
    assess,
)

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
POLICY = ReadinessPolicy(min_ready_seconds=60, grace_seconds=600)


def signals(
    *,
    provisioning: ProvisioningState = ProvisioningState.SUCCEEDED,
    power: PowerState = PowerState.RUNNING,
    agent_ready: bool = True,
    app_health: AppHealth = AppHealth.NOT_REPORTED,
    healthy_for: int | None = 3600,
    changed_ago: int = 7200,
    failure_code: str | None = None,
) -> HealthSignals:
    return HealthSignals(
        provisioning=provisioning,
        power=power,
        agent_ready=agent_ready,
        app_health=app_health,
        healthy_since=None if healthy_for is None else NOW - timedelta(seconds=healthy_for),
        changed_at=NOW - timedelta(seconds=changed_ago),
        failure_code=failure_code,
    )


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        pytest.param(signals(), Readiness.AVAILABLE, id="healthy-long-enough"),
        pytest.param(signals(app_health=AppHealth.HEALTHY), Readiness.AVAILABLE, id="app-healthy"),
        pytest.param(signals(healthy_for=60), Readiness.AVAILABLE, id="exactly-min-ready"),
        pytest.param(signals(healthy_for=59), Readiness.READY, id="one-second-short"),
        pytest.param(signals(healthy_for=None), Readiness.READY, id="healthy-since-unrecorded"),
        pytest.param(signals(healthy_for=-5), Readiness.READY, id="healthy-since-in-future"),
        pytest.param(
            signals(app_health=AppHealth.UNHEALTHY, changed_ago=599),
            Readiness.STARTING,
            id="app-unhealthy-inside-grace",
        ),
        pytest.param(
            signals(app_health=AppHealth.UNHEALTHY, changed_ago=600),
            Readiness.UNHEALTHY,
            id="app-unhealthy-grace-over",
        ),
        pytest.param(
            signals(app_health=AppHealth.INITIALIZING, changed_ago=30),
            Readiness.STARTING,
            id="app-initializing",
        ),
        pytest.param(
            signals(app_health=AppHealth.UNKNOWN, changed_ago=9000),
            Readiness.UNHEALTHY,
            id="app-unknown-after-grace",
        ),
        pytest.param(
            signals(agent_ready=False, changed_ago=10), Readiness.STARTING, id="agent-not-ready-yet"
        ),
        pytest.param(signals(agent_ready=False), Readiness.UNHEALTHY, id="agent-never-ready"),
        pytest.param(
            signals(power=PowerState.STARTING, changed_ago=10),
            Readiness.STARTING,
            id="power-starting",
        ),
        pytest.param(
            signals(power=PowerState.DEALLOCATED), Readiness.UNHEALTHY, id="deallocated-out-of-band"
        ),
        pytest.param(
            signals(provisioning=ProvisioningState.CREATING, changed_ago=10),
            Readiness.STARTING,
            id="creating",
        ),
        pytest.param(
            signals(provisioning=ProvisioningState.FAILED, changed_ago=1),
            Readiness.FAILED,
            id="failed-even-inside-grace",
        ),
        pytest.param(
            signals(provisioning=ProvisioningState.FAILED, failure_code="OSProvisioningTimedOut"),
            Readiness.FAILED,
            id="failed-for-the-vms-own-reason",
        ),
        pytest.param(
            signals(provisioning=ProvisioningState.FAILED, failure_code="InternalExecutionError"),
            Readiness.PLATFORM_FAILED,
            id="failed-for-azures-own-reason",
        ),
        pytest.param(
            signals(provisioning=ProvisioningState.FAILED, failure_code="allocationFailed"),
            Readiness.PLATFORM_FAILED,
            id="azures-codes-in-any-case",
        ),
        pytest.param(
            signals(provisioning=ProvisioningState.UPDATING),
            Readiness.UNHEALTHY,
            id="updating-past-grace",
        ),
    ],
)
def test_assess(given: HealthSignals, expected: Readiness) -> None:
    assert assess(given, POLICY, NOW) is expected


def test_zero_min_ready_is_available_as_soon_as_healthy() -> None:
    policy = ReadinessPolicy(min_ready_seconds=0, grace_seconds=600)
    assert assess(signals(healthy_for=None), policy, NOW) is Readiness.AVAILABLE


@pytest.mark.parametrize(
    ("readiness", "available", "ready", "unhealthy"),
    [
        pytest.param(Readiness.AVAILABLE, True, True, False, id="available"),
        pytest.param(Readiness.READY, False, True, False, id="ready"),
        pytest.param(Readiness.STARTING, False, False, False, id="starting"),
        pytest.param(Readiness.UNHEALTHY, False, False, True, id="unhealthy"),
        pytest.param(Readiness.FAILED, False, False, True, id="failed"),
        pytest.param(Readiness.PLATFORM_FAILED, False, False, False, id="platform-failed"),
    ],
)
def test_readiness_predicates(
    readiness: Readiness, available: bool, ready: bool, unhealthy: bool
) -> None:
    assert (readiness.is_available, readiness.is_ready, readiness.is_unhealthy) == (
        available,
        ready,
        unhealthy,
    )


@pytest.mark.parametrize(
    ("min_ready", "grace"),
    [pytest.param(-1, 0, id="negative-min-ready"), pytest.param(0, -1, id="negative-grace")],
)
def test_policy_rejects_negative(min_ready: int, grace: int) -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        ReadinessPolicy(min_ready_seconds=min_ready, grace_seconds=grace)
