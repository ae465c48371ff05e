"""The account check as kopf runs it (`check_account`): a check every 10 minutes that finds
what the status already says must write nothing (no status churn, no event). Paths that post
an event need kopf's event posting and run in tests/e2e (test_status_fixtures.py: an account
Ready and not)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import kopf

from vmroll.api.account import AzureAccount, AzureAccountStatus
from vmroll.handlers.accounts import account_assessment, check_account, token_check
from vmroll.handlers.kube import KubeApi
from vmroll.handlers.run_config import RunConfig
from vmroll.handlers.state import OperatorState
from vmroll.plan.conditions import ConditionUpdate
from vmroll.plan.reasons import Reason

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


class NoSecrets:
    async def secret_value(self, namespace: str, name: str, key: str) -> str | None:
        return None


def account_object(status: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "vmroll.io/v1alpha1",
        "kind": "AzureAccount",
        "metadata": {"name": "prod", "uid": "uid-prod", "generation": 3},
        "spec": {
            "subscriptionId": "00000000-0000-0000-0000-000000000001",
            "tenantId": "11111111-1111-1111-1111-111111111111",
            "auth": {"clientSecret": {
                "clientId": "22222222-2222-2222-2222-222222222222",
                "secretRef": {"name": "azure", "namespace": "ops", "key": "secret"},
            }},
            "allowedResourceGroups": ["*"],
        },
        **({"status": status} if status is not None else {}),
    }  # fmt: skip


def operator_state() -> OperatorState:
    return OperatorState(
        config=RunConfig(cluster_resource_namespace="ops"),
        kube=cast(KubeApi, NoSecrets()),
        clock=lambda: NOW,
    )


async def test_a_check_that_finds_the_same_failure_writes_nothing() -> None:
    state = operator_state()
    reason, message = await token_check(state, AzureAccount.model_validate(account_object()))
    assert reason == Reason.CREDENTIALS_NOT_FOUND
    conditions = (
        ConditionUpdate.of([])
        .assess(account_assessment(reason, message), observed_generation=3, now=NOW)
        .conditions
    )
    status = AzureAccountStatus(conditions=list(conditions), observed_generation=3)
    patch = kopf.Patch()

    await check_account(
        body=kopf.Body(account_object(status.to_wire())),
        memo=kopf.Memo(state=state),
        patch=patch,
    )

    assert dict(patch) == {}
