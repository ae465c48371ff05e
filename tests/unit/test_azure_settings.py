"""Connection settings: the ARM scope, custom authorities, and secrets kept out of reprs."""

from __future__ import annotations

import pytest

from vmroll.azure.credentials import build_credential
from vmroll.azure.settings import (
    AccountConnection,
    AzureEndpoint,
    CaBundlePem,
    DefaultCredentialChain,
    ServicePrincipalSecret,
)

SECRET = "s3cr3t-value-never-shown"


@pytest.mark.parametrize(
    ("resource_manager", "scope"),
    [
        ("https://management.azure.com", "https://management.azure.com/.default"),
        ("https://management.azure.com/", "https://management.azure.com/.default"),
        ("https://management.usgovcloudapi.net/", "https://management.usgovcloudapi.net/.default"),
        ("https://127.0.0.1:8443", "https://127.0.0.1:8443/.default"),
    ],
)
def test_arm_scope_derives_from_the_endpoint(resource_manager: str, scope: str) -> None:
    assert AzureEndpoint(resource_manager=resource_manager).arm_scope == scope


@pytest.mark.parametrize(
    ("authority", "custom"),
    [
        ("https://login.microsoftonline.com", False),
        ("https://login.microsoftonline.com/", False),
        ("https://login.microsoftonline.us", True),
        ("https://127.0.0.1:8443", True),
    ],
)
def test_custom_authority(authority: str, custom: bool) -> None:
    assert AzureEndpoint(authority_host=authority).custom_authority is custom


def test_reprs_hide_the_secret_and_the_pem() -> None:
    connection = AccountConnection(
        subscription_id="sub",
        tenant_id="tenant",
        auth=ServicePrincipalSecret(client_id="app", secret=SECRET),
        endpoint=AzureEndpoint(ca_bundle=CaBundlePem("-----BEGIN CERTIFICATE-----\nMIIB")),
    )
    text = repr(connection) + str(connection)
    assert SECRET not in text
    assert "MIIB" not in text
    assert "app" in text


def test_connections_key_caches() -> None:
    first = AccountConnection("sub", "t", ServicePrincipalSecret("app", SECRET))
    assert {first: 1}[AccountConnection("sub", "t", ServicePrincipalSecret("app", SECRET))] == 1
    assert first != AccountConnection("sub", "t", ServicePrincipalSecret("app", "rotated"))


async def test_default_chain_refuses_inline_pem() -> None:
    connection = AccountConnection(
        "sub", "t", DefaultCredentialChain(), AzureEndpoint(ca_bundle=CaBundlePem("pem"))
    )
    with pytest.raises(ValueError, match="file path"):
        build_credential(connection)
