"""The certificates of a local control plane, generated fresh for each instance.

Three separate trust roots, as kube-apiserver expects them: a serving CA and a certificate for
localhost / 127.0.0.1, a client CA that signs the admin certificate (CN admin, O system:masters,
so RBAC lets it do anything), and a key pair that signs service-account tokens.
"""

from __future__ import annotations

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
    new_key,
    write_certificates,
    write_private_key,
)

_VALIDITY = datetime.timedelta(days=365)


@dataclass(frozen=True)
class Pki:
    """Paths of the PEM files of one instance, all under one directory."""

    directory: Path

    def path(self, name: str) -> Path:
        return self.directory / name

    @property
    def serving_ca(self) -> Path:
        return self.path("serving-ca.crt")

    @property
    def serving_cert(self) -> Path:
        return self.path("apiserver.crt")

    @property
    def serving_key(self) -> Path:
        return self.path("apiserver.key")

    @property
    def client_ca(self) -> Path:
        return self.path("client-ca.crt")

    @property
    def admin_cert(self) -> Path:
        return self.path("admin.crt")

    @property
    def admin_key(self) -> Path:
        return self.path("admin.key")

    @property
    def service_account_public_key(self) -> Path:
        return self.path("sa.pub")

    @property
    def service_account_key(self) -> Path:
        return self.path("sa.key")


def generate_pki(directory: Path) -> Pki:
    """Write a fresh set of CAs, certificates and keys into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    pki = Pki(directory)
    serving_ca = issue_ca("vmroll-devcluster-serving-ca", valid_for=_VALIDITY)
    client_ca = issue_ca("vmroll-devcluster-client-ca", valid_for=_VALIDITY)
    serving = issue_leaf(
        serving_ca,
        distinguished_name("kube-apiserver"),
        usage=ExtendedKeyUsageOID.SERVER_AUTH,
        names=[x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))],
        valid_for=_VALIDITY,
    )
    admin = issue_leaf(
        client_ca,
        distinguished_name("admin", "system:masters"),
        usage=ExtendedKeyUsageOID.CLIENT_AUTH,
        names=[],
        valid_for=_VALIDITY,
    )
    write_certificates(pki.serving_ca, serving_ca.certificate)
    write_certificates(pki.client_ca, client_ca.certificate)
    write_certificates(pki.serving_cert, serving.certificate)
    write_private_key(pki.serving_key, serving.key)
    write_certificates(pki.admin_cert, admin.certificate)
    write_private_key(pki.admin_key, admin.key)
    service_account = new_key()
    pki.service_account_public_key.write_bytes(
        service_account.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    write_private_key(pki.service_account_key, service_account)
    return pki
