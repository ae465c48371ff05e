"""The webhook's HTTPS endpoint on loopback, as the API server calls it: TLS verified against the
CA the local stack registers, AdmissionReviews in and out, answered from the webhook's own
thread while the operator's loop is busy; and `vmroll run --webhook` refusing to start, saying
which flag to fix, when it cannot serve."""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from vmroll.admission.server import PATH, ServingCertificate, WebhookThread
from vmroll.handlers.cli import with_webhook
from vmroll.handlers.run_config import ListenAddress
from vmroll.pki.webhook import WebhookCertificates, write_webhook_certificates

POOL_REVIEW: dict[str, Any] = {
    "apiVersion": "admission.k8s.io/v1",
    "kind": "AdmissionReview",
    "request": {
        "uid": "u-7",
        "kind": {"group": "vmroll.io", "version": "v1alpha1", "kind": "VirtualMachinePool"},
        "operation": "CREATE",
        "object": {"apiVersion": "vmroll.io/v1alpha1", "kind": "VirtualMachinePool",
                   "metadata": {"name": "web"}, "spec": {"replicas": 2}},
    },
}  # fmt: skip


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def certificates(tmp_path: Path) -> WebhookCertificates:
    return write_webhook_certificates(tmp_path / "webhook")


@pytest.fixture
async def url(certificates: WebhookCertificates) -> AsyncIterator[str]:
    port = _free_port()
    webhook = await WebhookThread.start(
        "127.0.0.1", port, ServingCertificate.in_directory(certificates.directory)
    )
    try:
        yield f"https://127.0.0.1:{port}{PATH}"
    finally:
        await webhook.stop()


async def test_answers_a_review_over_tls_verified_by_its_ca(
    url: str, certificates: WebhookCertificates
) -> None:
    trust = ssl.create_default_context(cadata=certificates.ca_pem.decode())
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, json=POOL_REVIEW, ssl=trust) as response,
    ):
        answer = await response.json()
    assert response.status == 200
    assert answer["response"]["uid"] == "u-7"
    assert answer["response"]["allowed"] is False
    assert "spec.accountRef" in answer["response"]["status"]["message"]


async def test_a_client_trusting_another_ca_cannot_connect(url: str, tmp_path: Path) -> None:
    stranger = write_webhook_certificates(tmp_path / "stranger")
    trust = ssl.create_default_context(cadata=stranger.ca_pem.decode())
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await session.post(url, json=POOL_REVIEW, ssl=trust)


async def test_what_is_not_a_review_gets_400(url: str, certificates: WebhookCertificates) -> None:
    trust = ssl.create_default_context(cadata=certificates.ca_pem.decode())
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=b"not json", ssl=trust) as response,
    ):
        assert response.status == 400


async def test_answers_while_the_loop_that_started_it_is_blocked(
    certificates: WebhookCertificates,
) -> None:
    """The operator's passes hold its loop; a review must not wait for them. This request is
    sent synchronously from the loop that started the webhook, holding it for the whole call."""
    port = _free_port()
    webhook = await WebhookThread.start(
        "127.0.0.1", port, ServingCertificate.in_directory(certificates.directory)
    )
    try:
        trust = ssl.create_default_context(cadata=certificates.ca_pem.decode())
        connection = http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=trust)
        try:
            connection.request(
                "POST", PATH, json.dumps(POOL_REVIEW), {"Content-Type": "application/json"}
            )
            response = connection.getresponse()
            answer = json.loads(response.read())
        finally:
            connection.close()
    finally:
        await webhook.stop()
    assert response.status == 200
    assert answer["response"]["uid"] == "u-7"


async def test_stop_frees_the_port_and_ends_the_thread(certificates: WebhookCertificates) -> None:
    port = _free_port()
    certificate = ServingCertificate.in_directory(certificates.directory)
    webhook = await WebhookThread.start("127.0.0.1", port, certificate)
    await webhook.stop()
    assert "vmroll-webhook" not in {thread.name for thread in threading.enumerate()}
    again = await WebhookThread.start("127.0.0.1", port, certificate)
    await again.stop()


async def test_a_port_in_use_raises_and_leaves_no_thread(
    certificates: WebhookCertificates,
) -> None:
    certificate = ServingCertificate.in_directory(certificates.directory)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(OSError, match=r"(?i)address already in use"):
            await WebhookThread.start("127.0.0.1", taken.getsockname()[1], certificate)
    assert "vmroll-webhook" not in {thread.name for thread in threading.enumerate()}


async def test_run_stops_naming_the_flags_when_the_certificate_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    operated: list[bool] = []

    async def operate() -> int:
        operated.append(True)
        return 0

    address = ListenAddress("127.0.0.1", _free_port())
    assert await with_webhook(address, tmp_path / "absent", operate) == 1
    assert operated == []
    assert "--webhook-cert-dir" in capsys.readouterr().err


async def test_run_stops_saying_so_when_there_is_no_kubernetes_configuration(
    tmp_path: Path,
    certificates: WebhookCertificates,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The webhook reads ImagePolicies from the API server: without a configuration it would
    refuse every pool as unavailable, so `vmroll run` does not start."""
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "absent-kubeconfig"))
    operated: list[bool] = []

    async def operate() -> int:
        operated.append(True)
        return 0

    address = ListenAddress("127.0.0.1", _free_port())
    assert await with_webhook(address, certificates.directory, operate) == 1
    assert operated == []
    assert "no Kubernetes configuration" in capsys.readouterr().err
