"""Certificate authorities and certificates that vmroll mints for itself.

Both the local control plane and the emulator run their own trust roots: kube-apiserver wants a
serving CA and a client CA, and the emulator serves HTTPS from a CA its clients are told to
trust. The profile is the same for both (P-256 keys, SHA-256 signatures, a CA limited to signing
leaves, leaves limited to one extended usage), and so is the rule that a private key file is
readable by its owner only; this module is that one profile.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.x509.oid import NameOID

PrivateKey = ec.EllipticCurvePrivateKey

# A certificate is valid from a little before it was made, so a peer whose clock runs slightly
# behind does not reject it as not yet valid.
_CLOCK_SKEW = datetime.timedelta(minutes=5)

_CA_KEY_USAGE = x509.KeyUsage(
    digital_signature=True,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=True,
    crl_sign=True,
    encipher_only=False,
    decipher_only=False,
)


@dataclass(frozen=True)
class Issued:
    """A certificate and the private key of its subject."""

    certificate: x509.Certificate
    key: PrivateKey


def new_key() -> PrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def distinguished_name(common_name: str, organization: str | None = None) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(attributes)


def _builder(
    subject: x509.Name, issuer: x509.Name, key: PrivateKey, valid_for: datetime.timedelta
) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _CLOCK_SKEW)
        .not_valid_after(now + valid_for)
    )


def issue_ca(
    common_name: str, *, valid_for: datetime.timedelta, key_identifiers: bool = False
) -> Issued:
    """A self-signed CA that may sign leaf certificates but no further CAs.

    `key_identifiers` adds the subject key identifier that strict verifiers (the emulator's
    clients, verifying as they would against Azure) use to find the issuer of a leaf.
    """
    key = new_key()
    name = distinguished_name(common_name)
    builder = (
        _builder(name, name, key, valid_for)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_CA_KEY_USAGE, critical=True)
    )
    if key_identifiers:
        builder = builder.add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
        )
    return Issued(builder.sign(key, hashes.SHA256()), key)


def issue_leaf(
    ca: Issued,
    subject: x509.Name,
    *,
    usage: x509.ObjectIdentifier,
    names: list[x509.GeneralName],
    valid_for: datetime.timedelta,
    key_identifiers: bool = False,
) -> Issued:
    """A certificate for `subject` with one extended key usage, signed by `ca`.

    `names` become the subject alternative names (none when empty); `key_identifiers` adds the
    authority key identifier that points back at a CA issued with them.
    """
    key = new_key()
    builder = (
        _builder(subject, ca.certificate.subject, key, valid_for)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    )
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    if key_identifiers:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
            critical=False,
        )
    return Issued(builder.sign(ca.key, hashes.SHA256()), key)


def write_certificates(path: Path, *chain: x509.Certificate) -> None:
    """Write `chain` as PEM, in order: a leaf followed by the CAs a peer needs to reach a root."""
    path.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain))


def write_private_key(path: Path, key: PrivateKeyTypes) -> None:
    """Write `key` as unencrypted PKCS#8 PEM into a file only its owner can read.

    Any type of key: the emulator's token-signing key, written here too, is RSA.
    """
    # Created with its mode before the key is written, so the key is never briefly world-readable.
    path.touch(mode=0o600)
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def load_or_create_ca(
    certificate_path: Path,
    key_path: Path,
    common_name: str,
    *,
    valid_for: datetime.timedelta,
    key_identifiers: bool = False,
) -> Issued:
    """The CA stored at these paths, or a new one written there when they do not hold one.

    Keeping the CA across restarts means a client that trusted its certificate keeps trusting
    whatever it issues later.
    """
    if key_path.exists() and certificate_path.exists():
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        if isinstance(key, PrivateKey):
            return Issued(x509.load_pem_x509_certificate(certificate_path.read_bytes()), key)
    ca = issue_ca(common_name, valid_for=valid_for, key_identifiers=key_identifiers)
    write_private_key(key_path, ca.key)
    write_certificates(certificate_path, ca.certificate)
    return ca
