"""The `/metrics` endpoint, served by aiohttp on the operator's own event loop.

prometheus_client's own server runs in a thread that nothing stops; this one is started in kopf's
startup handler and closed in its cleanup handler, so SIGTERM ends it with the operator. Scrapes
run on the loop that writes the metrics, so they read consistent figures without locks.
Counters and histograms are served without their `_created` series: in the text format each is a
gauge series of its own, which would double the scrape for a timestamp Prometheus does not read
from it.
"""

from __future__ import annotations

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    disable_created_metrics,
    generate_latest,
)

PATH = "/metrics"


async def serve_metrics(registry: CollectorRegistry, host: str, port: int) -> web.AppRunner:
    """Listen on host:port; close the returned runner to stop."""
    disable_created_metrics()  # type: ignore[no-untyped-call]  # untyped in prometheus_client

    async def scrape(_: web.Request) -> web.Response:
        return web.Response(
            body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    app = web.Application()
    app.router.add_get(PATH, scrape)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
