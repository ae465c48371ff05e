"""Whether a pool may write to its account's subscription, which may not be its VMs' one.

`spec.accountRef` and an account's `subscriptionId` are immutable (CEL), but an AzureAccount
deleted and recreated under the same name may name another subscription. A pool's VMs stay in
the subscription they were created in, which vmroll records in `status.subscriptionId` before
its first write there. A pool whose account now names another subscription writes to neither:
the old one is out of reach (the account that reached it is gone) and the new one would get a
second set of VMs while the first keeps running. A human decides: restore the subscription on
the account, or make the pool adopt the new one with an annotation naming it. Naming it, rather
than "true", so that an annotation left behind never adopts a later, third subscription.

Subscription IDs compare case-insensitively, as Azure compares them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from vmroll.api.pool import ACCEPT_SUBSCRIPTION_ANNOTATION, RELEASE_ANNOTATION
from vmroll.plan.ownership import POOL_UID_TAG


class Choice(enum.Enum):
    RECORD = "Record"
    """Nothing recorded yet: record the account's subscription, then go on."""
    SAME = "Same"
    ADOPT = "Adopt"
    """The annotation names the account's new subscription: record it, forget the old VMs."""
    CHANGED = "Changed"
    """Stall: write to neither subscription."""


@dataclass(frozen=True)
class SubscriptionCheck:
    """What a pass knows: the recorded subscription, the account's, and the annotation."""

    account: str
    recorded: str | None
    current: str
    accepted: str | None
    pool_uid: str


@dataclass(frozen=True)
class SubscriptionDecision:
    choice: Choice
    message: str = ""
    """For CHANGED, the Stalled message; for ADOPT, the Warning event's."""


def _same(a: str, b: str) -> bool:
    return a.lower() == b.lower()


def decide_subscription(
    check: SubscriptionCheck, *, deleting: bool = False
) -> SubscriptionDecision:
    recorded, current = check.recorded, check.current
    if recorded is None:
        return SubscriptionDecision(Choice.RECORD)
    if _same(recorded, current):
        return SubscriptionDecision(Choice.SAME)
    if check.accepted is not None and _same(check.accepted.strip(), current):
        return SubscriptionDecision(Choice.ADOPT, _adopted(check, recorded, current))
    return SubscriptionDecision(Choice.CHANGED, _changed(check, recorded, current, deleting))


def _adopted(check: SubscriptionCheck, recorded: str, current: str) -> str:
    return (
        f"{ACCEPT_SUBSCRIPTION_ANNOTATION}={current}: the pool now uses subscription {current} "
        f"of AzureAccount {check.account} and starts afresh there; its VMs in subscription "
        f"{recorded} are abandoned: vmroll cannot reach them and does not delete them; delete "
        f"them yourself (Azure tag {POOL_UID_TAG}={check.pool_uid})"
    )


def _changed(check: SubscriptionCheck, recorded: str, current: str, deleting: bool) -> str:
    found = (
        f"AzureAccount {check.account} now names subscription {current}, but this pool's VMs "
        f"live in subscription {recorded} (status.subscriptionId); vmroll writes to neither"
    )
    stale = ""
    if check.accepted is not None:
        stale = f" ({ACCEPT_SUBSCRIPTION_ANNOTATION} names {check.accepted.strip()}, not {current})"
    restore = f"restore subscriptionId {recorded} on AzureAccount {check.account}"
    if deleting:
        return (
            f"{found} and deletes nothing{stale}; to finish deleting the pool, {restore} "
            f"(vmroll then deletes its VMs), or annotate the pool {RELEASE_ANNOTATION}=true to "
            f"let it go and delete its VMs in subscription {recorded} yourself (Azure tag "
            f"{POOL_UID_TAG}={check.pool_uid})"
        )
    return (
        f"{found}{stale}; {restore}, or annotate the pool {ACCEPT_SUBSCRIPTION_ANNOTATION}="
        f"{current} to start afresh in subscription {current} and leave its VMs in "
        f"subscription {recorded} unmanaged (not deleted)"
    )
