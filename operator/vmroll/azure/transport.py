"""HTTPS transports that trust the connection's CA bundle, one per SDK pipeline.

azure-core's `connection_verify=<path>` builds a fresh `SSLContext` on every request, and aiohttp
keys pooled connections by that context, so every call would pay a new TLS handshake; it also
cannot take PEM text. Instead each pipeline gets its own aiohttp session whose connector holds
one context built here. Transports are never shared between pipelines: closing a pipeline closes
its transport's session.
"""

from __future__ import annotations

import ssl

import aiohttp
from azure.core.pipeline.transport import AioHttpTransport

from vmroll.azure.settings import CaBundle, CaBundleFile


def build_ssl_context(ca_bundle: CaBundle | None) -> ssl.SSLContext:
    """System trust by default; only the given CAs when a bundle is configured."""
    if ca_bundle is None:
        return ssl.create_default_context()
    if isinstance(ca_bundle, CaBundleFile):
        return ssl.create_default_context(cafile=ca_bundle.path)
    return ssl.create_default_context(cadata=ca_bundle.pem)


def new_transport(ssl_context: ssl.SSLContext) -> AioHttpTransport:
    """A transport owning its session; must be called with the event loop running."""
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(ssl=ssl_context),
        cookie_jar=aiohttp.DummyCookieJar(),
        auto_decompress=False,
        trust_env=True,
    )
    return AioHttpTransport(session=session, session_owner=True)
