"""Marketplace terms of a paid image: read them, and accept them only when the pool says so.

A VM from an image with a purchase plan fails to create until the subscription has accepted the
plan's terms. Accepting is a legal act, so vmroll does it only for a pool with
`acceptTerms: true`; otherwise it stops with reason TermsNotAccepted before trying any create.
"""

from __future__ import annotations

from azure.mgmt.marketplaceordering.aio import MarketplaceOrderingAgreements
from azure.mgmt.marketplaceordering.models import AgreementTerms

from vmroll.azure.errors import TerminalAzureError, azure_errors
from vmroll.azure.images import MarketplacePlan
from vmroll.plan.reasons import Reason

OFFER_TYPE = "virtualmachine"


def _plan_text(plan: MarketplacePlan) -> str:
    return f"publisher={plan.publisher} product={plan.product} plan={plan.name}"


async def terms_accepted(agreements: MarketplaceOrderingAgreements, plan: MarketplacePlan) -> bool:
    with azure_errors(f"read marketplace terms of {_plan_text(plan)}"):
        terms = await _get(agreements, plan)
    return bool(terms.accepted)


async def accept_terms(agreements: MarketplaceOrderingAgreements, plan: MarketplacePlan) -> None:
    """Accept as the Azure CLI does: send back the current terms with `accepted` set."""
    with azure_errors(f"accept marketplace terms of {_plan_text(plan)}"):
        terms = await _get(agreements, plan)
        if terms.accepted:
            return
        terms.accepted = True
        await agreements.marketplace_agreements.create(
            OFFER_TYPE, plan.publisher, plan.product, plan.name, terms
        )


def terms_not_accepted(plan: MarketplacePlan) -> TerminalAzureError:
    return TerminalAzureError(
        Reason.TERMS_NOT_ACCEPTED,
        f"the marketplace terms of {_plan_text(plan)} are not accepted on this subscription; "
        "accept them (az vm image terms accept) or set spec.image.acceptTerms: true",
    )


async def _get(agreements: MarketplaceOrderingAgreements, plan: MarketplacePlan) -> AgreementTerms:
    return await agreements.marketplace_agreements.get(
        OFFER_TYPE, plan.publisher, plan.product, plan.name
    )
