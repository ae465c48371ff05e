"""The webhook's HTTPS endpoint: one POST route that answers AdmissionReviews.

The API server only calls webhooks over TLS and verifies them against the configuration's CA
bundle, so the endpoint serves the certificate and key it is given (the `kubernetes.io/tls`
layout, `tls.crt` and `tls.key`, as the chart's Secret mounts them). A request that is not an
AdmissionReview gets 400; a review is decided by `vmroll.admission.review`, which never raises
on the object's content.

The endpoint runs on a thread and event loop of its own (`WebhookThread`). The API server waits
for a review a few seconds at most and, with `failurePolicy: Fail`, refuses the user's request
when none comes; on the operator's loop a review would queue behind every pool's pass, and a
fleet-wide version bump, the moment the operator is busiest, saw its patches time out. A review
is a few milliseconds of work, so on its own thread it waits for the interpreter, not for the
operator's backlog.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
import threading
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from aiohttp import web

from vmroll.admission.review import PoolCheck, review

PATH = "/validate"
CERTIFICATE_FILE = "tls.crt"
KEY_FILE = "tls.key"

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class ServingCertificate:
    """Where the webhook's certificate chain and private key are."""

    certificate: Path
    key: Path

    @classmethod
    def in_directory(cls, directory: Path) -> ServingCertificate:
        return cls(directory / CERTIFICATE_FILE, directory / KEY_FILE)

    def ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.certificate, self.key)
        return context


def application(pool_checks: Sequence[PoolCheck] = ()) -> web.Application:
    async def validate(request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except json.JSONDecodeError:
            return web.json_response({"error": "expected an AdmissionReview"}, status=400)
        if not isinstance(body, dict) or not isinstance(body.get("request"), dict):
            return web.json_response({"error": "expected an AdmissionReview"}, status=400)
        answer = await review(body, pool_checks)
        if not answer["response"]["allowed"]:
            what = body["request"].get("kind", {}).get("kind", "object")
            logger.info(f"admission refused a {what}: {answer['response']['status']['message']}")
        return web.json_response(answer)

    app = web.Application()
    app.router.add_post(PATH, validate)
    return app


async def _serve(
    host: str, port: int, certificate: ServingCertificate, pool_checks: Sequence[PoolCheck]
) -> web.AppRunner:
    runner = web.AppRunner(application(pool_checks), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port, ssl_context=certificate.ssl_context()).start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner


class WebhookThread:
    """The webhook served on its own thread and event loop until `stop`."""

    def __init__(self, loop: asyncio.AbstractEventLoop, thread: threading.Thread) -> None:
        self._loop = loop
        self._thread = thread
        self._runner: web.AppRunner | None = None

    @classmethod
    async def start(
        cls,
        host: str,
        port: int,
        certificate: ServingCertificate,
        pool_checks: Sequence[PoolCheck] = (),
    ) -> WebhookThread:
        """Listen on host:port over TLS; raises what binding or the certificate raises."""
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=_run, args=(loop,), name="vmroll-webhook", daemon=True)
        thread.start()
        served = cls(loop, thread)
        try:
            served._runner = await served._on_loop(_serve(host, port, certificate, pool_checks))
        except BaseException:
            await served.stop()
            raise
        return served

    async def stop(self) -> None:
        """Stop listening, let the reviews in flight finish, and end the thread."""
        if self._runner is not None:
            await self._on_loop(self._runner.cleanup())
            self._runner = None
        self._loop.call_soon_threadsafe(self._loop.stop)
        await asyncio.to_thread(self._thread.join)

    async def _on_loop(self, work: Coroutine[object, object, T]) -> T:
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(work, self._loop))


def _run(loop: asyncio.AbstractEventLoop) -> None:
    asyncio.set_event_loop(loop)
    try:
        loop.run_forever()
        loop.run_until_complete(loop.shutdown_default_executor())
    finally:
        loop.close()
