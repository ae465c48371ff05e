"""The webhook's HTTPS endpoint: one POST route that answers AdmissionReviews.

The API server only calls webhooks over TLS and verifies them against the configuration's CA
bundle, so the endpoint serves the certificate and key it is given (the `kubernetes.io/tls`
layout, `tls.crt` and `tls.key`, as the chart's Secret mounts them). A request that is not an
AdmissionReview gets 400; a review is decided by `vmroll.admission.review`, which never raises
on the object's content.
"""

from __future__ import annotations

import json
import logging
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from vmroll.admission.review import PoolCheck, review

PATH = "/validate"
CERTIFICATE_FILE = "tls.crt"
KEY_FILE = "tls.key"

logger = logging.getLogger(__name__)


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


async def serve_webhook(
    host: str, port: int, certificate: ServingCertificate, pool_checks: Sequence[PoolCheck] = ()
) -> web.AppRunner:
    """Listen on host:port over TLS; close the returned runner to stop."""
    runner = web.AppRunner(application(pool_checks), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port, ssl_context=certificate.ssl_context()).start()
    return runner
