"""An AzureAccount and its Secret become a connection; what is missing is named, never a value,
and what the operator's trust policy refuses is refused before anything is read."""

from __future__ import annotations

from typing import Any

import pytest

from vmroll.api.account import AzureAccount
from vmroll.azure.settings import CaBundlePem, ServicePrincipalSecret, WorkloadIdentityToken
from vmroll.handlers.connections import (
    FEDERATED_TOKEN_FILE,
    AccountConfigError,
    build_connection,
)
from vmroll.plan.account_trust import TrustPolicy
from vmroll.plan.reasons import Reason

SECRET = "s3cr3t-value"
PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
TRUSTING = TrustPolicy(allow_custom_endpoints=True, cluster_resource_namespace="ops")
STRICT = TrustPolicy(allow_custom_endpoints=False, cluster_resource_namespace="ops")


class FakeKube:
    def __init__(self, secrets: dict[tuple[str, str, str], str]) -> None:
        self.secrets = secrets
        self.reads: list[tuple[str, str, str]] = []

    async def secret_value(self, namespace: str, name: str, key: str) -> str | None:
        self.reads.append((namespace, name, key))
        return self.secrets.get((namespace, name, key))

    async def config_map_value(self, namespace: str, name: str, key: str) -> str | None:
        return None


CLIENT_SECRET = {"clientSecret": {
    "clientId": "22222222-2222-2222-2222-222222222222",
    "secretRef": {"name": "azure", "namespace": "ops", "key": "secret"},
}}  # fmt: skip


def account(auth: dict[str, Any] | None = None, **endpoints: Any) -> AzureAccount:
    return AzureAccount.model_validate({
        "metadata": {"name": "prod", "uid": "u", "generation": 1},
        "spec": {
            "subscriptionId": "00000000-0000-4000-8000-00000000a001",
            "tenantId": "11111111-1111-1111-1111-111111111111",
            "auth": auth or CLIENT_SECRET,
            "allowedResourceGroups": ["*"],
            **({"endpoints": endpoints} if endpoints else {}),
        },
    })  # fmt: skip


async def test_the_client_secret_comes_from_its_secret_and_stays_out_of_reprs() -> None:
    kube = FakeKube({("ops", "azure", "secret"): SECRET + "\n"})
    endpoints = {"resourceManager": "https://arm.local", "authorityHost": "https://login.local",
                 "caBundle": {"pem": PEM}}  # fmt: skip

    connection = await build_connection(kube, account(**endpoints), TRUSTING)

    assert isinstance(connection.auth, ServicePrincipalSecret)
    assert connection.auth.secret == SECRET
    assert SECRET not in repr(connection)
    assert connection.endpoint.resource_manager == "https://arm.local"
    assert connection.endpoint.ca_bundle == CaBundlePem(PEM)


async def test_a_missing_secret_names_the_secret_and_the_field() -> None:
    with pytest.raises(AccountConfigError) as raised:
        await build_connection(FakeKube({}), account(), STRICT)

    assert raised.value.reason == Reason.CREDENTIALS_NOT_FOUND
    assert "ops/azure" in raised.value.message
    assert "spec.auth.clientSecret.secretRef" in raised.value.message


async def test_custom_endpoints_are_refused_before_any_secret_is_read() -> None:
    kube = FakeKube({("ops", "azure", "secret"): SECRET})

    with pytest.raises(AccountConfigError) as raised:
        await build_connection(kube, account(authorityHost="https://login.local"), STRICT)

    assert raised.value.reason == Reason.CUSTOM_ENDPOINTS_NOT_ALLOWED
    assert "spec.endpoints.authorityHost" in raised.value.message
    assert kube.reads == []


async def test_a_secret_in_another_namespace_is_refused_unread() -> None:
    kube = FakeKube({("ops", "azure", "secret"): SECRET})
    elsewhere = TrustPolicy(allow_custom_endpoints=False, cluster_resource_namespace="vmroll")

    with pytest.raises(AccountConfigError) as raised:
        await build_connection(kube, account(), elsewhere)

    assert raised.value.reason == Reason.REFERENCE_NAMESPACE_NOT_ALLOWED
    assert kube.reads == []


async def test_an_omitted_namespace_reads_the_operators_own() -> None:
    auth = {"clientSecret": {"clientId": "22222222-2222-2222-2222-222222222222",
                             "secretRef": {"name": "azure", "key": "secret"}}}  # fmt: skip
    kube = FakeKube({("ops", "azure", "secret"): SECRET})

    connection = await build_connection(kube, account(auth), STRICT)

    assert kube.reads == [("ops", "azure", "secret")]
    assert isinstance(connection.auth, ServicePrincipalSecret)


async def test_workload_identity_uses_only_the_operators_token_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    auth = {"workloadIdentity": {"clientId": "22222222-2222-2222-2222-222222222222"}}
    monkeypatch.setenv(FEDERATED_TOKEN_FILE, "/var/run/secrets/azure/tokens/azure-identity-token")

    connection = await build_connection(FakeKube({}), account(auth), STRICT)

    assert connection.auth == WorkloadIdentityToken(
        "22222222-2222-2222-2222-222222222222", "/var/run/secrets/azure/tokens/azure-identity-token"
    )


async def test_workload_identity_without_the_operators_token_file_says_how_to_get_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    auth = {"workloadIdentity": {"clientId": "22222222-2222-2222-2222-222222222222"}}
    monkeypatch.delenv(FEDERATED_TOKEN_FILE, raising=False)

    with pytest.raises(AccountConfigError) as raised:
        await build_connection(FakeKube({}), account(auth), STRICT)

    assert raised.value.reason == Reason.CREDENTIALS_NOT_FOUND
    assert FEDERATED_TOKEN_FILE in raised.value.message


def test_the_account_api_has_no_token_file() -> None:
    with pytest.raises(ValueError, match="tokenFile"):
        account({"workloadIdentity": {"clientId": "22222222-2222-2222-2222-222222222222",
                                      "tokenFile": "/etc/shadow"}})  # fmt: skip
