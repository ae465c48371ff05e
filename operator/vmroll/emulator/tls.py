"""The emulator's own certificate authority, so clients verify HTTPS exactly as they do with Azure.

The CA key stays in the data directory and is reused on restart: a client that trusted `ca.crt`
keeps trusting a restarted emulator. The server certificate is issued fresh on each start for the
host names and addresses the emulator listens on.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from vmroll.pki import (
    distinguished_name,
    issue_leaf,
    load_or_create_ca,
    write_certificates,
    write_private_key,
)

_CA_VALIDITY = datetime.timedelta(days=3650)
_SERVER_VALIDITY = datetime.timedelta(days=30)


@dataclass(frozen=True)
class ServerTls:
    ca_path: Path
    context: ssl.SSLContext


def _subject_alt_names(host: str) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
    ]
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        names.append(x509.DNSName(host))
    else:
        if not address.is_loopback and not address.is_unspecified:
            names.append(x509.IPAddress(address))
    return names


def server_tls(data_dir: Path, host: str) -> ServerTls:
    """Issue a server certificate from the data directory's CA and build the SSL context."""
    data_dir.mkdir(parents=True, exist_ok=True)
    ca = load_or_create_ca(
        data_dir / "ca.crt",
        data_dir / "ca.key",
        "vmroll emulator CA",
        valid_for=_CA_VALIDITY,
        key_identifiers=True,
    )
    server = issue_leaf(
        ca,
        distinguished_name("vmroll emulator"),
        usage=ExtendedKeyUsageOID.SERVER_AUTH,
        names=_subject_alt_names(host),
        valid_for=_SERVER_VALIDITY,
        key_identifiers=True,
    )
    cert_path, key_path = data_dir / "server.crt", data_dir / "server.key"
    write_certificates(cert_path, server.certificate, ca.certificate)
    write_private_key(key_path, server.key)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    return ServerTls(ca_path=data_dir / "ca.crt", context=context)
