"""Turn an `AccountConnection` into an azure-identity async credential.

Sovereign clouds and the local emulator use an authority that Entra ID's instance discovery
does not know, so discovery is disabled for them, and their token endpoint is trusted through
the connection's CA bundle like ARM itself. Nothing here ever formats the secret into a message.
"""

from __future__ import annotations

from typing import Any

from azure.core.credentials_async import AsyncTokenCredential
from azure.identity.aio import (
    ClientSecretCredential,
    DefaultAzureCredential,
    WorkloadIdentityCredential,
)

from vmroll.azure.settings import (
    AccountConnection,
    CaBundleFile,
    DefaultCredentialChain,
    ServicePrincipalSecret,
    WorkloadIdentityToken,
)
from vmroll.azure.transport import build_ssl_context, new_transport


def build_credential(connection: AccountConnection) -> AsyncTokenCredential:
    """A credential for the connection; the caller owns it and must `close()` it."""
    endpoint = connection.endpoint
    options: dict[str, Any] = {"authority": endpoint.authority_host}
    if endpoint.custom_authority:
        options["disable_instance_discovery"] = True
    auth = connection.auth
    if isinstance(auth, DefaultCredentialChain):
        return DefaultAzureCredential(**options, **_default_chain_tls(connection))
    options["transport"] = new_transport(build_ssl_context(endpoint.ca_bundle))
    if isinstance(auth, ServicePrincipalSecret):
        return ClientSecretCredential(connection.tenant_id, auth.client_id, auth.secret, **options)
    if isinstance(auth, WorkloadIdentityToken):
        return WorkloadIdentityCredential(
            tenant_id=connection.tenant_id,
            client_id=auth.client_id,
            token_file_path=auth.token_file,
            **options,
        )
    raise TypeError(f"unknown auth mode {type(auth).__name__}")


def _default_chain_tls(connection: AccountConnection) -> dict[str, Any]:
    """The default chain builds several pipelines, so it cannot take one transport.

    It takes `connection_verify`, which accepts a CA file path but not PEM text.
    """
    ca_bundle = connection.endpoint.ca_bundle
    if ca_bundle is None:
        return {}
    if isinstance(ca_bundle, CaBundleFile):
        return {"connection_verify": ca_bundle.path}
    raise ValueError(
        "the default credential chain takes a CA bundle as a file path, not inline PEM"
    )
