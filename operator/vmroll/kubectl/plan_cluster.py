"""What `kubectl vmroll plan` asks the API server, writing nothing: a server-side dry run of the
planned pool (`dryRun=All`: admission, schema and CEL run, nothing is stored) and whether the
vmroll.io group serves a kind (API discovery, as `kubectl api-resources` reads it)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from vmroll.api.base import GROUP, VERSION
from vmroll.api.pool import PLURAL
from vmroll.kubectl.cluster import PluginError, Pools


@dataclass(frozen=True)
class ServerVerdict:
    accepted: bool
    """False only when the server refused the spec; a dry run it did not allow is no refusal."""
    message: str
    object: dict[str, Any] | None
    """The pool as the server would store it (defaults filled in), when accepted."""


class PlanCluster(Pools):
    @property
    def api_client(self) -> Any:
        """The kubeconfig's client, for the reads `plan` makes beside the pool's."""
        return self._api.api_client

    def dry_run(self, name: str, pool: dict[str, Any]) -> ServerVerdict:
        """Replace the pool with `pool` under dryRun=All: the server's verdict, nothing stored."""
        try:
            stored: Any = self._api.replace_namespaced_custom_object(
                GROUP, VERSION, self.namespace, PLURAL, name, pool, dry_run="All"
            )
        except ApiException as error:
            if error.status in (400, 409, 422):
                return ServerVerdict(False, _status_message(error), None)
            if error.status == 403:
                return ServerVerdict(
                    True,
                    "not asked: your RBAC does not allow update on virtualmachinepools, which "
                    "a server-side dry run needs; the API server's schema and CEL did not run",
                    None,
                )
            raise PluginError(self._explain(name, error)) from error
        return ServerVerdict(True, "accepted (dryRun=All, nothing stored)", stored)

    def served_kinds(self, group: str = GROUP) -> set[str]:
        """The kinds every served version of `group` offers; empty when the group is absent."""
        api_client = self.api_client
        try:
            groups = client.ApisApi(api_client).get_api_versions().groups
        except ApiException as error:
            raise PluginError(f"API discovery failed: {error.status} {error.reason}") from error
        kinds: set[str] = set()
        for found in groups:
            if found.name != group:
                continue
            for version in found.versions:
                resources = client.CustomObjectsApi(api_client).get_api_resources(
                    group, version.version
                )
                kinds |= {r.kind for r in resources.resources if "/" not in r.name}
        return kinds


def _status_message(error: ApiException) -> str:
    """The API server's own words: its Status message, else the raw reason."""
    try:
        body = json.loads(error.body or "{}")
    except ValueError:
        return f"{error.status} {error.reason}"
    return str(body.get("message") or f"{error.status} {error.reason}")
