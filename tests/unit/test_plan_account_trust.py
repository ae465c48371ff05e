"""An AzureAccount reaches only known clouds and its operator's own namespace, unless allowed."""

from __future__ import annotations

from typing import Any

import pytest

from vmroll.api.account import AzureAccountSpec
from vmroll.api.types import NamespacedKeyReference
from vmroll.plan.account_trust import (
    EndpointKind,
    TrustPolicy,
    check_trust,
    custom_endpoint_fields,
    is_known_cloud_endpoint,
    reference_allowed,
)
from vmroll.plan.reasons import Reason

ARM = EndpointKind.RESOURCE_MANAGER
LOGIN = EndpointKind.AUTHORITY_HOST
PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
STRICT = TrustPolicy(allow_custom_endpoints=False, cluster_resource_namespace="vmroll-system")
TRUSTING = TrustPolicy(allow_custom_endpoints=True, cluster_resource_namespace="vmroll-system")


@pytest.mark.parametrize(
    ("url", "kind", "known"),
    [
        pytest.param("https://management.azure.com", ARM, True, id="public-arm"),
        pytest.param("https://management.azure.com/", ARM, True, id="trailing-slash"),
        pytest.param("https://MANAGEMENT.azure.com", ARM, True, id="host-case"),
        pytest.param("https://management.azure.com:443", ARM, True, id="default-port"),
        pytest.param("https://login.microsoftonline.com", LOGIN, True, id="public-login"),
        pytest.param("https://management.chinacloudapi.cn", ARM, True, id="china-arm"),
        pytest.param("https://login.chinacloudapi.cn", LOGIN, True, id="china-login"),
        pytest.param("https://management.usgovcloudapi.net", ARM, True, id="usgov-arm"),
        pytest.param("https://login.microsoftonline.us", LOGIN, True, id="usgov-login"),
        pytest.param("https://login.microsoftonline.com", ARM, False, id="login-as-arm"),
        pytest.param("https://management.azure.com", LOGIN, False, id="arm-as-login"),
        pytest.param("http://login.microsoftonline.com", LOGIN, False, id="plain-http"),
        pytest.param("https://login.microsoftonline.com:8443", LOGIN, False, id="other-port"),
        pytest.param("https://login.microsoftonline.com.evil.example", LOGIN, False, id="suffix"),
        pytest.param("https://evil.login.microsoftonline.com", LOGIN, False, id="subdomain"),
        pytest.param("https://login.microsoftonline.com@evil.example", LOGIN, False, id="userinfo"),
        pytest.param("https://x@login.microsoftonline.com", LOGIN, False, id="user-before-host"),
        pytest.param("https://login.microsoftonline.com/tenant", LOGIN, False, id="path"),
        pytest.param("https://login.microsoftonline.com/?x=1", LOGIN, False, id="query"),
        pytest.param("https://login.microsoftonline.com:x", LOGIN, False, id="bad-port"),
        pytest.param("https://127.0.0.1:8443", LOGIN, False, id="emulator"),
    ],
)
def test_is_known_cloud_endpoint(url: str, kind: EndpointKind, known: bool) -> None:
    assert is_known_cloud_endpoint(url, kind) is known


def spec(endpoints: dict[str, Any] | None = None, **auth_refs: Any) -> AzureAccountSpec:
    secret_ref = auth_refs.get("secret_ref", {"name": "azure", "key": "secret"})
    return AzureAccountSpec.model_validate({
        "subscriptionId": "00000000-0000-0000-0000-000000000000",
        "tenantId": "11111111-1111-1111-1111-111111111111",
        "auth": {"clientSecret": {"clientId": "22222222-2222-2222-2222-222222222222",
                                  "secretRef": secret_ref}},
        "allowedResourceGroups": ["*"],
        **({"endpoints": endpoints} if endpoints is not None else {}),
    })  # fmt: skip


EMULATOR = "https://127.0.0.1:8443"
CHINA = {"resourceManager": "https://management.chinacloudapi.cn",
         "authorityHost": "https://login.chinacloudapi.cn"}  # fmt: skip


