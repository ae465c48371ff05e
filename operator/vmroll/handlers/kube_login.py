"""kopf's connections to the API server, bounded.

kopf logs in through the official client's configuration (`kopf.login_via_client`, what it
does when no login handler is registered) and then opens an HTTP session with no limit on its
connections: every status patch, event and watch that runs at once gets a TLS connection of its
own, and asyncio gives each TLS connection a 256 KiB read buffer. A fleet being created (every
pool writing its status, its events posted) opened 65 connections at 100 pools. This handler
logs in the same way and hands kopf a session whose connections are capped at
`KUBE_CONNECTIONS`; requests beyond it wait for a connection, as the ARM pipeline's do
(azure/transport.py). kopf closes the session when these credentials are replaced.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import kopf

KUBE_CONNECTIONS = 32
"""Enough for kopf's watches (one per watched resource, each held open) and the requests that
run beside them."""


@kopf.on.login()
async def login(**kwargs: Any) -> kopf.AiohttpSession | None:
    info = kopf.login_via_client(**kwargs)
    if info is None:
        return None
    return kopf.AiohttpSession(
        server=info.server,
        priority=info.priority,
        default_namespace=info.default_namespace,
        expiration=info.expiration,
        aiohttp_session=session_for(info),
    )


def session_for(info: kopf.ConnectionInfo) -> aiohttp.ClientSession:
    """The session kopf would make for `info`, its connections capped."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=KUBE_CONNECTIONS, ssl=info.as_ssl_context()),
        headers=info.as_http_headers(),
        proxy=info.proxy_url,
        trust_env=info.trust_env,
    )
