"""Builders for the rollout planner's table tests: VMs in a given readiness, specs, summaries.

A VM is described by the readiness it should have at `NOW` under the default spec's policy
(minReadySeconds 60, grace 600), so that each table row reads like the situation it tests.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from vmroll.plan.availability import (
    AppHealth,
    HealthSignals,
    PowerState,
    ProvisioningState,
    Readiness,
)
from vmroll.plan.rollout_model import (
    Action,
    CreateVM,
    DeleteVM,
    InFlight,
    ObservedInstance,
    RollbackPolicy,
    RolloutSpec,
    RolloutStrategy,
    Target,
)

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
OLD = Target("rev-old", "1.0.0")
NEW = Target("rev-new", "2.0.0")

AVAILABLE = Readiness.AVAILABLE
READY = Readiness.READY
STARTING = Readiness.STARTING
UNHEALTHY = Readiness.UNHEALTHY
FAILED = Readiness.FAILED
PLATFORM_FAILED = Readiness.PLATFORM_FAILED


def ago(seconds: int) -> datetime:
    return NOW - timedelta(seconds=seconds)


def signals(readiness: Readiness) -> HealthSignals:
    healthy = readiness in (AVAILABLE, READY)
    return HealthSignals(
        provisioning=ProvisioningState.FAILED
        if readiness.is_failed
        else ProvisioningState.SUCCEEDED,
        power=PowerState.RUNNING,
        agent_ready=healthy,
        app_health=AppHealth.HEALTHY if healthy else AppHealth.UNHEALTHY,
        healthy_since=ago(3600) if readiness is AVAILABLE else ago(10) if healthy else None,
        changed_at=ago(10) if readiness is STARTING else ago(7200),
        failure_code="InternalExecutionError" if readiness is PLATFORM_FAILED else None,
    )


def vm(
    name: str,
    readiness: Readiness = AVAILABLE,
    *,
    target: Target = OLD,
    zone: str | None = None,
    in_flight: InFlight = InFlight.NONE,
) -> ObservedInstance:
    """A VM whose creation order is the number its name ends with."""
    digits = re.search(r"[0-9]+$", name)
    return ObservedInstance(
        name=name,
        revision=target.revision,
        image_version=target.image_version,
        zone=zone,
        created_order=int(digits.group()) if digits else 0,
        health=signals(readiness),
        in_flight=in_flight,
    )


def new(name: str, readiness: Readiness = AVAILABLE, **kwargs: Any) -> ObservedInstance:
    return vm(name, readiness, target=NEW, **kwargs)


DEFAULT_SPEC = RolloutSpec(
    replicas=3,
    target=NEW,
    strategy=RolloutStrategy.ROLLING_REPLACE,
    max_surge=1,
    max_unavailable=0,
    min_ready_seconds=60,
    progress_deadline_seconds=600,
    rollback=RollbackPolicy(on_failure=True, max_unhealthy_percent=20),
)


def spec(**overrides: Any) -> RolloutSpec:
    return replace(DEFAULT_SPEC, **overrides)


def describe(actions: tuple[Action, ...]) -> list[str]:
    """One short line per action, e.g. `create 2 rev-new Surge`, `delete o1 Replaced`."""
    lines = []
    for action in actions:
        if isinstance(action, CreateVM):
            lines.append(f"create {action.zone or '-'} {action.revision} {action.reason.value}")
        elif isinstance(action, DeleteVM):
            lines.append(f"delete {action.name} {action.reason.value}")
        else:
            lines.append(f"reimage {action.name} {action.revision} {action.image_version}")
    return lines