@pytest.mark.parametrize(
    ("endpoints", "fields"),
    [
        pytest.param(None, (), id="none"),
        pytest.param({}, (), id="empty"),
        pytest.param(CHINA, (), id="china"),
        pytest.param({"authorityHost": EMULATOR}, ("spec.endpoints.authorityHost",), id="login"),
        pytest.param({"resourceManager": EMULATOR}, ("spec.endpoints.resourceManager",), id="arm"),
        pytest.param({**CHINA, "caBundle": {"pem": PEM}}, ("spec.endpoints.caBundle",), id="ca"),
        pytest.param(
            {"resourceManager": EMULATOR, "authorityHost": EMULATOR, "caBundle": {"pem": PEM}},
            (
                "spec.endpoints.resourceManager",
                "spec.endpoints.authorityHost",
                "spec.endpoints.caBundle",
            ),
            id="emulator",
        ),
    ],
)
def test_custom_endpoint_fields(endpoints: dict[str, Any] | None, fields: tuple[str, ...]) -> None:
    assert custom_endpoint_fields(spec(endpoints).endpoints) == fields


@pytest.mark.parametrize(
    ("namespace", "allowed"),
    [
        pytest.param(None, True, id="omitted-means-own"),
        pytest.param("vmroll-system", True, id="own"),
        pytest.param("team-a", False, id="other"),
        pytest.param("kube-system", False, id="kube-system"),
    ],
)
def test_reference_allowed(namespace: str | None, allowed: bool) -> None:
    ref = NamespacedKeyReference(name="azure", key="secret", namespace=namespace)
    assert reference_allowed(ref, STRICT) is allowed


@pytest.mark.parametrize(
    ("account", "policy", "reason", "named"),
    [
        pytest.param(spec(), STRICT, None, (), id="public-own-namespace"),
        pytest.param(spec(CHINA), STRICT, None, (), id="sovereign"),
        pytest.param(
            spec({"authorityHost": EMULATOR, "caBundle": {"pem": PEM}}),
            STRICT,
            Reason.CUSTOM_ENDPOINTS_NOT_ALLOWED,
            (
                "spec.endpoints.authorityHost and spec.endpoints.caBundle",
                "--allow-custom-endpoints",
                "azure.allowCustomEndpoints",
            ),
            id="custom-refused",
        ),
        pytest.param(
            spec({"authorityHost": EMULATOR, "caBundle": {"pem": PEM}}),
            TRUSTING,
            None,
            (),
            id="custom-allowed",
        ),
        pytest.param(
            spec(secret_ref={"name": "azure", "namespace": "team-a", "key": "secret"}),
            TRUSTING,
            Reason.REFERENCE_NAMESPACE_NOT_ALLOWED,
            (
                "spec.auth.clientSecret.secretRef names namespace team-a",
                "move azure to vmroll-system",
                "--cluster-resource-namespace team-a",
            ),
            id="client-secret-elsewhere",
        ),
        pytest.param(
            spec({"caBundle": {"configMapRef": {"name": "ca", "namespace": "x", "key": "pem"}}}),
            TRUSTING,
            Reason.REFERENCE_NAMESPACE_NOT_ALLOWED,
            ("spec.endpoints.caBundle.configMapRef names namespace x",),
            id="ca-config-map-elsewhere",
        ),
        pytest.param(
            spec({"caBundle": {"secretRef": {"name": "ca", "namespace": "x", "key": "pem"}}}),
            TRUSTING,
            Reason.REFERENCE_NAMESPACE_NOT_ALLOWED,
            ("spec.endpoints.caBundle.secretRef names namespace x",),
            id="ca-secret-elsewhere",
        ),
        pytest.param(
            spec(
                {"authorityHost": EMULATOR},
                secret_ref={"name": "azure", "namespace": "team-a", "key": "secret"},
            ),
            STRICT,
            Reason.CUSTOM_ENDPOINTS_NOT_ALLOWED,
            ("spec.endpoints.authorityHost goes beyond",),
            id="endpoints-checked-first",
        ),
    ],
)
def test_check_trust(
    account: AzureAccountSpec, policy: TrustPolicy, reason: Reason | None, named: tuple[str, ...]
) -> None:
    decision = check_trust(account, policy)

    assert decision.allowed is (reason is None)
    assert decision.reason is reason
    for text in named:
        assert text in decision.message
