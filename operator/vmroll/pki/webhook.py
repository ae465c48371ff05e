"""The admission webhook's trust root on the local stack and in the e2e tests.

The API server verifies the webhook against the CA bundle in its ValidatingWebhookConfiguration,
so the local stack needs a CA of its own and a serving certificate for 127.0.0.1 signed by it.
The files land in the layout `vmroll run --webhook-cert-dir` reads (`tls.crt`, `tls.key`, the
layout of a `kubernetes.io/tls` Secret), with the CA beside them as `ca.crt`. In a cluster the
chart mints its own (charts/vmroll/templates/webhook.yaml).
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from vmroll.pki import (
    distinguished_name,
    issue_ca,
    issue_leaf,
    write_certificates,
    write_private_key,
)

_VALIDITY = datetime.timedelta(days=365)


@dataclass(frozen=True)
class WebhookCertificates:
    """The directory `vmroll run --webhook-cert-dir` reads, and the CA the API server trusts."""

    directory: Path
    ca_pem: bytes

    @property
    def ca_bundle(self) -> str:
        """The CA as a ValidatingWebhookConfiguration's `caBundle` wants it: base64 PEM."""
        return base64.b64encode(self.ca_pem).decode()


def write_webhook_certificates(directory: Path) -> WebhookCertificates:
    """A fresh CA, and a certificate for 127.0.0.1 and localhost signed by it, in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    ca = issue_ca("vmroll webhook CA", valid_for=_VALIDITY)
    names: list[x509.GeneralName] = [
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
    ]
    leaf = issue_leaf(
        ca,
        distinguished_name("vmroll webhook"),
        usage=ExtendedKeyUsageOID.SERVER_AUTH,
        names=names,
        valid_for=_VALIDITY,
    )
    write_certificates(directory / "tls.crt", leaf.certificate)
    write_private_key(directory / "tls.key", leaf.key)
    write_certificates(directory / "ca.crt", ca.certificate)
    return WebhookCertificates(directory, ca.certificate.public_bytes(serialization.Encoding.PEM))
