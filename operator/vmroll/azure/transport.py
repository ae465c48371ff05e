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

The proxy comes from the environment (`HTTPS_PROXY`, `NO_PROXY`, as azure-core's own transport
takes it), looked up once per host and kept. aiohttp's `trust_env` looks it up again on every
request, in a worker thread, and a `.netrc` entry for the host too, in another: two thread hops a
request, ~0.2 ms of CPU each time (a quarter of an instance view read's), for an environment
that does not change under a running process. Nor is a `.netrc` login for ARM of any use: every
request carries the credential's bearer token, and aiohttp refuses a request with both.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

import aiohttp
from aiohttp.helpers import get_env_proxy_for_url
from azure.core.pipeline.transport import AioHttpTransport
from yarl import URL

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
    """An `AioHttpTransport` whose own session verifies TLS with one fixed `SSLContext`, and
    which sends through the environment's proxy for each host as found on its first request."""

    def __init__(self, ssl_context: ssl.SSLContext) -> None:
        super().__init__()
        self._ssl_context = ssl_context
        self._session_made = False
        self._proxies: dict[str, tuple[URL, aiohttp.BasicAuth | None] | None] = {}
        """Scheme and host (`https://host:port`) -> its proxy and the proxy's login, or None."""

    async def open(self) -> None:
        # Only the first open makes a session: after close, the base class must see none and
        # refuse, as it does for its own sessions.
        if not self._session_made:
            self._session_made = True
            self.session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=self._ssl_context, limit=CONNECTIONS),
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False,
            )
        await super().open()

    async def send(self, request: Any, **kwargs: Any) -> Any:
        if not kwargs.get("proxy") and not kwargs.get("proxies"):
            proxy = await self._env_proxy(request.url)
            if proxy is not None:
                kwargs["proxy"], kwargs["proxy_auth"] = proxy
        return await super().send(request, **kwargs)

    async def _env_proxy(self, url: str) -> tuple[URL, aiohttp.BasicAuth | None] | None:
        origin = "/".join(url.split("/", 3)[:3])
        if origin not in self._proxies:
            try:
                # In a thread, as aiohttp does: it may read a .netrc for the proxy's login.
                found = await asyncio.to_thread(get_env_proxy_for_url, URL(origin))
            except LookupError:
                found = None
            self._proxies[origin] = found
        return self._proxies[origin]


def new_transport(ssl_context: ssl.SSLContext) -> AioHttpTransport:
    return TrustingTransport(ssl_context)
