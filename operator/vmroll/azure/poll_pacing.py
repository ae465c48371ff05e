"""How often one VM's long-running operation may be polled: `Retry-After`, and Compute's Get
Operation policy.

Compute keeps a token bucket per VM for operation status reads: 45, refilled 15 a minute
(tests/integration/azure_examples/compute_throttling.md). A pass resumes every recorded operation
and the SDK's poller asks at once, then after each `Retry-After`: a create followed every second
empties the bucket in under a minute and is then answered 429. So every status read of a VM's
operation first waits here: until the `Retry-After` of the VM's last answer has passed, and
until its bucket (as vmroll counts it, lowered to what Compute reports) holds a token above
`reserve`. `lro.wait` returns at once when that wait is longer than it may wait at all.

State is kept per VM resource ID while it matters; `forget_idle` drops VMs whose bucket is full
again and whose `Retry-After` has passed (nothing is lost: a new entry starts the same way).
"""

from __future__ import annotations

from dataclasses import dataclass

from vmroll.azure.budget import Clock, Limit, Sleep

GET_OPERATION = Limit(45.0, 15.0 / 60.0)


@dataclass
class _VmPolls:
    tokens: float
    updated: float
    not_before: float


class PollPacer:
    """Per-VM pacing of operation status reads, shared by every pool of the operator."""

    def __init__(
        self, *, clock: Clock, sleep: Sleep, limit: Limit = GET_OPERATION, reserve: float = 3.0
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._limit = limit
        self._reserve = reserve
        self._vms: dict[str, _VmPolls] = {}

    def __len__(self) -> int:
        return len(self._vms)

    def delay(self, resource_id: str) -> float:
        """Seconds until the VM's operation may be polled."""
        state = self._state(resource_id)
        missing = max(0.0, 1.0 + self._reserve - state.tokens)
        return max(state.not_before - state.updated, missing / self._limit.refill_per_second)

    async def before_poll(self, resource_id: str) -> None:
        """Wait until a poll may go, then count it."""
        wait = self.delay(resource_id)
        if wait > 0:
            await self._sleep(wait)
        state = self._state(resource_id)
        state.tokens = max(0.0, state.tokens - 1.0)

    def answered(
        self, resource_id: str, *, retry_after: float | None, remaining: int | None
    ) -> None:
        """An answer about the VM's operation: poll again no sooner than `retry_after`; Compute
        has `remaining` status reads left for the VM."""
        state = self._state(resource_id)
        if retry_after is not None:
            state.not_before = max(state.not_before, state.updated + retry_after)
        if remaining is not None:
            state.tokens = min(state.tokens, float(remaining))

    def forget_idle(self) -> None:
        now = self._clock()
        for key in [key for key in self._vms if self._idle(key, now)]:
            del self._vms[key]

    def _idle(self, key: str, now: float) -> bool:
        state = self._refilled(self._vms[key], now)
        return state.tokens >= self._limit.capacity and state.not_before <= now

    def _state(self, resource_id: str) -> _VmPolls:
        now = self._clock()
        key = resource_id.lower()
        state = self._vms.get(key)
        if state is None:
            state = self._vms[key] = _VmPolls(self._limit.capacity, now, now)
        return self._refilled(state, now)

    def _refilled(self, state: _VmPolls, now: float) -> _VmPolls:
        if now > state.updated:
            gained = (now - state.updated) * self._limit.refill_per_second
            state.tokens = min(self._limit.capacity, state.tokens + gained)
            state.updated = now
        return state
