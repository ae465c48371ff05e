"""The plugin's way to Azure: through an AzureAccount, as the operator goes, with the user's RBAC.

The account and its Secrets are read with the user's own kubeconfig, so the plugin can do no
more than its user may. The connection is built by the operator's own code
(`handlers.connections.build_connection`) under the same trust policy: endpoints beyond the
known Azure clouds, and any CA bundle, only with `--allow-custom-endpoints`; Secrets only from
the operator's namespace (`--cluster-resource-namespace`). SDK clients come from the operator's
`azure.clients.build_clients`. No value read from a Secret ever reaches a message.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import pydantic
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from vmroll.api.account import PLURAL as ACCOUNT_PLURAL
from vmroll.api.account import AzureAccount
from vmroll.api.base import GROUP, VERSION
from vmroll.azure.clients import AzureClients, ClientOptions, build_clients
from vmroll.handlers.connections import AccountConfigError, build_connection
from vmroll.handlers.kube import KubeApi
from vmroll.kubectl.cluster import PluginError
from vmroll.plan.account_trust import ALLOW_CUSTOM_ENDPOINTS_FLAG, TrustPolicy
from vmroll.plan.reasons import Reason

ACCOUNT_RESOURCE = f"{ACCOUNT_PLURAL}.{GROUP}"


@dataclass(frozen=True)
class AccountTarget:
    """Which account, and what the user trusts as the operator was told to."""

    name: str
    trust: TrustPolicy


class UserKubeApi(KubeApi):
    """The operator's reads of Secrets and ConfigMaps, refused ones explained to the user."""

    async def secret_bytes(self, namespace: str, name: str, key: str) -> bytes | None:
        try:
            return await super().secret_bytes(namespace, name, key)
        except ApiException as error:
            raise PluginError(_refused("secrets", namespace, name, error)) from None

    async def config_map_value(self, namespace: str, name: str, key: str) -> str | None:
        try:
            return await super().config_map_value(namespace, name, key)
        except ApiException as error:
            raise PluginError(_refused("configmaps", namespace, name, error)) from None


def _refused(resource: str, namespace: str, name: str, error: ApiException) -> str:
    if error.status == HTTPStatus.FORBIDDEN:
        return (
            f"forbidden: your RBAC does not allow get on {resource} in namespace {namespace}, "
            f"and the AzureAccount's credentials are in {resource} {namespace}/{name}: ask for "
            f"a Role granting get on {resource} {name} there, or use a kubeconfig that has it"
        )
    return (
        f"the API server answered {error.status} {error.reason} for {resource} {namespace}/{name}"
    )


def read_account(api_client: Any, name: str) -> AzureAccount:
    api = client.CustomObjectsApi(api_client)
    try:
        found = api.get_cluster_custom_object(GROUP, VERSION, ACCOUNT_PLURAL, name)
    except ApiException as error:
        if error.status == HTTPStatus.NOT_FOUND:
            raise PluginError(
                f'{ACCOUNT_RESOURCE} "{name}" not found: list the accounts with '
                f"`kubectl get {ACCOUNT_PLURAL}` and pass one with --account"
            ) from None
        if error.status == HTTPStatus.FORBIDDEN:
            raise PluginError(
                f"forbidden: your RBAC does not allow get on {ACCOUNT_RESOURCE} {name}: ask for "
                f"a ClusterRole granting it"
            ) from None
        raise PluginError(
            f"the API server answered {error.status} {error.reason} for {ACCOUNT_RESOURCE} {name}"
        ) from None
    try:
        return AzureAccount.model_validate(found)
    except pydantic.ValidationError as error:
        raise PluginError(f"{ACCOUNT_RESOURCE} {name} does not parse: {error}") from None


@asynccontextmanager
async def azure_clients(api_client: Any, target: AccountTarget) -> AsyncIterator[AzureClients]:
    """The account's SDK clients, built as the operator builds them, closed on the way out."""
    account = read_account(api_client, target.name)
    try:
        connection = await build_connection(UserKubeApi(api_client), account, target.trust)
    except AccountConfigError as error:
        hint = ""
        if error.reason == Reason.CUSTOM_ENDPOINTS_NOT_ALLOWED:
            hint = f" (for this plugin: pass {ALLOW_CUSTOM_ENDPOINTS_FLAG})"
        raise PluginError(f"AzureAccount {target.name}: {error.message}{hint}") from None
    clients = build_clients(connection, ClientOptions(max_retry_wait=10.0))
    try:
        yield clients
    finally:
        await clients.close()
