"""SDK clients per connection: built once, shared by every pool, closed on shutdown.

Each connection gets one credential and one client per SDK, each client with its own transport
(see transport.py), pointed at the connection's ARM endpoint and token scope, carrying vmroll's
user agent, the bounded `Retry-After` policy and, after it, the policy that counts every attempt
for the operator's metrics.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from azure.core.credentials_async import AsyncTokenCredential
from azure.mgmt.compute.aio import ComputeManagementClient
from azure.mgmt.marketplaceordering.aio import MarketplaceOrderingAgreements

from vmroll import __version__
from vmroll.azure.credentials import build_credential
from vmroll.azure.observer import NOT_OBSERVED, AzureObserver
from vmroll.azure.request_policy import RequestCountingPolicy
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
    common: dict[str, Any] = {
        "base_url": endpoint.base_url,
        "credential_scopes": [endpoint.arm_scope],
        "user_agent": USER_AGENT,
        "polling_interval": options.polling_interval,
        "per_retry_policies": [RequestCountingPolicy(observer)],
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
    return AzureClients(connection, credential, compute, agreements)


class ClientCache:
    """One `AzureClients` per connection; a changed connection (a rotated secret) is a new key."""

    def __init__(
        self, options: ClientOptions | None = None, observer: AzureObserver = NOT_OBSERVED
    ) -> None:
        self._options = options or ClientOptions()
        self._observer = observer
        self._clients: dict[AccountConnection, AzureClients] = {}

    def for_connection(self, connection: AccountConnection) -> AzureClients:
        clients = self._clients.get(connection)
        if clients is None:
            clients = build_clients(connection, self._options, self._observer)
            self._clients[connection] = clients
        return clients

    async def discard(self, connection: AccountConnection) -> None:
        """Close and forget a connection that is no longer used (account deleted or changed)."""
        clients = self._clients.pop(connection, None)
        if clients is not None:
            await clients.close()

    async def close(self) -> None:
        while self._clients:
            _, clients = self._clients.popitem()
            await clients.close()
