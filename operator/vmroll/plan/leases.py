"""Leader election by Lease: who holds it, whether it expired, what a replica does next.

Two replicas of the operator (a Deployment with `replicas: 2`) must never both act on a pool.
They compete for one `coordination.k8s.io/v1` Lease the way client-go and controller-runtime
do. The holder renews it every `retry_period`. Another replica takes it over only once the
record has not changed for `lease_duration` seconds, measured on its own monotonic clock from
the moment it first saw that record: clocks of different machines are never compared, so the
`renewTime` written in the Lease is for people, not for this arithmetic. A holder that has not
renewed for `renew_deadline` seconds stops acting; since `renew_deadline < lease_duration`, it
has stopped before anyone else may start. Every write carries the resourceVersion it read, so
two replicas racing for a free Lease cannot both win.

Pure: observations and "now" (a monotonic reading) come in, decisions go out.

    lease absent                      -> Create (holder: me)
    released (holder "") or expired   -> Update (holder: me, transitions + 1)
    held by me                        -> Update (renew, transitions unchanged)
    held by another, not expired      -> Wait (retry_period)
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class LeaseTiming:
    """controller-runtime's defaults: a lease of 15 s, renewed within 10 s, tried every 2 s."""

    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0

    def __post_init__(self) -> None:
        if not self.lease_duration > self.renew_deadline > self.retry_period > 0:
            raise ValueError(
                "lease timing needs lease_duration > renew_deadline > retry_period > 0, got "
                f"{self.lease_duration}, {self.renew_deadline}, {self.retry_period}"
            )

    @property
    def duration_seconds(self) -> int:
        """`spec.leaseDurationSeconds` is an integer: round up, never promise less."""
        return math.ceil(self.lease_duration)


@dataclass(frozen=True)
class LeaseRecord:
    """The part of a Lease's spec that election reads and writes."""

    holder: str
    """`spec.holderIdentity`; empty once the holder released it."""
    duration_seconds: int
    transitions: int = 0


RELEASED_DURATION_SECONDS = 1
"""What a released Lease says, as client-go writes it; a free Lease is taken at once anyway."""


def released(record: LeaseRecord) -> LeaseRecord:
    return LeaseRecord("", RELEASED_DURATION_SECONDS, record.transitions)


@dataclass(frozen=True)
class Observation:
    """A Lease as this replica saw it, and since when (monotonic seconds) it looks like that."""

    record: LeaseRecord | None
    """None when no Lease exists."""
    version: str
    """metadata.resourceVersion; empty when no Lease exists."""
    since: float


def observe(
    previous: Observation | None, record: LeaseRecord | None, version: str, now: float
) -> Observation:
    """The new observation; `since` only moves when the Lease changed (a renewal changes it)."""
    if previous is not None and previous.version == version and previous.record == record:
        return previous
    return Observation(record, version, now)


def current_holder(observation: Observation, now: float) -> str | None:
    """Who holds the Lease at `now`; None when it is free (absent, released or expired)."""
    record = observation.record
    if record is None or not record.holder:
        return None
    if now - observation.since >= record.duration_seconds:
        return None
    return record.holder


@dataclass(frozen=True)
class Create:
    """No Lease yet: create it naming this replica."""

    record: LeaseRecord


@dataclass(frozen=True)
class Update:
    """Write `record` over the Lease at `version` (taking it over, or renewing it)."""

    record: LeaseRecord
    version: str


@dataclass(frozen=True)
class Wait:
    """Another replica holds the Lease; look again after `seconds`."""

    holder: str
    seconds: float
    free_in: float
    """At most this long until the Lease expires, unless its holder renews it."""


Step = Create | Update | Wait


def next_step(observation: Observation, identity: str, now: float, timing: LeaseTiming) -> Step:
    """What a replica named `identity` does with the Lease it observed."""
    record = observation.record
    if record is None:
        return Create(LeaseRecord(identity, timing.duration_seconds))
    holder = current_holder(observation, now)
    if holder is not None and holder != identity:
        free_in = observation.since + record.duration_seconds - now
        return Wait(holder, timing.retry_period, free_in)
    transitions = record.transitions + (0 if record.holder == identity else 1)
    return Update(LeaseRecord(identity, timing.duration_seconds, transitions), observation.version)


def still_holds(observation: Observation, identity: str) -> bool:
    """The Lease still names `identity` (after a write conflict: renew again, or give up)."""
    return observation.record is not None and observation.record.holder == identity


def leadership_lost(last_renewed: float, now: float, timing: LeaseTiming) -> bool:
    """The holder could not renew for `renew_deadline`: it must stop acting now, before any
    other replica may consider the Lease expired."""
    return now - last_renewed >= timing.renew_deadline
