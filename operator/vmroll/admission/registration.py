"""The ValidatingWebhookConfiguration that sends pools and accounts to vmroll's webhook.

One description for every place that registers it: the local stack and the e2e tests call the
webhook at `https://127.0.0.1:<port>`; the chart renders the same rules as YAML, towards its
Service (tests/unit/test_admission_registration.py holds the two together).

What it asks the API server for, and why:
- CREATE and UPDATE only, of the objects themselves, never their `status` subresource: the
  webhook being down never blocks deleting an object, nor the operator writing status.
- `matchConditions`: updates that leave the spec as it was (kopf's annotations, finalizers
  being added or removed) and changes to an object being deleted skip the webhook, so that a
  pool's deletion completes while the webhook is down.
- `failurePolicy: Fail`: while the webhook cannot answer, creating a pool or changing its spec
  is refused, with the API server's error naming the webhook. `Ignore` would instead let
  objects in unchecked, which then stall with InvalidSpec — later and less visibly. Since the
  webhook is served by the operator, its being down means nothing is reconciled either.
- `timeoutSeconds: 5`: a review is a parse of one object, well under a millisecond; five
  seconds bounds how long `kubectl apply` hangs on an unreachable webhook (the default is 10).
"""

from __future__ import annotations

from typing import Any, Final

from vmroll.admission.server import PATH
from vmroll.api.account import PLURAL as ACCOUNTS
from vmroll.api.base import GROUP, VERSION
from vmroll.api.pool import PLURAL as POOLS

NAME: Final = "vmroll"
FAILURE_POLICY: Final = "Fail"
TIMEOUT_SECONDS: Final = 5
MATCH_CONDITIONS: Final = (
    {
        "name": "spec-changed",
        "expression": "request.operation == 'CREATE' || object.spec != oldObject.spec",
    },
    {"name": "not-being-deleted", "expression": "!has(object.metadata.deletionTimestamp)"},
)


def webhook_configuration(
    client_config: dict[str, Any],
    *,
    name: str = NAME,
    namespace_selector: dict[str, Any] | None = None,
    object_selector: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The configuration, calling the webhook as `client_config` says (`url` or `service`, and
    `caBundle`). The selectors narrow it (the e2e tests register one per test namespace)."""
    webhooks = [
        _webhook(f"pools.{GROUP}", POOLS, "Namespaced", client_config),
        _webhook(f"accounts.{GROUP}", ACCOUNTS, "Cluster", client_config),
    ]
    for webhook in webhooks:
        if namespace_selector is not None:
            webhook["namespaceSelector"] = namespace_selector
        if object_selector is not None:
            webhook["objectSelector"] = object_selector
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": name},
        "webhooks": webhooks,
    }


def url_client_config(url: str, ca_bundle: str) -> dict[str, Any]:
    """Call the webhook at `url` (base64 PEM `ca_bundle`), as the local stack does."""
    return {"url": url.rstrip("/") + PATH, "caBundle": ca_bundle}


def _webhook(name: str, plural: str, scope: str, client_config: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "admissionReviewVersions": ["v1"],
        "sideEffects": "None",
        "failurePolicy": FAILURE_POLICY,
        "timeoutSeconds": TIMEOUT_SECONDS,
        "matchPolicy": "Equivalent",
        "clientConfig": client_config,
        "rules": [
            {
                "apiGroups": [GROUP],
                "apiVersions": [VERSION],
                "operations": ["CREATE", "UPDATE"],
                "resources": [plural],
                "scope": scope,
            }
        ],
        "matchConditions": [dict(condition) for condition in MATCH_CONDITIONS],
    }
