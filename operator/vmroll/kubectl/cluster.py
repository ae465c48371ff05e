"""The plugin's one seam to the API server: read, watch and merge-patch a pool.

It connects as kubectl does: the kubeconfig from `--kubeconfig`, else $KUBECONFIG, else
~/.kube/config; the context from `--context`, else the current one; the namespace from `-n`,
else the context's, else `default`. It acts with the user's own credentials and RBAC.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException

from vmroll.api.base import GROUP, VERSION
from vmroll.api.pool import PLURAL
from vmroll.kubectl.pool_object import Pool

RESOURCE = f"{PLURAL}.{GROUP}"
WATCH_ROUND_SECONDS = 300


class PluginError(Exception):
    """A failure to show the user as `error: ...`, with exit code 1."""


@dataclass(frozen=True)
class ClusterTarget:
    """Which API server and namespace the plugin talks to: `--kubeconfig`, `--context`, `-n`."""

    kubeconfig: str | None
    context: str | None
    namespace: str | None


@contextmanager
def _kubeconfig_errors() -> Iterator[None]:
    try:
        yield
    except (config.ConfigException, OSError) as error:
        raise PluginError(f"cannot load the kubeconfig: {error}") from error


def api_client_for(target: ClusterTarget) -> Any:
    """A Kubernetes API client with the user's own credentials, chosen as kubectl chooses them."""
    with _kubeconfig_errors():
        return config.new_client_from_config(  # type: ignore[no-untyped-call]
            config_file=target.kubeconfig, context=target.context
        )


def _namespace_of(target: ClusterTarget) -> str:
    if target.namespace:
        return target.namespace
    with _kubeconfig_errors():
        contexts, active = config.list_kube_config_contexts(config_file=target.kubeconfig)  # type: ignore[no-untyped-call]
    chosen = (
        next((c for c in contexts if c["name"] == target.context), None)
        if target.context
        else active
    )
    return str(((chosen or {}).get("context") or {}).get("namespace") or "default")


class Pools:
    """The pools of one namespace, through the kubeconfig's credentials."""

    def __init__(self, target: ClusterTarget) -> None:
        api_client = api_client_for(target)
        self.namespace = _namespace_of(target)
        self._api = client.CustomObjectsApi(api_client)

    def get(self, name: str) -> Pool:
        return self._call(name, self._api.get_namespaced_custom_object, GROUP, VERSION,
                          self.namespace, PLURAL, name)  # fmt: skip

    def patch(self, name: str, body: dict[str, Any]) -> Pool:
        """A JSON merge patch (RFC 7386) of the pool's spec or metadata."""
        return self._call(name, self._api.patch_namespaced_custom_object, GROUP, VERSION,
                          self.namespace, PLURAL, name, body,
                          _content_type="application/merge-patch+json")  # fmt: skip

    def watch(self, name: str, timeout: float | None) -> Iterator[Pool | None]:
        """The pool now and at every change; None once it is deleted. Ends after `timeout`.

        Each round reads the pool (so a missing pool fails at once) and watches from that read's
        resourceVersion; a watch the server ends or expires (410 Gone) starts a new round.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while deadline is None or time.monotonic() < deadline:
            pool = self.get(name)
            yield pool
            left = WATCH_ROUND_SECONDS if deadline is None else deadline - time.monotonic()
            stream = watch.Watch().stream(  # type: ignore[no-untyped-call]
                self._api.list_namespaced_custom_object, GROUP, VERSION, self.namespace, PLURAL,
                field_selector=f"metadata.name={name}",
                resource_version=pool["metadata"]["resourceVersion"],
                timeout_seconds=max(1, math.ceil(min(left, WATCH_ROUND_SECONDS))),
            )  # fmt: skip
            try:
                for event in stream:
                    yield None if event["type"] == "DELETED" else event["object"]
            except ApiException as error:
                if error.status != HTTPStatus.GONE:
                    raise PluginError(self._explain(name, error)) from error

    def _call(self, name: str, method: Any, *args: Any, **kwargs: Any) -> Pool:
        try:
            found: Pool = method(*args, **kwargs)
        except ApiException as error:
            raise PluginError(self._explain(name, error)) from error
        return found

    def _explain(self, name: str, error: ApiException) -> str:
        if error.status == 404:
            return f'{RESOURCE} "{name}" not found in namespace "{self.namespace}"'
        if error.status == 403:
            where = f"{RESOURCE} {self.namespace}/{name}"
            return f"forbidden: your RBAC does not allow this on {where}: {error.reason}"
        return f"the API server answered {error.status} {error.reason} for {RESOURCE} {name}"
