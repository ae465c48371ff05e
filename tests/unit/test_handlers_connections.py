"""An AzureAccount and its Secret become a connection; what is missing is named, never a value."""

from __future__ import annotations

from typing import Any

import pytest

from vmroll.api.account import AzureAccount
from vmroll.azure.settings import CaBundlePem, ClientSecretAuth
from vmroll.handlers.connections import AccountConfigError, build_connection
from vmroll.plan.reasons import Reason

SECRET = "s3cr3t-value"
PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


class FakeKube:
    def __init__(self, secrets: dict[tuple[str, str, str], str]) -> None:
        self.secrets = secrets

    async def secret_value(self, namespace: str, name: str, key: str) -> str | None:
        return self.secrets.get((namespace, name, key))

    async def config_map_value(self, namespace: str, name: str, key: str) -> str | None:
        return None


def account(**endpoints: Any) -> AzureAccount:
    return AzureAccount.model_validate({
        "metadata": {"name": "prod", "uid": "u", "generation": 1},
        "spec": {
            "subscriptionId": "00000000-0000-4000-8000-00000000a001",
            "tenantId": "11111111-1111-1111-1111-111111111111",
            "auth": {"clientSecret": {
                "clientId": "22222222-2222-2222-2222-222222222222",
                "secretRef": {"name": "azure", "namespace": "ops", "key": "secret"},
            }},
            "allowedResourceGroups": ["*"],
            **({"endpoints": endpoints} if endpoints else {}),
        },
    })  # fmt: skip


async def test_the_client_secret_comes_from_its_secret_and_stays_out_of_reprs() -> None:
    kube = FakeKube({("ops", "azure", "secret"): SECRET + "\n"})
    endpoints = {"resourceManager": "https://arm.local", "authorityHost": "https://login.local",
                 "caBundle": {"pem": PEM}}  # fmt: skip

    connection = await build_connection(kube, account(**endpoints))

    assert isinstance(connection.auth, ClientSecretAuth)
    assert connection.auth.secret == SECRET
    assert SECRET not in repr(connection)
    assert connection.endpoint.resource_manager == "https://arm.local"
    assert connection.endpoint.ca_bundle == CaBundlePem(PEM)


async def test_a_missing_secret_names_the_secret_and_the_field() -> None:
    with pytest.raises(AccountConfigError) as raised:
        await build_connection(FakeKube({}), account())

    assert raised.value.reason == Reason.CREDENTIALS_NOT_FOUND
    assert "ops/azure" in raised.value.message
    assert "spec.auth.clientSecret.secretRef" in raised.value.message
