"""The admission webhook on the local control plane: its certificates, its registration, and an
operator that serves it.

The operator serves the webhook at `https://127.0.0.1:<port>` with a certificate from a CA of
the test's own (`vmroll.pki.webhook`); the ValidatingWebhookConfiguration carries that CA as its
bundle, so the API server verifies the webhook as it would in a cluster. A configuration is
scoped to one test namespace (its `namespaceSelector`), so that it never judges another test's
pools; it is named after the namespace and deleted when the test ends.
"""

from __future__ import annotations

import json
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from e2e_harness import Cluster, Kubectl
from pool_helpers import Operator, free_port

from vmroll.admission.registration import url_client_config, webhook_configuration
from vmroll.pki.webhook import WebhookCertificates, write_webhook_certificates


@dataclass(frozen=True)
class Webhook:
    """A registered webhook: where it listens, and the configuration naming it."""

    url: str
    port: int
    certificates: WebhookCertificates
    configuration: str

    def flags(self) -> tuple[str, ...]:
        """What `vmroll run` needs to serve it."""
        return ("--webhook", f"127.0.0.1:{self.port}",
                "--webhook-cert-dir", str(self.certificates.directory))  # fmt: skip


def register(
    kubectl: Kubectl, namespace: str, url: str, ca_bundle: str, name: str | None = None
) -> str:
    """Register (or replace) the configuration calling `url` for `namespace`'s objects."""
    name = name or f"vmroll-{namespace}"
    selector = {"matchLabels": {"kubernetes.io/metadata.name": namespace}}
    manifest = webhook_configuration(
        url_client_config(url, ca_bundle), name=name, namespace_selector=selector
    )
    kubectl("apply", "-f", "-", input=json.dumps(manifest))
    return name


@contextmanager
def registered_webhook(
    kubectl: Kubectl, namespace: str, directory: Path, port: int | None = None
) -> Iterator[Webhook]:
    """A CA and serving certificate in `directory`, registered for `namespace` at `port` (a
    free one when None), unregistered on exit."""
    certificates = write_webhook_certificates(directory)
    port = port or free_port()
    url = f"https://127.0.0.1:{port}"
    name = register(kubectl, namespace, url, certificates.ca_bundle)
    try:
        yield Webhook(url, port, certificates, name)
    finally:
        kubectl("delete", "validatingwebhookconfiguration", name, "--ignore-not-found")


def webhook_operator(cluster: Cluster, namespace: str, log: Path, webhook: Webhook) -> Operator:
    """`vmroll run` for `namespace`, serving `webhook` (started; the caller stops it)."""
    operator = Operator(cluster, namespace, log)
    operator.start(*webhook.flags())
    return operator


def serving(webhook: Webhook) -> bool | None:
    """True once the webhook completes a TLS handshake verified against its CA (for wait_for)."""
    context = ssl.create_default_context(cafile=str(webhook.certificates.directory / "ca.crt"))
    try:
        with (
            socket.create_connection(("127.0.0.1", webhook.port), timeout=2) as raw,
            context.wrap_socket(raw, server_hostname="127.0.0.1"),
        ):
            return True
    except OSError:
        return None
