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
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

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


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name: str, organization: str | None = None) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(attributes)


def _builder(
    subject: x509.Name, issuer: x509.Name, key: ec.EllipticCurvePrivateKey
) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + _VALIDITY)
    )


def _ca(common_name: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = _key()
    name = _name(common_name)
    certificate = (
        _builder(name, name, key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return certificate, key


def _leaf(
    subject: x509.Name,
    ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey],
    usage: x509.ObjectIdentifier,
    names: list[x509.GeneralName],
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = _key()
    builder = (
        _builder(subject, ca[0].subject, key)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    )
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(ca[1], hashes.SHA256()), key


def _write_pair(
    certificate_path: Path,
    key_path: Path,
    pair: tuple[x509.Certificate, ec.EllipticCurvePrivateKey],
) -> None:
    certificate_path.write_bytes(pair[0].public_bytes(serialization.Encoding.PEM))
    key_path.touch(mode=0o600)
    key_path.write_bytes(
        pair[1].private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def generate_pki(directory: Path) -> Pki:
    """Write a fresh set of CAs, certificates and keys into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    pki = Pki(directory)
    serving_ca = _ca("vmroll-devcluster-serving-ca")
    client_ca = _ca("vmroll-devcluster-client-ca")
    serving = _leaf(
        _name("kube-apiserver"),
        serving_ca,
        ExtendedKeyUsageOID.SERVER_AUTH,
        [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))],
    )
    admin = _leaf(_name("admin", "system:masters"), client_ca, ExtendedKeyUsageOID.CLIENT_AUTH, [])
    pki.serving_ca.write_bytes(serving_ca[0].public_bytes(serialization.Encoding.PEM))
    pki.client_ca.write_bytes(client_ca[0].public_bytes(serialization.Encoding.PEM))
    _write_pair(pki.serving_cert, pki.serving_key, serving)
    _write_pair(pki.admin_cert, pki.admin_key, admin)
    service_account = _key()
    pki.service_account_public_key.write_bytes(
        service_account.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    pki.service_account_key.touch(mode=0o600)
    pki.service_account_key.write_bytes(
        service_account.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return pki
