"""Lease arithmetic: who holds a Lease, when it expires, what a replica does next, and a
simulated pair of replicas that never act at the same time."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from vmroll.plan.leases import (
    Create,
    LeaseRecord,
    LeaseTiming,
    Observation,
    Update,
    Wait,
    current_holder,
    leadership_lost,
    next_step,
    observe,
    released,
    still_holds,
)

TIMING = LeaseTiming()
A = LeaseRecord("a", 15, 3)


@pytest.mark.parametrize(
    ("lease", "renew", "retry", "message"),
    [
        pytest.param(10.0, 10.0, 2.0, "lease_duration > renew_deadline", id="renew-equals-lease"),
        pytest.param(15.0, 2.0, 2.0, "renew_deadline > retry_period", id="retry-equals-renew"),
        pytest.param(15.0, 10.0, 0.0, "retry_period > 0", id="no-retry"),
    ],
)
def test_timing_refuses_an_order_that_allows_two_actors(
    lease: float, renew: float, retry: float, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        LeaseTiming(lease, renew, retry)


@pytest.mark.parametrize(
    ("lease", "seconds"),
    [pytest.param(15.0, 15, id="whole"), pytest.param(12.2, 13, id="rounded-up")],
)
def test_duration_written_is_never_shorter(lease: float, seconds: int) -> None:
    assert LeaseTiming(lease, 10.0, 2.0).duration_seconds == seconds


@pytest.mark.parametrize(
    ("previous", "record", "version", "since"),
    [
        pytest.param(None, A, "7", 100.0, id="first-look"),
        pytest.param(Observation(A, "7", 40.0), A, "7", 40.0, id="unchanged-keeps-since"),
        pytest.param(Observation(A, "7", 40.0), A, "8", 100.0, id="renewed-restarts"),
        pytest.param(
            Observation(A, "7", 40.0), LeaseRecord("b", 15, 4), "8", 100.0, id="new-holder"
        ),
        pytest.param(Observation(A, "7", 40.0), None, "", 100.0, id="deleted"),
    ],
)
def test_observe_moves_since_only_when_the_lease_changed(
    previous: Observation | None, record: LeaseRecord | None, version: str, since: float
) -> None:
    assert observe(previous, record, version, 100.0) == Observation(record, version, since)


@pytest.mark.parametrize(
    ("observation", "now", "holder"),
    [
        pytest.param(Observation(None, "", 0.0), 0.0, None, id="absent"),
        pytest.param(Observation(released(A), "9", 0.0), 0.0, None, id="released"),
        pytest.param(Observation(A, "7", 100.0), 100.0, "a", id="just-seen"),
        pytest.param(Observation(A, "7", 100.0), 114.9, "a", id="last-moment"),
        pytest.param(Observation(A, "7", 100.0), 115.0, None, id="expired-at-duration"),
        pytest.param(Observation(A, "7", 100.0), 500.0, None, id="long-expired"),
    ],
)
def test_current_holder(observation: Observation, now: float, holder: str | None) -> None:
    assert current_holder(observation, now) == holder


@pytest.mark.parametrize(
    ("observation", "me", "now", "step"),
    [
        pytest.param(
            Observation(None, "", 0.0), "b", 0.0, Create(LeaseRecord("b", 15)), id="create"
        ),
        pytest.param(
            Observation(A, "7", 100.0), "b", 101.0, Wait("a", 2.0, 14.0), id="held-by-another"
        ),
        pytest.param(
            Observation(A, "7", 100.0),
            "b",
            115.0,
            Update(LeaseRecord("b", 15, 4), "7"),
            id="take-over-expired",
        ),
        pytest.param(
            Observation(released(A), "9", 100.0),
            "b",
            100.0,
            Update(LeaseRecord("b", 15, 4), "9"),
            id="take-over-released-at-once",
        ),
        pytest.param(
            Observation(A, "7", 100.0),
            "a",
            101.0,
            Update(LeaseRecord("a", 15, 3), "7"),
            id="renew-own",
        ),
        pytest.param(
            Observation(LeaseRecord("a", 60, 3), "7", 100.0),
            "b",
            130.0,
            Wait("a", 2.0, 30.0),
            id="holder-duration-rules",
        ),
    ],
)
def test_next_step(observation: Observation, me: str, now: float, step: object) -> None:
    assert next_step(observation, me, now, TIMING) == step


@pytest.mark.parametrize(
    ("record", "holds"),
    [
        pytest.param(A, True, id="mine"),
        pytest.param(LeaseRecord("b", 15, 4), False, id="taken"),
        pytest.param(released(A), False, id="released"),
        pytest.param(None, False, id="deleted"),
    ],
)
def test_still_holds(record: LeaseRecord | None, holds: bool) -> None:
    assert still_holds(Observation(record, "8", 0.0), "a") is holds


@pytest.mark.parametrize(
    ("last_renewed", "now", "lost"),
    [
        pytest.param(100.0, 100.0, False, id="just-renewed"),
        pytest.param(100.0, 109.9, False, id="within-deadline"),
        pytest.param(100.0, 110.0, True, id="at-deadline"),
        pytest.param(100.0, 130.0, True, id="long-past"),
    ],
)
def test_leadership_lost(last_renewed: float, now: float, lost: bool) -> None:
    assert leadership_lost(last_renewed, now, TIMING) is lost


def test_released_keeps_transitions_and_names_nobody() -> None:
    assert released(A) == LeaseRecord("", 1, 3)


@dataclass
class Store:
    """The apiserver's side: one Lease with optimistic concurrency."""

    record: LeaseRecord | None = None
    version: int = 0

    def write(self, step: Create | Update) -> bool:
        expected = "" if isinstance(step, Create) else step.version
        if self.current_version != expected:
            return False
        self.record, self.version = step.record, self.version + 1
        return True

    @property
    def current_version(self) -> str:
        return "" if self.record is None else str(self.version)


