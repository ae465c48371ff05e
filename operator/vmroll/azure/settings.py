"""How vmroll reaches one Azure subscription: which cloud, which identity, which CA to trust.

An `AccountConnection` is the boundary's whole view of an `AzureAccount`: the handlers build one
from the custom resource and its Secret, and everything below (credential, SDK clients, caches)
is keyed by it. It is frozen and hashable so that it can key those caches, and its `repr` hides
the client secret so that logging a connection can never leak it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PUBLIC_RESOURCE_MANAGER = "https://management.azure.com"
PUBLIC_AUTHORITY_HOST = "https://login.microsoftonline.com"


@dataclass(frozen=True)
class ServicePrincipalSecret:
    """A service principal with its client secret, read from the Secret that the API's
    `vmroll.api.account.ClientSecretAuth` references (handlers/connections.py reads it)."""

    client_id: str
    secret: str = field(repr=False)

    def __repr__(self) -> str:
        return f"ServicePrincipalSecret(client_id={self.client_id!r}, secret=<hidden>)"


@dataclass(frozen=True)
class WorkloadIdentityToken:
    """Kubernetes workload identity: a federated service-account token read from a file (the
    operator's own, for the API's `vmroll.api.account.WorkloadIdentityAuth`)."""

    client_id: str
    token_file: str


@dataclass(frozen=True)
class DefaultCredentialChain:
    """azure-identity's default chain (environment, workload identity, managed identity, CLI),
    for the API's `vmroll.api.account.DefaultChainAuth`."""


Auth = ServicePrincipalSecret | WorkloadIdentityToken | DefaultCredentialChain


@dataclass(frozen=True)
class CaBundleFile:
    """Trust the CA certificates in this PEM file (in addition to none of the system ones)."""

    path: str


@dataclass(frozen=True)
class CaBundlePem:
    """Trust these PEM-encoded CA certificates, given inline (from a Secret or ConfigMap)."""

    pem: str = field(repr=False)

    def __repr__(self) -> str:
        return f"CaBundlePem(<{len(self.pem)} characters>)"


CaBundle = CaBundleFile | CaBundlePem


@dataclass(frozen=True)
class AzureEndpoint:
    """Where ARM and Entra ID live: public Azure by default, a sovereign cloud, or the emulator."""

    resource_manager: str = PUBLIC_RESOURCE_MANAGER
    authority_host: str = PUBLIC_AUTHORITY_HOST
    ca_bundle: CaBundle | None = None

    @property
    def base_url(self) -> str:
        return self.resource_manager.rstrip("/")

    @property
    def arm_scope(self) -> str:
        """The token scope for ARM, derived from the endpoint as the SDK's cloud settings do."""
        return f"{self.base_url}/.default"

    @property
    def custom_authority(self) -> bool:
        """True for an authority that Entra ID's instance discovery does not know."""
        return self.authority_host.rstrip("/") != PUBLIC_AUTHORITY_HOST


@dataclass(frozen=True)
class AccountConnection:
    """One subscription reached with one identity through one endpoint."""

    subscription_id: str
    tenant_id: str
    auth: Auth
    endpoint: AzureEndpoint = field(default_factory=AzureEndpoint)
