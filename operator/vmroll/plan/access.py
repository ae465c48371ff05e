"""Whether an AzureAccount lets a pool in: its namespace, and its resource group.

Checked before any Azure call for the pool, so that a team cannot reach a subscription, or a
resource group in it, that the platform team did not grant. A refusal is a Stalled condition
with reason AccessDenied and a message that says which field of which object to change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from vmroll.api.account import (
    ANY_RESOURCE_GROUP,
    AllowedNamespaces,
    AzureAccountSpec,
    LabelSelector,
    LabelSelectorRequirement,
    SelectorOperator,
)
from vmroll.plan.reasons import Reason


@dataclass(frozen=True)
class AccessDecision:
    """Allowed, or refused with the reason and the message for the Stalled condition."""

    allowed: bool
    reason: Reason | None = None
    message: str = ""


ALLOWED = AccessDecision(allowed=True)


def check_access(
    account_name: str,
    account: AzureAccountSpec,
    namespace: str,
    namespace_labels: Mapping[str, str],
    resource_group: str,
) -> AccessDecision:
    """Whether `account` admits a pool in `namespace` aimed at `resource_group`."""
    if not namespace_admitted(account.allowed_namespaces, namespace, namespace_labels):
        return AccessDecision(
            allowed=False,
            reason=Reason.ACCESS_DENIED,
            message=(
                f"AzureAccount {account_name} does not admit namespace {namespace}: add it to "
                "spec.allowedNamespaces.names, or label the namespace to match "
                "spec.allowedNamespaces.selector"
            ),
        )
    if not resource_group_admitted(account.allowed_resource_groups, resource_group):
        return AccessDecision(
            allowed=False,
            reason=Reason.ACCESS_DENIED,
            message=(
                f"AzureAccount {account_name} does not admit resource group {resource_group}: "
                "add it to spec.allowedResourceGroups"
            ),
        )
    return ALLOWED


def namespace_admitted(
    allowed: AllowedNamespaces, namespace: str, namespace_labels: Mapping[str, str]
) -> bool:
    """Listed by name, or matched by the selector; nothing set admits nothing."""
    if namespace in allowed.names:
        return True
    return allowed.selector is not None and selector_matches(allowed.selector, namespace_labels)


def resource_group_admitted(allowed: Sequence[str], resource_group: str) -> bool:
    """Listed (resource group names are case-insensitive in Azure), or `*` is listed."""
    wanted = resource_group.lower()
    return any(entry == ANY_RESOURCE_GROUP or entry.lower() == wanted for entry in allowed)


def selector_matches(selector: LabelSelector, labels: Mapping[str, str]) -> bool:
    """metav1.LabelSelector semantics: every label and every requirement must hold."""
    if any(labels.get(key) != value for key, value in selector.match_labels.items()):
        return False
    return all(_requirement_holds(r, labels) for r in selector.match_expressions)


def _requirement_holds(requirement: LabelSelectorRequirement, labels: Mapping[str, str]) -> bool:
    present = requirement.key in labels
    match requirement.operator:
        case SelectorOperator.IN:
            return present and labels[requirement.key] in requirement.values
        case SelectorOperator.NOT_IN:
            return not present or labels[requirement.key] not in requirement.values
        case SelectorOperator.EXISTS:
            return present
        case SelectorOperator.DOES_NOT_EXIST:
            return not present
