"""A pass takes its namespace's labels from kopf's index of namespaces, and reads the namespace
only when the index does not hold it (or not at all when the account does not ask); so do the
ImagePolicies that select namespaces by label."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest
import yaml
from test_reconcile_fakes import FakeAzure, account_spec

from vmroll.api.account import AzureAccountSpec
from vmroll.api.pool import VirtualMachinePool
from vmroll.handlers.kube import KubeApi
from vmroll.handlers.namespaces import indexed_labels, namespace_labels_by_name
from vmroll.handlers.policies import matching_policies
from vmroll.handlers.pool_inputs import namespace_labels
from vmroll.reconcile.inputs import AccountView

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


class Reads:
    """A KubeApi that only answers namespace reads, and counts them."""

    def __init__(self) -> None:
        self.read: list[str] = []

    async def namespace_labels(self, name: str) -> dict[str, str] | None:
        self.read.append(name)
        return {"read": "yes"}


def by_selector() -> AccountView:
    spec = account_spec([], ["rg-web"])
    spec["allowedNamespaces"] = {"selector": {"matchLabels": {"vmroll": "on"}}}
    return AccountView("prod", AzureAccountSpec.model_validate(spec), FakeAzure([]))


def index_of(**namespaces: dict[str, str]) -> dict[Any, Any]:
    """As kopf holds an index: each key's values in a collection."""
    index: dict[Any, Any] = {}
    for name, labels in namespaces.items():
        for key, value in namespace_labels_by_name(name=name, labels=labels).items():
            index.setdefault(key, []).append(value)
    return index


async def test_labels_come_from_the_index_without_a_read() -> None:
    kube = Reads()
    index = index_of(team={"vmroll": "on"}, other={"vmroll": "off"})

    labels = await namespace_labels(cast(KubeApi, kube), by_selector(), "team", index)

    assert labels == {"vmroll": "on"}
    assert kube.read == []


async def test_a_namespace_the_index_lacks_is_read() -> None:
    kube = Reads()

    labels = await namespace_labels(cast(KubeApi, kube), by_selector(), "team", index_of())

    assert labels == {"read": "yes"}
    assert kube.read == ["team"]


async def test_without_an_index_the_namespace_is_read() -> None:
    kube = Reads()

    assert await namespace_labels(cast(KubeApi, kube), by_selector(), "team") == {"read": "yes"}
    assert kube.read == ["team"]


def test_an_index_without_labels_for_the_namespace_gives_none() -> None:
    assert indexed_labels(index_of(other={"a": "b"}), "team") is None
    assert indexed_labels(index_of(team={}), "team") == {}


def policy_for(selector: dict[str, str]) -> dict[str, Any]:
    """An ImagePolicy as the policies' index holds it, selecting namespaces by label."""
    rules = {"deniedVersions": [{"version": "1.0.0", "reason": "CVE-2026-0001"}]}
    spec = {"rules": rules, "namespaceSelector": {"matchLabels": selector}}
    return {"metadata": {"name": "p", "generation": 1}, "spec": spec}


def team_pool() -> VirtualMachinePool:
    example = yaml.safe_load((EXAMPLES / "pool-marketplace.yaml").read_text())
    example["metadata"]["namespace"] = "team"
    return VirtualMachinePool.model_validate(example)


@pytest.mark.parametrize(
    ("labels", "selected"),
    [pytest.param({"vmroll": "on"}, True, id="selected"), pytest.param({}, False, id="not")],
)
async def test_policies_judge_the_namespace_by_the_index_without_a_read(
    labels: dict[str, str], selected: bool
) -> None:
    kube = Reads()
    policies = {"p": [policy_for({"vmroll": "on"})]}

    matched = await matching_policies(
        cast(KubeApi, kube), policies, team_pool(), index_of(team=labels)
    )

    assert [p.name for p in matched] == (["p"] if selected else [])
    assert kube.read == []


async def test_policies_read_a_namespace_the_index_lacks() -> None:
    kube = Reads()
    policies = {"p": [policy_for({"read": "yes"})]}

    matched = await matching_policies(cast(KubeApi, kube), policies, team_pool(), index_of())

    assert [p.name for p in matched] == ["p"]
    assert kube.read == ["team"]
