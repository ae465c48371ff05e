"""The period of healthy VMs' view refreshes against the fleet read through one ARM reads
bucket: the configured one until the refreshes would pass their share of the refill; and the
moments in the period at which a pool's views fall due."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from vmroll.plan.view_refresh import (
    NEVER,
    REFRESH_SHARE,
    RefreshSchedule,
    refresh_period,
    refresh_phase,
)

EPOCH = datetime.fromtimestamp(0, UTC)


def at(seconds: float) -> datetime:
    return EPOCH + timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("vms", "configured", "period"),
    [
        pytest.param(0, 600.0, 600.0, id="no VMs"),
        pytest.param(1_000, 600.0, 600.0, id="small fleet: the configured period"),
        pytest.param(6_000, 600.0, 600.0, id="both agree"),
        pytest.param(10_000, 600.0, 1_000.0, id="issue 12's fleet"),
        pytest.param(20_000, 600.0, 2_000.0, id="a rollout surging to twice the fleet"),
        pytest.param(10_000, 1_800.0, 1_800.0, id="a longer configured period rules"),
    ],
)
def test_refresh_period(vms: int, configured: float, period: float) -> None:
    assert refresh_period(vms, configured, 25.0) == pytest.approx(period)


@pytest.mark.parametrize("vms", [1, 6_000, 10_000, 20_000, 1_000_000])
def test_refreshes_keep_to_their_share_of_the_refill(vms: int) -> None:
    assert vms / refresh_period(vms, 600.0, 25.0) <= REFRESH_SHARE * 25.0 + 1e-9


@pytest.mark.parametrize(
    ("read", "phase", "due"),
    [
        pytest.param(0.0, 0.0, 600.0, id="read at a moment: the next one"),
        pytest.param(250.0, 0.0, 600.0, id="read well before a moment: that moment"),
        pytest.param(300.0, 0.0, 600.0, id="read half a period before a moment: that moment"),
        pytest.param(301.0, 0.0, 1_200.0, id="read under half a period before: the one after"),
        pytest.param(0.0, 0.25, 750.0, id="a pool's phase moves its moments"),
        pytest.param(500.0, 0.25, 1_350.0, id="under half a period before its moment"),
    ],
)
def test_a_view_falls_due_at_the_first_of_the_pools_moments_half_a_period_on(
    read: float, phase: float, due: float
) -> None:
    schedule = RefreshSchedule(600.0, phase)
    assert schedule.due_at(at(read)) == at(due)
    assert not schedule.due(at(read), at(due - 1))
    assert schedule.due(at(read), at(due))


@pytest.mark.parametrize("period", [600.0, 1_000.0, 2_000.0])
def test_views_read_at_different_moments_are_read_together_from_the_second_refresh(
    period: float,
) -> None:
    """A pool's passes at each moment a view falls due read every view due then: read first
    over most of a period, the views are read together from the second refresh on, at the
    pool's moments, and none sooner than half a period after its last read."""
    schedule = RefreshSchedule(period, refresh_phase("pool-uid"))
    reads = [at(1_000_000 + offset) for offset in (0.0, 0.15 * period, 0.4 * period, 0.9 * period)]
    passes: list[set[int]] = []
    for _ in range(3):
        now = min(schedule.due_at(read) for read in reads)
        due = {n for n, read in enumerate(reads) if schedule.due(read, now)}
        assert all(now - reads[n] >= timedelta(seconds=period / 2) for n in due)
        reads = [now if n in due else read for n, read in enumerate(reads)]
        passes.append(due)
    assert passes[1] == passes[2] == set(range(len(reads)))
    assert schedule.due_at(reads[0]) == reads[0] + timedelta(seconds=period)


def test_pools_moments_spread_evenly_over_the_period_and_stay_put() -> None:
    uids = [str(uuid.UUID(int=n * 7_919_000_003 + 12_345)) for n in range(1_000)]
    phases = [refresh_phase(uid) for uid in uids]
    assert all(0.0 <= phase < 1.0 for phase in phases)
    tenths = Counter(int(phase * 10) for phase in phases)
    assert sorted(tenths) == list(range(10))
    assert all(70 <= count <= 130 for count in tenths.values())
    assert [refresh_phase(uid) for uid in uids] == phases


def test_never_is_never_due() -> None:
    assert not NEVER.due(at(0.0), at(10.0**9))
