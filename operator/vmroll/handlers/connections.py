"""Build an `AccountConnection` from an AzureAccount and the Secrets it references.

The client secret is read from its Secret here and travels only inside the connection, whose
repr hides it; errors name the Secret and key that are missing, never a value. Connections are
cached per account and rebuilt when the account changes or after `REFRESH_SECONDS`, so that a
rotated secret is picked up without reading Secrets on every pass. The old connection's clients
are discarded unless another account uses the same connection; passes that still borrow them
finish with them before they are closed (azure/clients.py).

Before anything is read or sent, the account passes the operator's trust policy
(`plan.account_trust`): known clouds only unless custom endpoints are allowed, Secrets only from
the operator's own namespace. The workload identity token is always the operator's own
(AZURE_FEDERATED_TOKEN_FILE), never a file the account names.
"""

from __future__ import annotations

import os

from vmroll.api.account import AzureAccount, CaBundle
from vmroll.api.types import NamespacedKeyReference
from vmroll.azure import settings
from vmroll.handlers.kube import KubeApi, SecretNotText
from vmroll.handlers.state import Connection, OperatorState
from vmroll.plan.account_trust import TrustPolicy, check_trust, reference_namespace
from vmroll.plan.reasons import Reason

REFRESH_SECONDS = 300.0
FEDERATED_TOKEN_FILE = "AZURE_FEDERATED_TOKEN_FILE"


class AccountConfigError(Exception):
    """The account cannot be turned into a connection; `message` says what to fix."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


async def connection_for(state: OperatorState, account: AzureAccount) -> settings.AccountConnection:
    meta = account.metadata
    key = (meta.uid or "", str(meta.generation or 0))
    cached = state.connections.get(meta.name)
    now = state.monotonic()
    if cached is not None and cached.key == key and now - cached.built_at < REFRESH_SECONDS:
        return cached.connection
    connection = await build_connection(state.kube, account, state.trust_policy)
    state.connections[meta.name] = Connection(connection, key, now)
    old = None if cached is None else cached.connection
    unused = all(kept.connection != old for kept in state.connections.values())
    if old is not None and unused:
        await state.azure.discard(old)
    return connection


async def build_connection(
    kube: KubeApi, account: AzureAccount, policy: TrustPolicy
) -> settings.AccountConnection:
    spec = account.spec
    decision = check_trust(spec, policy)
    if not decision.allowed:
        assert decision.reason is not None  # a refusal always has one
        raise AccountConfigError(decision.reason, decision.message)
    endpoints = spec.endpoints
    endpoint = settings.AzureEndpoint()
    if endpoints is not None:
        endpoint = settings.AzureEndpoint(
            resource_manager=endpoints.resource_manager or settings.PUBLIC_RESOURCE_MANAGER,
            authority_host=endpoints.authority_host or settings.PUBLIC_AUTHORITY_HOST,
            ca_bundle=await _ca_bundle(kube, endpoints.ca_bundle, policy),
        )
    return settings.AccountConnection(
        subscription_id=spec.subscription_id,
        tenant_id=spec.tenant_id,
        auth=await _auth(kube, account, policy),
        endpoint=endpoint,
    )


async def _auth(kube: KubeApi, account: AzureAccount, policy: TrustPolicy) -> settings.Auth:
    auth = account.spec.auth
    if auth.client_secret is not None:
        ref = auth.client_secret.secret_ref
        secret = await _secret(kube, ref, policy, "spec.auth.clientSecret.secretRef")
        return settings.ServicePrincipalSecret(
            client_id=auth.client_secret.client_id, secret=secret.strip()
        )
    if auth.workload_identity is not None:
        token_file = os.environ.get(FEDERATED_TOKEN_FILE)
        if not token_file:
            raise AccountConfigError(
                Reason.CREDENTIALS_NOT_FOUND,
                f"workload identity needs {FEDERATED_TOKEN_FILE} in the operator's environment: "
                "label the operator's pod azure.workload.identity/use=true and annotate its "
                "ServiceAccount with the client ID",
            )
        return settings.WorkloadIdentityToken(auth.workload_identity.client_id, token_file)
    return settings.DefaultCredentialChain()


async def _secret(
    kube: KubeApi, ref: NamespacedKeyReference, policy: TrustPolicy, field: str
) -> str:
    namespace = reference_namespace(ref, policy)
    try:
        value = await kube.secret_value(namespace, ref.name, ref.key)
    except SecretNotText as error:
        raise AccountConfigError(
            Reason.INVALID_SECRET,
            f"{error} ({field}); store the text in it or fix the reference",
        ) from None
    if value is None:
        raise AccountConfigError(
            Reason.CREDENTIALS_NOT_FOUND,
            f"Secret {namespace}/{ref.name} has no key {ref.key} ({field}); create it or "
            "fix the reference",
        )
    return value


async def _ca_bundle(
    kube: KubeApi, bundle: CaBundle | None, policy: TrustPolicy
) -> settings.CaBundle | None:
    if bundle is None:
        return None
    if bundle.pem is not None:
        return settings.CaBundlePem(bundle.pem)
    if bundle.secret_ref is not None:
        return settings.CaBundlePem(
            await _secret(kube, bundle.secret_ref, policy, "spec.endpoints.caBundle.secretRef")
        )
    ref = bundle.config_map_ref
    assert ref is not None  # the model guarantees exactly one source
    namespace = reference_namespace(ref, policy)
    pem = await kube.config_map_value(namespace, ref.name, ref.key)
    if pem is None:
        raise AccountConfigError(
            Reason.CREDENTIALS_NOT_FOUND,
            f"ConfigMap {namespace}/{ref.name} has no key {ref.key} "
            "(spec.endpoints.caBundle.configMapRef); create it or fix the reference",
        )
    return settings.CaBundlePem(pem)
