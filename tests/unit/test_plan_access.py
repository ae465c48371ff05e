"""An AzureAccount admits a pool only from its namespaces and into its resource groups."""

from __future__ import annotations

from typing import Any

import pytest

from vmroll.api.account import AzureAccountSpec, LabelSelector
from vmroll.plan.access import check_access, selector_matches
from vmroll.plan.reasons import Reason


def account(allowed_namespaces: dict[str, Any], groups: list[str]) -> AzureAccountSpec:
    return AzureAccountSpec.model_validate(
        {
            "subscriptionId": "00000000-0000-0000-0000-000000000000",
            "tenantId": "11111111-1111-1111-1111-111111111111",
            "auth": {"defaultChain": {}},
            "allowedNamespaces": allowed_namespaces,
            "allowedResourceGroups": groups,
        }
    )


TEAM_WEB = {"selector": {"matchLabels": {"team": "web"}}}


@pytest.mark.parametrize(
    ("allowed", "groups", "namespace", "labels", "group", "refusal"),
    [
        pytest.param({"names": ["web"]}, ["rg-web"], "web", {}, "rg-web", None, id="listed"),
        pytest.param({"names": ["web"]}, ["rg-web"], "api", {}, "rg-web", "namespace api", id="ns"),
        pytest.param({}, ["*"], "web", {}, "rg", "namespace web", id="nothing-admits-nobody"),
        pytest.param(TEAM_WEB, ["*"], "x", {"team": "web"}, "rg", None, id="selected"),
        pytest.param(TEAM_WEB, ["*"], "x", {"team": "api"}, "rg", "namespace x", id="unselected"),
        pytest.param({"selector": {}}, ["*"], "any", {}, "rg", None, id="empty-selector-all"),
        pytest.param({"names": ["web"]}, ["RG-Web"], "web", {}, "rg-web", None, id="rg-case"),
        pytest.param(
            {"names": ["web"]}, ["rg-web"], "web", {}, "rg-db", "resource group rg-db", id="rg"
        ),
    ],
)
def test_check_access(
    allowed: dict[str, Any],
    groups: list[str],
    namespace: str,
    labels: dict[str, str],
    group: str,
    refusal: str | None,
) -> None:
    decision = check_access("prod", account(allowed, groups), namespace, labels, group)
    if refusal is None:
        assert decision.allowed
        assert decision.reason is None
    else:
        assert not decision.allowed
        assert decision.reason is Reason.ACCESS_DENIED
        assert f"AzureAccount prod does not admit {refusal}" in decision.message
        assert "spec.allowed" in decision.message


@pytest.mark.parametrize(
    ("expressions", "labels", "matches"),
    [
        pytest.param([{"key": "env", "operator": "In", "values": ["a"]}], {"env": "a"}, True),
        pytest.param([{"key": "env", "operator": "In", "values": ["a"]}], {}, False),
        pytest.param([{"key": "env", "operator": "NotIn", "values": ["a"]}], {}, True),
        pytest.param([{"key": "env", "operator": "NotIn", "values": ["a"]}], {"env": "a"}, False),
        pytest.param([{"key": "env", "operator": "Exists"}], {"env": ""}, True),
        pytest.param([{"key": "env", "operator": "Exists"}], {}, False),
        pytest.param([{"key": "env", "operator": "DoesNotExist"}], {}, True),
        pytest.param([{"key": "env", "operator": "DoesNotExist"}], {"env": "b"}, False),
        pytest.param(
            [
                {"key": "env", "operator": "Exists"},
                {"key": "tier", "operator": "In", "values": ["1"]},
            ],
            {"env": "x", "tier": "2"},
            False,
            id="all-must-hold",
        ),
    ],
)
def test_selector_expressions(
    expressions: list[dict[str, Any]], labels: dict[str, str], matches: bool
) -> None:
    selector = LabelSelector.model_validate({"matchExpressions": expressions})
    assert selector_matches(selector, labels) is matches
