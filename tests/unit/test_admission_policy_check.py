"""Deny ImagePolicies at admission, the decision: a create or an image change that a Deny policy
forbids is refused naming the field, the policy and the rule; an update that leaves the image
alone is never judged (nor are the policies read); Audit and Remediate never refuse; a policy
that does not select the pool's namespace does not apply; and unreadable policies refuse the
request as unavailable, saying it is transient."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from vmroll.admission.policy_check import DenyPolicies, judged_part_changed
from vmroll.admission.review import CheckUnavailable, review
from vmroll.api.pool import VirtualMachinePool

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
SUBNET = (
    "/subscriptions/00000000-0000-4000-8000-000000000001/resourceGroups/rg-net/providers/"
    "Microsoft.Network/virtualNetworks/vnet/subnets/default"
)
DENIED = "24.04.202610220"
FRESH = "24.04.202611100"
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBwXr7qJ8Ue6bS2dGf0a9bT4XqvD2Fh1nQj7k3mPz5Lc me@host"
UBUNTU = {"publisher": "Canonical", "offer": "ubuntu-24_04-lts", "sku": "server"}


def _pool(version: str = FRESH, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "vmroll.io/v1alpha1",
        "kind": "VirtualMachinePool",
        "metadata": {"name": "web", "namespace": "team", "labels": {"tier": "web"}},
        "spec": {
            "accountRef": {"name": "prod"},
            "resourceGroup": "rg-web",
            "location": "westeurope",
            "image": {"marketplace": {**UBUNTU, "version": version}},
            "template": {
                "vmSize": "Standard_D2s_v5",
                "subnetId": SUBNET,
                "sshPublicKeys": [{"keyData": KEY}],
            },
            **spec,
        },
    }


def _policy(name: str, enforcement: str = "Deny", **spec: Any) -> dict[str, Any]:
    rules = {"deniedVersions": [{"version": DENIED, "reason": "CVE-2026-0001"}]}
    return {
        "apiVersion": "vmroll.io/v1alpha1",
        "kind": "ImagePolicy",
        "metadata": {"name": name},
        "spec": {"rules": rules, "enforcement": enforcement, **spec},
    }


class Source:
    """The API server's answers, counted; `failure` stands for an API server hiccup."""

    def __init__(
        self, policies: list[dict[str, Any]], labels: dict[str, str] | None = None
    ) -> None:
        self.policies = policies
        self.labels = labels
        self.failure: Exception | None = None
        self.reads = 0

    async def image_policies(self) -> list[Mapping[str, Any]]:
        self.reads += 1
        if self.failure is not None:
            raise self.failure
        return list(self.policies)

    async def namespace_labels(self, name: str) -> dict[str, str] | None:
        assert name == "team"
        return self.labels


def _parsed(document: dict[str, Any]) -> VirtualMachinePool:
    return VirtualMachinePool.model_validate(document)


async def test_refuses_a_create_on_a_denied_version_naming_field_policy_and_rule() -> None:
    check = DenyPolicies(Source([_policy("no-cve")]), lambda: NOW)

    message = await check(_parsed(_pool(DENIED)), None)

    assert message == (
        f"spec.image.marketplace.version: {DENIED} is denied by policy no-cve: CVE-2026-0001 "
        "(VersionDenied); pin a version policy no-cve allows"
    )
    assert await check(_parsed(_pool(FRESH)), None) is None


async def test_refuses_a_paid_image_of_a_publisher_not_allowed() -> None:
    rules = {"licensing": {"allowPurchasePlans": True, "planPublishers": ["canonical"]}}
    policy = _policy("paid")
    policy["spec"]["rules"] = rules
    plan = {"name": "rabbitmq", "product": "rabbitmq", "publisher": "bitnami"}
    paid = _pool()
    paid["spec"]["image"]["plan"] = plan
    check = DenyPolicies(Source([policy]), lambda: NOW)

    message = await check(_parsed(paid), None)

    assert message is not None
    assert message.startswith("spec.image.plan: ")
    assert "policy paid" in message
    assert "(PurchasePlanNotAllowed)" in message


@pytest.mark.parametrize("enforcement", ["Audit", "Remediate"])
async def test_only_deny_refuses(enforcement: str) -> None:
    check = DenyPolicies(Source([_policy("soft", enforcement)]), lambda: NOW)
    assert await check(_parsed(_pool(DENIED)), None) is None


async def test_a_deny_policy_wins_over_a_softer_one_naming_itself() -> None:
    source = Source([_policy("a-audit", "Audit"), _policy("z-deny")])
    message = await DenyPolicies(source, lambda: NOW)(_parsed(_pool(DENIED)), None)
    assert message is not None
    assert "policy z-deny" in message
    assert "(and 1 more)" in message


async def test_a_policy_for_other_namespaces_does_not_apply() -> None:
    selector = {"matchLabels": {"env": "prod"}}
    source = Source([_policy("prod-only", namespaceSelector=selector)], labels={"env": "dev"})
    assert await DenyPolicies(source, lambda: NOW)(_parsed(_pool(DENIED)), None) is None
    source.labels = {"env": "prod"}
    assert await DenyPolicies(source, lambda: NOW)(_parsed(_pool(DENIED)), None) is not None


async def test_an_update_is_judged_only_when_it_changes_the_image_or_the_location() -> None:
    source = Source([_policy("no-cve")])
    check = DenyPolicies(source, lambda: NOW)
    out_of_policy = _parsed(_pool(DENIED))
    scaled = _pool(DENIED, replicas=5)
    relabelled = copy.deepcopy(scaled)
    relabelled["metadata"]["labels"] = {"tier": "api"}

    assert await check(_parsed(scaled), out_of_policy) is None
    assert await check(_parsed(relabelled), out_of_policy) is None
    assert await check(_parsed(_pool(FRESH)), out_of_policy) is None
    assert source.reads == 1
    assert await check(_parsed(_pool(DENIED)), _parsed(_pool(FRESH))) is not None
    moved = _pool(DENIED, location="northeurope")
    assert judged_part_changed(_parsed(moved), out_of_policy)
    assert await check(_parsed(moved), out_of_policy) is not None


@pytest.mark.parametrize(
    "failure",
    [ApiException(status=500, reason="Internal Server Error"), ConnectionRefusedError()],
    ids=["api-error", "connection"],
)
async def test_unreadable_policies_refuse_as_unavailable_saying_it_is_transient(
    failure: Exception,
) -> None:
    source = Source([_policy("no-cve")])
    source.failure = failure
    check = DenyPolicies(source, lambda: NOW)
    with pytest.raises(CheckUnavailable, match="this is transient, retry"):
        await check(_parsed(_pool(FRESH)), None)

    request = {
        "uid": "u-1",
        "kind": {"group": "vmroll.io", "version": "v1alpha1", "kind": "VirtualMachinePool"},
        "operation": "CREATE",
        "object": _pool(FRESH),
    }
    response = (await review({"request": request}, [check]))["response"]
    assert response["allowed"] is False
    assert response["status"]["code"] == 503
    assert response["status"]["reason"] == "ServiceUnavailable"
    assert "could not read the ImagePolicies" in response["status"]["message"]
