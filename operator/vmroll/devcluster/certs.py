"""The certificates of a local control plane, generated fresh for each instance.

Three separate trust roots, as kube-apiserver expects them: a serving CA and a certificate for
localhost / 127.0.0.1, a client CA that signs the client certificates, and a key pair that signs
service-account tokens. The client certificates: admin (O system:masters, so RBAC lets it do
anything), and the identities Kubernetes' bootstrap RBAC and Node authorizer know for the
node's parts: the kubelet (system:node:localhost in system:nodes), the scheduler and the
controller-manager.
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

# Client certificate file stem -> (common name, organization).
CLIENT_IDENTITIES: dict[str, tuple[str, str | None]] = {
    "admin": ("admin", "system:masters"),
    "kubelet": ("system:node:localhost", "system:nodes"),
    "kube-scheduler": ("system:kube-scheduler", None),
    "kube-controller-manager": ("system:kube-controller-manager", None),
}


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
        return self.client_cert("admin")

    @property
    def admin_key(self) -> Path:
        return self.client_key("admin")

    def client_cert(self, user: str) -> Path:
        return self.path(f"{user}.crt")

    def client_key(self, user: str) -> Path:
        return self.path(f"{user}.key")

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
    write_certificates(pki.serving_ca, serving_ca.certificate)
    write_certificates(pki.client_ca, client_ca.certificate)
    write_certificates(pki.serving_cert, serving.certificate)
    write_private_key(pki.serving_key, serving.key)
    for user, (common_name, organization) in CLIENT_IDENTITIES.items():
        client = issue_leaf(
            client_ca,
            distinguished_name(common_name, organization),
            usage=ExtendedKeyUsageOID.CLIENT_AUTH,
            names=[],
            valid_for=_VALIDITY,
        )
        write_certificates(pki.client_cert(user), client.certificate)
        write_private_key(pki.client_key(user), client.key)
    service_account = new_key()
    pki.service_account_public_key.write_bytes(
        service_account.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    write_private_key(pki.service_account_key, service_account)
    return pki
