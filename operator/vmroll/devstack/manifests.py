"""The Kubernetes objects that connect the local operator to the local Azure emulator.

Pure: the emulator's `credentials.json` in, manifests out. The client secret goes into a Secret
in the operator's own namespace (`vmroll dev` starts the operator with
`--cluster-resource-namespace vmroll-system`), never into the AzureAccount itself, exactly as a
user would wire a real subscription. The emulator's endpoints and CA are custom endpoints, which
the operator uses only because `vmroll dev` also passes `--allow-custom-endpoints`.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

SYSTEM_NAMESPACE = "vmroll-system"
ACCOUNT_NAME = "emulator"
SECRET_NAME = "azure-emulator-credentials"
SECRET_KEY = "clientSecret"


def system_namespace() -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": SYSTEM_NAMESPACE}}


def credentials_secret(credentials: Mapping[str, Any]) -> dict[str, Any]:
    """The Secret holding the emulator principal's client secret."""
    secret = str(credentials["clientSecret"]).encode()
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": SECRET_NAME, "namespace": SYSTEM_NAMESPACE},
        "type": "Opaque",
        "data": {SECRET_KEY: base64.b64encode(secret).decode()},
    }


def emulator_account(credentials: Mapping[str, Any], ca_pem: str) -> dict[str, Any]:
    """An AzureAccount for the emulator's subscription, open to every namespace."""
    return {
        "apiVersion": "vmroll.io/v1alpha1",
        "kind": "AzureAccount",
        "metadata": {"name": ACCOUNT_NAME},
        "spec": {
            "subscriptionId": credentials["subscriptionId"],
            "tenantId": credentials["tenantId"],
            "auth": {
                "clientSecret": {
                    "clientId": credentials["clientId"],
                    "secretRef": {
                        "name": SECRET_NAME,
                        "namespace": SYSTEM_NAMESPACE,
                        "key": SECRET_KEY,
                    },
                }
            },
            "allowedNamespaces": {"selector": {}},
            "allowedResourceGroups": ["*"],
            "endpoints": {
                "resourceManager": credentials["resourceManagerEndpoint"],
                "authorityHost": credentials["authorityHost"],
                "caBundle": {"pem": ca_pem},
            },
        },
    }
