"""The webhook's HTTPS endpoint on loopback, as the API server calls it: TLS verified against the
CA the local stack registers, AdmissionReviews in and out; and `vmroll run --webhook` refusing
to start, saying which flag to fix, when it cannot serve."""

from __future__ import annotations

import socket
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from vmroll.admission.server import PATH, ServingCertificate, serve_webhook
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
    runner = await serve_webhook(
        "127.0.0.1", port, ServingCertificate.in_directory(certificates.directory)
    )
    try:
        yield f"https://127.0.0.1:{port}{PATH}"
    finally:
        await runner.cleanup()


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
