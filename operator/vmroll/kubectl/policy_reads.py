"""The ImagePolicies `kubectl vmroll images` judges rows by, read with the caller's kubeconfig.

Parsed with the operator's model, skipping what does not parse, as handlers/policies.py does
(not imported here: it brings kopf and the metrics with it). Without `--for-namespace` every
policy applies, its selectors ignored (a browse has no pool); with it, only the policies that
would select a pool in that namespace with the given labels (plan/policy_match.py, the
operator's own matching). A caller who may not list the policies sees `unknown`, not an error.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any, cast

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from vmroll.api.base import GROUP, VERSION
from vmroll.api.policy import PLURAL
from vmroll.kubectl.cluster import PluginError
from vmroll.plan.policy import NamedPolicy, named_policies
from vmroll.plan.policy_match import policy_applies


def parse_labels(text: str | None) -> dict[str, str]:
    """`k=v,k2=v2` as kubectl's `--labels` takes them."""
    labels = {}
    for pair in (text or "").split(","):
        if not pair.strip():
            continue
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise PluginError(f"--pool-labels: {pair!r} is not key=value")
        labels[key.strip()] = value.strip()
    return labels


def read_policies(
    api_client: Any, namespace: str | None, pool_labels: Mapping[str, str]
) -> list[NamedPolicy] | None:
    """The policies that apply; None (said on stderr) when the caller may not list them."""
    try:
        policies = list_policies(api_client)
    except ApiException as error:
        print(f"note: cannot list ImagePolicies ({error.status} {error.reason}): the POLICY "
              "column says unknown; ask for `list` on imagepolicies.vmroll.io",
              file=sys.stderr)  # fmt: skip
        return None
    if namespace is None:
        return policies
    labels = namespace_labels(api_client, namespace)
    return [p for p in policies if policy_applies(p.spec, labels, pool_labels)]


def list_policies(api_client: Any) -> list[NamedPolicy]:
    """Every ImagePolicy that parses; the API server's refusal (RBAC) is raised."""
    custom = client.CustomObjectsApi(api_client)
    listed = cast(dict[str, Any], custom.list_cluster_custom_object(GROUP, VERSION, PLURAL))
    return named_policies(listed.get("items", []))


def namespace_labels(api_client: Any, namespace: str) -> dict[str, str]:
    try:
        found = client.CoreV1Api(api_client).read_namespace(namespace)
    except ApiException as error:
        raise PluginError(f"--for-namespace {namespace}: cannot read the namespace's labels: "
                          f"{error.status} {error.reason}") from None  # fmt: skip
    metadata = found.metadata
    return dict((metadata.labels if metadata is not None else None) or {})
