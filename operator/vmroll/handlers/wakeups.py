"""What ends a paused pool's wait early: one asyncio event per pool, set by the watch.

A pool's daemon (handlers/pools.py) waits between passes for its deadline or for a change to
what it acts on: its spec, labels and annotations, its AzureAccount, the ImagePolicies, its
namespace's labels. Looking at those twice a second per pool costs 2,000 wake-ups a second at
1,000 pools doing nothing; instead the watch sets the pool's event when something it may care
about arrives (the pool's own events, its account's, any policy's, its namespace's), and the
woken daemon compares what it acted on with what is there now before it runs a pass. A nudge
that changes nothing it compares (a status written by its own pass) costs one comparison, not
a pass.

One nudge ends the pause whatever it compares: `due`, from the write budget, when a token is set
aside for a pool it refused (azure/budget.py: the pool's ticket had its turn), so that the pool
takes it now rather than at the end of the estimate it was given; and from a group's list that
shows a pool at rest changed, or from its sentinel's leaving (reconcile/resting_pools.py), so
that a pool sleeping until its views are due passes now. An ImageCapture's loop pauses
here too, for that nudge alone (handlers/captures.py): its writes wait in the budget under its
UID as a pool's under the pool's.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import kopf


@dataclass
class _Paused:
    nudged: asyncio.Event = field(default_factory=asyncio.Event)
    account: str | None = None
    namespace: str | None = None
    due: bool = False


class Wakeups:
    """One entry per running pool or ImageCapture daemon, from its first pause until the daemon
    ends."""

    def __init__(self) -> None:
        self._pools: dict[str, _Paused] = {}

    def pausing(self, uid: str, account: str | None, namespace: str | None) -> asyncio.Event:
        """The event a pool waits on, and the account and namespace whose changes must set it."""
        paused = self._pools.setdefault(uid, _Paused())
        paused.account, paused.namespace = account, namespace
        return paused.nudged

    def ended(self, uid: str) -> None:
        self._pools.pop(uid, None)

    def pool(self, uid: str | None) -> None:
        paused = self._pools.get(uid or "")
        if paused is not None:
            paused.nudged.set()

    def due(self, uid: str) -> bool:
        """The pool's next pass is due now, whatever its pause was for; False when no daemon of
        it runs."""
        paused = self._pools.get(uid)
        if paused is None:
            return False
        paused.due = True
        paused.nudged.set()
        return True

    def take_due(self, uid: str) -> bool:
        """Whether the pool's pass was made due since last asked (and no longer is)."""
        paused = self._pools.get(uid)
        if paused is None or not paused.due:
            return False
        paused.due = False
        return True

    def account(self, name: str | None) -> None:
        for paused in self._pools.values():
            if paused.account == name:
                paused.nudged.set()

    def namespace(self, name: str | None) -> None:
        for paused in self._pools.values():
            if paused.namespace == name:
                paused.nudged.set()

    def every_pool(self) -> None:
        for paused in self._pools.values():
            paused.nudged.set()

    def __len__(self) -> int:
        return len(self._pools)


async def first_of(stopped: kopf.DaemonStopped, nudged: asyncio.Event, seconds: float) -> None:
    """Until the daemon is stopped, `nudged` is set, or `seconds` have passed."""
    waits = {asyncio.ensure_future(stopped.wait()), asyncio.ensure_future(nudged.wait())}
    try:
        await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiting in waits:
            waiting.cancel()
        await asyncio.gather(*waits, return_exceptions=True)
