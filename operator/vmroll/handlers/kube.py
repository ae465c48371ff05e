"""The few Kubernetes reads and writes the handlers make beyond what kopf gives them.

kopf delivers objects and posts events; reading a referenced Secret, ConfigMap or Namespace and
writing a pool's status from its long-running loop (kopf applies a daemon's `patch` only when
the daemon exits), and the admission webhook's list of ImagePolicies (on every replica, where
no kopf index runs) go through the official client, run in a worker thread so the event loop
never blocks. Secret values are returned to the caller and never logged.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Mapping
from typing import Any

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from vmroll.api.base import GROUP, VERSION
from vmroll.api.policy import PLURAL as POLICY_PLURAL
from vmroll.api.pool import PLURAL as POOL_PLURAL


def load_api_client() -> Any:
    """In-cluster configuration when running in a pod, else the current kubeconfig."""
    try:
        config.load_incluster_config()  # type: ignore[no-untyped-call]
    except config.ConfigException:
        config.load_kube_config()  # type: ignore[no-untyped-call]
    return client.ApiClient()


class SecretNotText(ValueError):
    """A Secret's key holds bytes that are not UTF-8 text; the value itself is never kept."""

    def __init__(self, namespace: str, name: str, key: str) -> None:
        super().__init__(f"Secret {namespace}/{name} key {key} is not UTF-8 text")
        self.namespace, self.name, self.key = namespace, name, key


class KubeApi:
    def __init__(self, api_client: Any) -> None:
        self._core = client.CoreV1Api(api_client)
        self._custom = client.CustomObjectsApi(api_client)

    async def secret_bytes(self, namespace: str, name: str, key: str) -> bytes | None:
        """The value as stored, or None when the Secret or the key does not exist."""
        secret = await self._get(self._core.read_namespaced_secret, name, namespace)
        data: Mapping[str, str] = (secret.data if secret is not None else None) or {}
        return base64.b64decode(data[key]) if key in data else None

    async def secret_value(self, namespace: str, name: str, key: str) -> str | None:
        """The value as text, or None when the Secret or the key does not exist; raises
        `SecretNotText` when the value is binary."""
        value = await self.secret_bytes(namespace, name, key)
        if value is None:
            return None
        try:
            return value.decode()
        except UnicodeDecodeError:
            # Not chained: the decode error's text quotes a byte of the secret.
            raise SecretNotText(namespace, name, key) from None

    async def config_map_value(self, namespace: str, name: str, key: str) -> str | None:
        found = await self._get(self._core.read_namespaced_config_map, name, namespace)
        data: Mapping[str, str] = (found.data if found is not None else None) or {}
        return data.get(key)

    async def namespace_labels(self, name: str) -> dict[str, str] | None:
        found = await self._get(self._core.read_namespace, name)
        if found is None:
            return None
        return dict(found.metadata.labels or {})

    async def image_policies(self) -> list[Mapping[str, Any]]:
        """Every ImagePolicy as stored (cluster-scoped), for the admission webhook; none when
        the CRD is not installed (a cluster upgraded without it has no policy to enforce)."""
        try:
            found: Any = await asyncio.to_thread(
                self._custom.list_cluster_custom_object, GROUP, VERSION, POLICY_PLURAL
            )
        except ApiException as error:
            if error.status == 404:
                return []
            raise
        return list(found.get("items") or [])

    async def pools(self) -> list[Mapping[str, Any]]:
        """Every VirtualMachinePool of the cluster, for a capture's retention to see what the
        pools of every namespace run and target."""
        found: Any = await asyncio.to_thread(
            self._custom.list_cluster_custom_object, GROUP, VERSION, POOL_PLURAL
        )
        return list(found.get("items") or [])

    async def patch_pool_status(self, namespace: str, name: str, patch: Mapping[str, Any]) -> None:
        await asyncio.to_thread(
            self._custom.patch_namespaced_custom_object_status,
            GROUP,
            VERSION,
            namespace,
            POOL_PLURAL,
            name,
            {"status": dict(patch)},
        )

    async def patch_status(
        self, plural: str, namespace: str, name: str, patch: Mapping[str, Any]
    ) -> None:
        """Patch the status subresource of one of vmroll's namespaced objects."""
        await asyncio.to_thread(
            self._custom.patch_namespaced_custom_object_status,
            GROUP,
            VERSION,
            namespace,
            plural,
            name,
            {"status": dict(patch)},
        )

    async def _get(self, call: Any, *args: str) -> Any:
        try:
            return await asyncio.to_thread(call, *args)
        except ApiException as error:
            if error.status == 404:
                return None
            raise
