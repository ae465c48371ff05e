"""Identity and access: real azure-identity credentials, 401s and ARM's 403 AuthorizationFailed."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from azure.identity.aio import ClientSecretCredential, WorkloadIdentityCredential
from azure.mgmt.compute.aio import ComputeManagementClient

from vmroll.emulator.identity import JWT_BEARER
from vmroll.emulator.server import Emulator

pytestmark = pytest.mark.integration

SCOPE = "https://management.azure.com/.default"


def _vms_path(emulator: Emulator, group: str | None = None) -> str:
    creds = emulator.credentials
    return (
        f"/subscriptions/{creds.subscription_id}/resourceGroups/{group or creds.resource_group}"
        "/providers/Microsoft.Compute/virtualMachines"
    )


async def test_client_secret_credential_gets_a_signed_token(
    emulator: Emulator, credential: ClientSecretCredential
) -> None:
    token = await credential.get_token(SCOPE)

    claims = jwt.decode(token.token, options={"verify_signature": False})
    assert claims["appid"] == emulator.credentials.client_id
    assert claims["aud"] == "https://management.azure.com"
    assert token.expires_on > time.time()


async def test_a_wrong_secret_is_refused(emulator: Emulator) -> None:
    creds = emulator.credentials
    credential = ClientSecretCredential(
        creds.tenant_id,
        creds.client_id,
        "not-the-secret",
        authority=creds.authority_host,
        disable_instance_discovery=True,
        connection_verify=creds.ca_bundle,
    )
    async with credential:
        with pytest.raises(ClientAuthenticationError, match="AADSTS7000215"):
            await credential.get_token(SCOPE)


async def test_workload_identity_federated_token_is_exchanged(
    emulator: Emulator, tmp_path: Path
) -> None:
    creds = emulator.credentials
    assertion = jwt.encode(
        {
            "sub": "system:serviceaccount:vmroll-system:vmroll-operator",
            "aud": ["api://AzureADTokenExchange"],
            "exp": int(time.time()) + 600,
        },
        "cluster-signing-key-not-checked-by-the-emulator-000",
        algorithm="HS256",
    )
    token_file = tmp_path / "azure-identity-token"
    token_file.write_text(assertion)

    credential = WorkloadIdentityCredential(
        tenant_id=creds.tenant_id,
        client_id=creds.client_id,
        token_file_path=str(token_file),
        authority=creds.authority_host,
        disable_instance_discovery=True,
        connection_verify=creds.ca_bundle,
    )
    client = ComputeManagementClient(
        credential,
        creds.subscription_id,
        base_url=creds.resource_manager_endpoint,
        credential_scopes=[SCOPE],
        connection_verify=creds.ca_bundle,
    )
    async with credential, client:
        listed = [vm async for vm in client.virtual_machines.list(creds.resource_group)]

    assert listed == []


@pytest.mark.parametrize(
    ("authorization", "code"),
    [
        (None, "AuthenticationFailed"),
        ("Basic dXNlcjpwYXNz", "AuthenticationFailed"),
        ("Bearer not-a-jwt", "InvalidAuthenticationToken"),
    ],
)
async def test_requests_without_a_valid_bearer_get_401(
    emulator: Emulator, arm: Any, authorization: str | None, code: str
) -> None:
    arm.token = None
    headers = {"Authorization": authorization} if authorization else None

    status, response_headers, body = await arm.call("GET", _vms_path(emulator), headers=headers)

    assert status == 401
    assert body["error"]["code"] == code
    assert response_headers["WWW-Authenticate"].startswith("Bearer authorization_uri=")


async def test_an_expired_token_gets_401(emulator: Emulator, arm: Any) -> None:
    arm.token = emulator.issue_token("vmroll-operator", lifetime=-60)

    status, _, body = await arm.call("GET", _vms_path(emulator))

    assert status == 401
    assert body["error"]["code"] == "ExpiredAuthenticationToken"


async def test_a_principal_without_role_gets_authorization_failed(
    emulator: Emulator, client_for: Any
) -> None:
    creds = emulator.credentials_for("vmroll-nobody")
    async with client_for("vmroll-nobody") as client:
        with pytest.raises(HttpResponseError) as raised:
            await client.virtual_machines.get(creds.resource_group, "web-0")

    assert raised.value.status_code == 403
    assert raised.value.error is not None
    assert raised.value.error.code == "AuthorizationFailed"
    assert (
        f"The client '{creds.client_id}' with object id '5f2c7f4e-0000-4000-8000-00000000b003' "
        "does not have authorization to perform action "
        "'Microsoft.Compute/virtualMachines/read' over scope "
        f"'/subscriptions/{creds.subscription_id}/resourceGroups/rg-vmroll/providers/"
        "Microsoft.Compute/virtualMachines/web-0' or the scope is invalid."
    ) in raised.value.error.message


async def test_a_reader_reads_its_group_but_cannot_write_or_read_elsewhere(
    emulator: Emulator, vm_body: Any, client_for: Any
) -> None:
    creds = emulator.credentials_for("vmroll-reader")
    async with client_for("vmroll-reader") as client:
        listed = [vm async for vm in client.virtual_machines.list(creds.resource_group)]
        with pytest.raises(HttpResponseError) as write:
            await client.virtual_machines.begin_create_or_update(
                creds.resource_group, "web-0", vm_body()
            )
        with pytest.raises(HttpResponseError) as elsewhere:
            await client.virtual_machines.get("rg-vmroll-eastus", "web-0")

    assert listed == []
    assert write.value.status_code == 403
    assert "'Microsoft.Compute/virtualMachines/write'" in str(write.value)
    assert elsewhere.value.status_code == 403


async def test_an_unknown_subscription_is_not_found(
    emulator: Emulator, credential: ClientSecretCredential
) -> None:
    creds = emulator.credentials.model_copy(
        update={"subscription_id": "11111111-1111-4111-8111-111111111111"}
    )
    client = ComputeManagementClient(
        credential,
        creds.subscription_id,
        base_url=creds.resource_manager_endpoint,
        credential_scopes=[SCOPE],
        connection_verify=creds.ca_bundle,
    )
    async with client:
        with pytest.raises(HttpResponseError) as raised:
            await client.virtual_machines.get("rg-vmroll", "web-0")

    assert raised.value.status_code == 404
    assert raised.value.error is not None
    assert raised.value.error.code == "SubscriptionNotFound"


async def test_api_version_is_required(emulator: Emulator, arm: Any) -> None:
    status, _, body = await arm.call("GET", _vms_path(emulator), api_version=None)

    assert status == 400
    assert body["error"]["code"] == "MissingApiVersionParameter"


async def test_an_unsupported_api_version_is_refused(emulator: Emulator, arm: Any) -> None:
    status, _, body = await arm.call("GET", _vms_path(emulator), api_version="2099-01-01")

    assert status == 400
    assert body["error"]["code"] == "NoRegisteredProviderFound"


async def test_an_unknown_resource_group_is_not_found(emulator: Emulator, arm: Any) -> None:
    status, _, body = await arm.call("GET", _vms_path(emulator, "rg-missing"))

    assert status == 404
    assert body["error"]["code"] == "ResourceGroupNotFound"


async def test_openid_discovery_names_the_emulators_endpoints(emulator: Emulator, arm: Any) -> None:
    tenant = emulator.credentials.tenant_id
    url = f"{emulator.base_url}/{tenant}/v2.0/.well-known/openid-configuration"
    async with arm.session.get(url) as response:
        discovery = await response.json()
    async with arm.session.get(discovery["jwks_uri"]) as response:
        keys = await response.json()

    assert discovery["token_endpoint"] == f"{emulator.base_url}/{tenant}/oauth2/v2.0/token"
    assert keys["keys"][0]["kty"] == "RSA"


@pytest.mark.parametrize(
    ("form", "error", "aadsts"),
    [
        ({"client_id": "unknown", "client_secret": "x"}, "unauthorized_client", "AADSTS700016"),
        (
            {
                "client_secret": "vmroll-emulator-secret",
                "scope": "https://vault.azure.net/.default",
            },
            "invalid_scope",
            "AADSTS500011",
        ),
        ({"grant_type": "password"}, "unsupported_grant_type", "AADSTS70003"),
        (
            {"client_assertion": "x.y.z", "client_assertion_type": JWT_BEARER},
            "invalid_client",
            "AADSTS50027",
        ),
    ],
    ids=["unknown-client", "foreign-scope", "grant-type", "malformed-assertion"],
)
async def test_the_token_endpoint_refuses_as_entra_does(
    emulator: Emulator, arm: Any, form: dict[str, str], error: str, aadsts: str
) -> None:
    creds = emulator.credentials
    data = {
        "grant_type": "client_credentials",
        "client_id": creds.client_id,
        "scope": SCOPE,
        **form,
    }
    url = f"{emulator.base_url}/{creds.tenant_id}/oauth2/v2.0/token"
    async with arm.session.post(url, data=data) as response:
        body = await response.json()

    assert response.status in (400, 401)
    assert body["error"] == error
    assert body["error_description"].startswith(aadsts)
