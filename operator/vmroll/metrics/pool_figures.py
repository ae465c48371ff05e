"""The numbers a pool's gauges show, read from the status vmroll just wrote.

Pure: the status in, figures out. Labels stay bounded: a pool has a handful of image versions at
a time (two during a rollout) and three health values; VM names never become labels.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from vmroll.api.pool_status import VirtualMachinePoolStatus
from vmroll.api.types import ConditionStatus
from vmroll.metrics.staleness import Staleness, image_staleness

UNKNOWN_VERSION = "unknown"
"""The image version label of a VM whose version vmroll could not read."""


class PoolState(enum.StrEnum):
    """kstatus, as one value: Stalled wins over Ready, anything else is Reconciling."""

    READY = "Ready"
    RECONCILING = "Reconciling"
    STALLED = "Stalled"


@dataclass(frozen=True)
class PoolFigures:
    desired: int
    replicas: int
    ready: int
    available: int
    updated: int
    state: PoolState
    vms: Mapping[tuple[str, str], int]
    """(image version, health) -> VMs."""
    staleness: Staleness | None


def pool_state(status: VirtualMachinePoolStatus) -> PoolState:
    true = {c.type for c in status.conditions if c.status is ConditionStatus.TRUE}
    if PoolState.STALLED.value in true:
        return PoolState.STALLED
    if PoolState.READY.value in true:
        return PoolState.READY
    return PoolState.RECONCILING


def pool_figures(desired: int, status: VirtualMachinePoolStatus) -> PoolFigures:
    vms = Counter((vm.image_version or UNKNOWN_VERSION, vm.health.value) for vm in status.instances)
    image = status.image
    seen = [r.image_version for r in status.history] + [v.image_version for v in status.instances]
    staleness = (
        image_staleness(image.resolved_version, image.latest_available, seen)
        if image is not None
        else None
    )
    return PoolFigures(
        desired=desired,
        replicas=status.replicas,
        ready=status.ready_replicas,
        available=status.available_replicas,
        updated=status.updated_replicas,
        state=pool_state(status),
        vms=dict(vms),
        staleness=staleness,
    )