@dataclass
class Replica:
    """One operator process as the election loop drives it, on a clock the test advances."""

    name: str
    alive: bool = True
    observation: Observation | None = None
    renewed_at: float | None = None
    acting_since: list[float] = field(default_factory=list)

    def acting(self, now: float) -> bool:
        return self.renewed_at is not None and not leadership_lost(self.renewed_at, now, TIMING)

    def tick(self, store: Store, now: float) -> None:
        if not self.alive:
            return
        self.observation = observe(self.observation, store.record, store.current_version, now)
        step = next_step(self.observation, self.name, now, TIMING)
        if isinstance(step, Wait):
            return
        if store.write(step):
            if self.renewed_at is None:
                self.acting_since.append(now)
            self.renewed_at = now
        elif self.renewed_at is not None and leadership_lost(self.renewed_at, now, TIMING):
            self.renewed_at = None


@pytest.mark.parametrize(
    ("offset_b", "failure"),
    [
        pytest.param(0.0, "killed", id="in-step-killed"),
        pytest.param(0.7, "killed", id="offset-killed"),
        pytest.param(1.3, "released", id="offset-released"),
    ],
)
def test_two_replicas_never_act_at_once_and_the_standby_takes_over(
    offset_b: float, failure: str
) -> None:
    store, a, b = Store(), Replica("a"), Replica("b")
    step, now, failed_at = 0.1, 0.0, 30.0
    takeover: float | None = None
    while now < 90.0:
        if failed_at <= now and a.alive:
            a.alive = False
            a.renewed_at = None
            if failure == "released" and store.record is not None:
                store.write(Update(released(store.record), store.current_version))
        if round(now / TIMING.retry_period, 6).is_integer():
            a.tick(store, now)
        if round((now - offset_b) / TIMING.retry_period, 6).is_integer():
            b.tick(store, now)
        assert not (a.acting(now) and b.acting(now)), f"two actors at {now:.1f}"
        if takeover is None and b.acting(now):
            takeover = now
        now = round(now + step, 6)

    assert a.acting_since == [0.0]
    assert takeover is not None
    bound = TIMING.retry_period if failure == "released" else TIMING.lease_duration + 2 * step
    assert failed_at < takeover <= failed_at + bound + TIMING.retry_period
