"""Drop what the operator keeps for pools and accounts that no longer exist.

An operator that runs for weeks must hold flat memory while pools and accounts come and go. The
delete handlers forget a pool or an account as soon as it is gone; `prune` is the safety net for
whatever they miss (a pool whose finalizer someone else removed, a deletion that happened while
the operator was down, a pass that raced the deletion and left a memory behind): pool passes call
it, at most once per `PRUNE_INTERVAL_SECONDS`, with what kopf's indexes say still exists. What a
running pass holds (its lock, its borrowed clients) is never pulled from under it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from vmroll.handlers.state import OperatorState

PRUNE_INTERVAL_SECONDS = 60.0
IMAGE_ENTRY_MAX_AGE_SECONDS = 86400.0
"""Image resolutions older than this are dropped; a pool that still wants one resolves again."""


@dataclass(frozen=True)
class Live:
    """The pools (by UID, and by namespace and name) and accounts (by name) that exist."""

    pool_uids: frozenset[str]
    pool_names: frozenset[tuple[str, str]]
    account_names: frozenset[str]

    @classmethod
    def of(cls, pools: Mapping[Any, Iterable[Any]], accounts: Mapping[Any, Any]) -> Live:
        """From the pools index (UID to (namespace, name)) and the accounts index (by name)."""
        names = frozenset(tuple(value) for values in pools.values() for value in values)
        return cls(
            pool_uids=frozenset(str(uid) for uid in pools),
            pool_names=frozenset((str(ns), str(name)) for ns, name in names),
            account_names=frozenset(str(name) for name in accounts),
        )


def forget_pool(state: OperatorState, uid: str, namespace: str, name: str) -> None:
    state.memories.pop(uid, None)
    forget_lock(state, uid)
    state.metrics.forget_pool(namespace, name)


def forget_lock(state: OperatorState, uid: str) -> None:
    """The object's lock, unless someone holds it."""
    lock = state.locks.get(uid)
    if lock is not None and not lock.locked():
        del state.locks[uid]


async def forget_account(state: OperatorState, name: str) -> None:
    state.connections.pop(name, None)
    state.parsed_accounts.pop(name, None)
    await _drop_unused_connections(state)


async def prune_if_due(state: OperatorState, live: Callable[[], Live]) -> None:
    """`live` is read only when a prune is due: made from kopf's indexes it costs every pool, and
    every pool's pass asks (1,000 pools: a million entries a window, for one prune)."""
    now = state.monotonic()
    if now - state.pruned_at < PRUNE_INTERVAL_SECONDS:
        return
    state.pruned_at = now
    await prune(state, live())


async def prune(state: OperatorState, live: Live) -> None:
    for uid in [uid for uid in state.memories if uid not in live.pool_uids]:
        del state.memories[uid]
    for uid in [uid for uid, lock in state.locks.items() if uid not in live.pool_uids]:
        if not state.locks[uid].locked():
            del state.locks[uid]
    state.metrics.keep_pools(live.pool_names)
    for name in [name for name in state.connections if name not in live.account_names]:
        del state.connections[name]
    for name in [name for name in state.parsed_accounts if name not in live.account_names]:
        del state.parsed_accounts[name]
    await _drop_unused_connections(state)


async def _drop_unused_connections(state: OperatorState) -> None:
    """Clients, write budgets, accepted terms and image resolutions of connections and
    subscriptions no account uses any more."""
    connections = {cached.connection for cached in state.connections.values()}
    resolved_after = state.monotonic() - IMAGE_ENTRY_MAX_AGE_SECONDS
    await state.azure.retain(connections, resolved_after=resolved_after)
