"""SDK clients per connection: built once, shared by every pool, closed when no longer used.

Each connection gets one credential and one client per SDK, each client with its own transport
(see transport.py), pointed at the connection's ARM endpoint and token scope, carrying vmroll's
user agent, the bounded `Retry-After` policy and, after it, the policy that reads Azure's
remaining counts from every answer and paces reads by the connection's ARM reads bucket (one
`ReadPacer` shared by its clients) and holds reads of one VM (low_cost_holds.py), then the one
that counts every attempt for the operator's metrics: only those sent, not one held or
cancelled while it waited.

A pass borrows the clients for as long as it uses them (`ClientCache.borrow`). When an account's
credentials rotate or the account is deleted, its old connection is discarded: it is dropped at
once, so that new passes build clients for the new one, but closed only when the last pass still
borrowing it returns them, never under a call in flight.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from azure.core.credentials_async import AsyncTokenCredential
from azure.mgmt.compute.aio import ComputeManagementClient
from azure.mgmt.marketplaceordering.aio import MarketplaceOrderingAgreements

from vmroll import __version__
from vmroll.azure.credentials import build_credential
from vmroll.azure.observer import NOT_OBSERVED, AzureObserver
from vmroll.azure.read_pacing import ReadPacer
from vmroll.azure.request_policy import HeadroomPolicy, RequestCountingPolicy
from vmroll.azure.retry import BoundedRetryAfterPolicy
from vmroll.azure.settings import AccountConnection
from vmroll.azure.transport import build_ssl_context, new_transport

USER_AGENT = f"vmroll/{__version__}"


@dataclass(frozen=True)
class ClientOptions:
    """Pipeline tuning shared by every connection.

    `polling_interval` is the wait between long-running-operation polls when ARM sends no
    `Retry-After`; `max_retry_wait` bounds the in-pipeline waiting of one request.
    """

    polling_interval: float = 15.0
    max_retry_wait: float = 30.0


@dataclass(frozen=True)
class AzureClients:
    """The credential and SDK clients of one connection."""

    connection: AccountConnection
    credential: AsyncTokenCredential
    compute: ComputeManagementClient
    agreements: MarketplaceOrderingAgreements
    reads: ReadPacer

    async def close(self) -> None:
        """Clients do not own the credential, so it is closed after them."""
        try:
            await self.compute.close()
            await self.agreements.close()
        finally:
            await self.credential.close()


def build_clients(
    connection: AccountConnection,
    options: ClientOptions,
    observer: AzureObserver = NOT_OBSERVED,
) -> AzureClients:
    """Open nothing yet: sessions connect on first use."""
    credential = build_credential(connection)
    endpoint = connection.endpoint
    ssl_context = build_ssl_context(endpoint.ca_bundle)
    reads = ReadPacer(clock=time.monotonic, sleep=asyncio.sleep)
    common: dict[str, Any] = {
        "base_url": endpoint.base_url,
        "credential_scopes": [endpoint.arm_scope],
        "user_agent": USER_AGENT,
        "polling_interval": options.polling_interval,
        "per_retry_policies": [HeadroomPolicy(reads), RequestCountingPolicy(observer)],
    }
    compute = ComputeManagementClient(
        credential,
        connection.subscription_id,
        transport=new_transport(ssl_context),
        retry_policy=BoundedRetryAfterPolicy(max_wait=options.max_retry_wait, observer=observer),
        **common,
    )
    agreements = MarketplaceOrderingAgreements(
        credential,
        connection.subscription_id,
        transport=new_transport(ssl_context),
        retry_policy=BoundedRetryAfterPolicy(max_wait=options.max_retry_wait, observer=observer),
        **common,
    )
    return AzureClients(connection, credential, compute, agreements, reads)


@dataclass
class _Entry:
    clients: AzureClients
    borrowers: int = 0


class ClientCache:
    """One `AzureClients` per connection; a changed connection (a rotated secret) is a new key."""

    def __init__(
        self, options: ClientOptions | None = None, observer: AzureObserver = NOT_OBSERVED
    ) -> None:
        self._options = options or ClientOptions()
        self._observer = observer
        self._entries: dict[AccountConnection, _Entry] = {}
        self._retired: list[_Entry] = []
        """Discarded while borrowed: closed by their last borrower, or at shutdown."""

    def __len__(self) -> int:
        return len(self._entries) + len(self._retired)

    def _entry(self, connection: AccountConnection) -> _Entry:
        entry = self._entries.get(connection)
        if entry is None:
            clients = build_clients(connection, self._options, self._observer)
            entry = self._entries[connection] = _Entry(clients)
        return entry

    @asynccontextmanager
    async def borrow(self, connection: AccountConnection) -> AsyncIterator[AzureClients]:
        """The connection's clients, kept open until the block ends even if discarded in it."""
        entry = self._entry(connection)
        entry.borrowers += 1
        try:
            yield entry.clients
        finally:
            entry.borrowers -= 1
            # Unless shutdown closed it already (and so took it from the retired).
            if entry.borrowers == 0 and entry in self._retired:
                self._retired.remove(entry)
                await entry.clients.close()

    async def discard(self, connection: AccountConnection) -> None:
        """Forget a connection that is no longer used (account deleted or changed) and close
        its clients, at once if no pass borrows them, else when the last one returns them."""
        entry = self._entries.pop(connection, None)
        if entry is None:
            return
        if entry.borrowers:
            self._retired.append(entry)
            return
        await entry.clients.close()

    async def retain(self, connections: Collection[AccountConnection]) -> None:
        """Discard every connection but `connections`."""
        for connection in [c for c in self._entries if c not in connections]:
            await self.discard(connection)

    async def close(self) -> None:
        """At shutdown: every client, borrowed or not (the passes are stopped by then)."""
        entries = [*self._entries.values(), *self._retired]
        self._entries.clear()
        self._retired.clear()
        for entry in entries:
            await entry.clients.close()
