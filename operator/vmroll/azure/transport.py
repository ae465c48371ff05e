"""HTTPS transports that trust the connection's CA bundle, one per SDK pipeline.

azure-core's `connection_verify=<path>` builds a fresh `SSLContext` on every request, and aiohttp
keys pooled connections by that context, so every call would pay a new TLS handshake; it also
cannot take PEM text. Instead each pipeline's transport opens its aiohttp session with a
connector that holds one context built here. The session is made on first use, inside the event
loop (aiohttp binds sessions to it), so clients can be built anywhere. Transports are never
shared between pipelines: closing a pipeline closes its transport's session.

A session keeps at most `CONNECTIONS` connections (aiohttp's default is 100): each open TLS
connection holds 128 KiB of asyncio's buffer plus OpenSSL's state, and at 1,000 pools creating
at once the compute pipeline had all 100 open, ~28 MiB with the Kubernetes ones, for as many
requests in flight as ARM's buckets never let through anyway (25 reads and 10 writes a second).
"""

from __future__ import annotations

import ssl

import aiohttp
from azure.core.pipeline.transport import AioHttpTransport

from vmroll.azure.settings import CaBundle, CaBundleFile

CONNECTIONS = 32


def build_ssl_context(ca_bundle: CaBundle | None) -> ssl.SSLContext:
    """System trust by default; only the given CAs when a bundle is configured."""
    if ca_bundle is None:
        return ssl.create_default_context()
    if isinstance(ca_bundle, CaBundleFile):
        return ssl.create_default_context(cafile=ca_bundle.path)
    return ssl.create_default_context(cadata=ca_bundle.pem)


# azure-core re-exports AioHttpTransport lazily (module __getattr__), which mypy sees as Any.
class TrustingTransport(AioHttpTransport):  # type: ignore[misc]
    """An `AioHttpTransport` whose own session verifies TLS with one fixed `SSLContext`."""

    def __init__(self, ssl_context: ssl.SSLContext) -> None:
        super().__init__()
        self._ssl_context = ssl_context
        self._session_made = False

    async def open(self) -> None:
        # Only the first open makes a session: after close, the base class must see none and
        # refuse, as it does for its own sessions.
        if not self._session_made:
            self._session_made = True
            self.session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=self._ssl_context, limit=CONNECTIONS),
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False,
                trust_env=True,
            )
        await super().open()


def new_transport(ssl_context: ssl.SSLContext) -> AioHttpTransport:
    return TrustingTransport(ssl_context)
