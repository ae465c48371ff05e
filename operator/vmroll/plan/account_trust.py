"""What an AzureAccount may make the operator do with its own privileges, and what it may not.

AzureAccount is cluster-scoped and written by whoever the cluster lets write it, not only by
whoever runs the operator. Without limits, an account could name any host as its Entra authority
(the operator then posts its credential there: a client secret, or the federated token it holds)
and any Secret in any namespace. So, as cert-manager does for ClusterIssuers:

- endpoints are those of a known Azure cloud (public, China, US Government) unless the operator
  was started with `--allow-custom-endpoints`; a CA bundle is always custom, since with it any
  host can pass for a known one;
- Secrets and ConfigMaps are read only from the operator's own namespace
  (`--cluster-resource-namespace`).

Pure: the account's spec and the operator's policy in, a decision out. Checked before any
Secret is read or any request sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

from vmroll.api.account import AzureAccountSpec, Endpoints
from vmroll.api.types import NamespacedKeyReference
from vmroll.plan.access import ALLOWED, AccessDecision
from vmroll.plan.reasons import Reason

ALLOW_CUSTOM_ENDPOINTS_FLAG = "--allow-custom-endpoints"
CLUSTER_RESOURCE_NAMESPACE_FLAG = "--cluster-resource-namespace"


class EndpointKind(StrEnum):
    """The two endpoints an account may set, by their field name."""

    RESOURCE_MANAGER = "resourceManager"
    AUTHORITY_HOST = "authorityHost"


@dataclass(frozen=True)
class AzureCloud:
    """One Azure cloud's ARM and Entra ID hosts, as azure-identity's `AzureAuthorityHosts`
    and the SDKs' cloud settings name them."""

    name: str
    resource_manager: str
    authority_host: str

    def host(self, kind: EndpointKind) -> str:
        if kind is EndpointKind.RESOURCE_MANAGER:
            return self.resource_manager
        return self.authority_host


KNOWN_CLOUDS = (
    AzureCloud("public", "management.azure.com", "login.microsoftonline.com"),
    AzureCloud("China", "management.chinacloudapi.cn", "login.chinacloudapi.cn"),
    AzureCloud("US Government", "management.usgovcloudapi.net", "login.microsoftonline.us"),
)


@dataclass(frozen=True)
class TrustPolicy:
    """What the operator was told to trust at start (`vmroll run` flags)."""

    allow_custom_endpoints: bool
    cluster_resource_namespace: str


def is_known_cloud_endpoint(url: str, kind: EndpointKind) -> bool:
    """`https://<a known cloud's host>` with nothing else: no user, port, path or query.

    Anything more is refused rather than interpreted, so that a look-alike such as
    `https://login.microsoftonline.com@evil.example` or `https://login.microsoftonline.com.evil`
    never counts as known.
    """
    parts = urlsplit(url)
    if parts.scheme != "https" or "@" in parts.netloc or parts.query or parts.fragment:
        return False
    if parts.path not in ("", "/"):
        return False
    try:
        port = parts.port
    except ValueError:
        return False
    if port not in (None, 443):
        return False
    host = parts.hostname or ""
    return any(host == cloud.host(kind) for cloud in KNOWN_CLOUDS)


def custom_endpoint_fields(endpoints: Endpoints | None) -> tuple[str, ...]:
    """The fields of `spec.endpoints` that go beyond a known Azure cloud, in spec order."""
    if endpoints is None:
        return ()
    fields: list[str] = []
    for kind, url in (
        (EndpointKind.RESOURCE_MANAGER, endpoints.resource_manager),
        (EndpointKind.AUTHORITY_HOST, endpoints.authority_host),
    ):
        if url is not None and not is_known_cloud_endpoint(url, kind):
            fields.append(f"spec.endpoints.{kind.value}")
    if endpoints.ca_bundle is not None:
        fields.append("spec.endpoints.caBundle")
    return tuple(fields)


def reference_namespace(ref: NamespacedKeyReference, policy: TrustPolicy) -> str:
    """Where the referenced object is read from: the operator's namespace when omitted."""
    return ref.namespace or policy.cluster_resource_namespace


def reference_allowed(ref: NamespacedKeyReference, policy: TrustPolicy) -> bool:
    """Only objects in the operator's own namespace may be read for an account."""
    return reference_namespace(ref, policy) == policy.cluster_resource_namespace


def account_references(spec: AzureAccountSpec) -> tuple[tuple[str, NamespacedKeyReference], ...]:
    """Every Secret and ConfigMap the account names, with the field that names it."""
    found: list[tuple[str, NamespacedKeyReference]] = []
    if spec.auth.client_secret is not None:
        found.append(("spec.auth.clientSecret.secretRef", spec.auth.client_secret.secret_ref))
    bundle = spec.endpoints.ca_bundle if spec.endpoints is not None else None
    if bundle is not None and bundle.secret_ref is not None:
        found.append(("spec.endpoints.caBundle.secretRef", bundle.secret_ref))
    if bundle is not None and bundle.config_map_ref is not None:
        found.append(("spec.endpoints.caBundle.configMapRef", bundle.config_map_ref))
    return tuple(found)


def check_trust(spec: AzureAccountSpec, policy: TrustPolicy) -> AccessDecision:
    """Whether the operator may use `spec` at all; the refusal says what to change."""
    custom = custom_endpoint_fields(spec.endpoints)
    if custom and not policy.allow_custom_endpoints:
        names = " and ".join(custom)
        return AccessDecision(
            allowed=False,
            reason=Reason.CUSTOM_ENDPOINTS_NOT_ALLOWED,
            message=(
                f"{names} {'go' if len(custom) > 1 else 'goes'} beyond what the operator "
                "trusts by default (the public, China and US Government clouds' endpoints with "
                "the system's CAs), and it sends no request there unless started with "
                f"{ALLOW_CUSTOM_ENDPOINTS_FLAG}: remove {'them' if len(custom) > 1 else 'it'}, "
                "or start the operator with that flag (Helm value azure.allowCustomEndpoints)"
            ),
        )
    for field, ref in account_references(spec):
        if reference_allowed(ref, policy):
            continue
        own = policy.cluster_resource_namespace
        return AccessDecision(
            allowed=False,
            reason=Reason.REFERENCE_NAMESPACE_NOT_ALLOWED,
            message=(
                f"{field} names namespace "
                f"{reference_namespace(ref, policy)}, but the operator reads Secrets and "
                f"ConfigMaps for accounts only from its own namespace {own}: move {ref.name} "
                f"to {own} and set {field}.namespace to {own} (or omit it), or start the "
                f"operator with {CLUSTER_RESOURCE_NAMESPACE_FLAG} "
                f"{reference_namespace(ref, policy)}"
            ),
        )
    return ALLOWED
