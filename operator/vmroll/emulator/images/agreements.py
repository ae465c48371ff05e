"""Marketplace terms (Microsoft.MarketplaceOrdering 2021-01-01) per subscription and plan.

A paid image's plan cannot be used by a subscription until its terms are accepted, through the
`offerTypes/virtualmachine/.../agreements/current` PUT (accepted true or false) or the
`agreements/.../sign` and `/cancel` POSTs. Errors use MarketplaceOrdering's `{"error": {code,
message}}` shape, with Azure's wording for unknown offers and never-signed agreements.
"""

from __future__ import annotations

import base64
import hashlib
import uuid

from aiohttp import web

from vmroll.emulator.arm_request import JSON, json_body, respond
from vmroll.emulator.errors import ArmError
from vmroll.emulator.images.entries import PurchasePlan
from vmroll.emulator.images.state import Agreement, ImageState, TermsKey, terms_key

_PROVIDER = "/subscriptions/{subscription}/providers/Microsoft.MarketplaceOrdering"
_TERMS = (
    _PROVIDER + "/offerTypes/{offer_type}/publishers/{publisher}/offers/{offer}/plans/{plan}"
    "/agreements/current"
)
_AGREEMENTS = _PROVIDER + "/agreements"
_AGREEMENT = _AGREEMENTS + "/{publisher}/offers/{offer}/plans/{plan}"


def _correlation() -> str:
    return f"Correlation Id: '{uuid.uuid4()}'"


def offer_not_found(publisher: str, offer: str) -> ArmError:
    return ArmError(
        400,
        "BadRequest",
        f"Offer with PublisherId: '{publisher}' and OfferId: '{offer}' not found. If this offer "
        "has been created recently, please allow up to 30 minutes for this offer to be available "
        f"for Purchase. If error persists, contact support. {_correlation()}.",
    )


class AgreementRoutes:
    """MarketplaceAgreements_* operations."""

    def __init__(self, state: ImageState) -> None:
        self._state = state

    def register(self, router: web.UrlDispatcher) -> None:
        router.add_get(_TERMS, self.get_terms, name="MarketplaceAgreements_Get")
        router.add_put(_TERMS, self.create_terms, name="MarketplaceAgreements_Create")
        router.add_post(_AGREEMENT + "/sign", self.sign, name="MarketplaceAgreements_Sign")
        router.add_post(_AGREEMENT + "/cancel", self.cancel, name="MarketplaceAgreements_Cancel")
        router.add_get(_AGREEMENT, self.get_agreement, name="MarketplaceAgreements_GetAgreement")
        router.add_get(_AGREEMENTS, self.list_agreements, name="MarketplaceAgreements_List")

    def _plan(self, request: web.Request) -> tuple[TermsKey, PurchasePlan]:
        info = request.match_info
        if "offer_type" in info and info["offer_type"].lower() != "virtualmachine":
            raise ArmError(
                400,
                "BadRequest",
                f"Offer type '{info['offer_type']}' is not supported; use 'virtualmachine'.",
            )
        plan = self._state.catalog.purchase_plan(info["publisher"], info["offer"], info["plan"])
        if plan is None:
            raise offer_not_found(info["publisher"], info["offer"])
        key = terms_key(info["subscription"], plan.publisher, plan.product, plan.name)
        return key, plan

    def _terms_body(self, subscription: str, key: TermsKey, purchase: PurchasePlan) -> JSON:
        publisher, product, plan = purchase.publisher, purchase.product, purchase.name
        terms = self._state.catalog.terms(publisher, product, plan)
        agreement = self._state.agreement(key)
        accepted = agreement is not None and agreement.accepted
        signature = base64.b32encode(hashlib.sha256("/".join(key).encode()).digest()[:20])
        return {
            "id": (
                f"/subscriptions/{subscription}/providers/Microsoft.MarketplaceOrdering"
                f"/offertypes/{publisher}/offers/{product}/plans/{plan}"
            ),
            "name": plan,
            "type": "Microsoft.MarketplaceOrdering/offertypes",
            "properties": {
                "publisher": publisher,
                "product": product,
                "plan": plan,
                "licenseTextLink": terms.license_text_link if terms else "",
                "privacyPolicyLink": terms.privacy_policy_link if terms else "",
                "marketplaceTermsLink": terms.marketplace_terms_link if terms else "",
                "retrieveDatetime": (
                    agreement.changed_at if accepted and agreement else self._state.clock()
                ).isoformat(),
                "signature": signature.decode(),
                "accepted": accepted,
            },
        }

    def _agreement_body(
        self, subscription: str, purchase: PurchasePlan, agreement: Agreement
    ) -> JSON:
        publisher, offer, plan = purchase.publisher, purchase.product, purchase.name
        agreement_id = (
            f"/subscriptions/{subscription}/providers/Microsoft.MarketplaceOrdering"
            f"/agreements/{publisher}/offers/{offer}/plans/{plan}"
        )
        properties: JSON = {
            "id": agreement_id,
            "publisher": publisher,
            "offer": offer,
            "state": "Active" if agreement.accepted else "Canceled",
        }
        properties["signDate" if agreement.accepted else "cancelDate"] = (
            agreement.changed_at.isoformat()
        )
        return {
            "id": agreement_id,
            "name": plan,
            "type": "Microsoft.MarketplaceOrdering/agreements",
            "properties": properties,
        }

    async def get_terms(self, request: web.Request) -> web.Response:
        key, plan = self._plan(request)
        return respond(self._terms_body(request.match_info["subscription"], key, plan))

    async def create_terms(self, request: web.Request) -> web.Response:
        key, plan = self._plan(request)
        body = await json_body(request, required=True)
        accepted = body.get("properties", {}).get("accepted")
        if not isinstance(accepted, bool):
            raise ArmError(
                400, "BadRequest", "properties.accepted must be true or false. " + _correlation()
            )
        self._state.set_agreement(key, accepted)
        return respond(self._terms_body(request.match_info["subscription"], key, plan))

    async def sign(self, request: web.Request) -> web.Response:
        return self._set(request, accepted=True)

    async def cancel(self, request: web.Request) -> web.Response:
        return self._set(request, accepted=False)

    def _set(self, request: web.Request, *, accepted: bool) -> web.Response:
        key, plan = self._plan(request)
        agreement = self._state.set_agreement(key, accepted)
        return respond(self._agreement_body(request.match_info["subscription"], plan, agreement))

    async def get_agreement(self, request: web.Request) -> web.Response:
        key, plan = self._plan(request)
        agreement = self._state.agreement(key)
        if agreement is None:
            raise ArmError(
                404,
                "NotFound",
                "Unable to find legal terms for this offer. Agreement has never been signed for "
                f"this offer. offer = '{plan.product}', sku = '{plan.name}',  {_correlation()}.",
            )
        return respond(self._agreement_body(request.match_info["subscription"], plan, agreement))

    async def list_agreements(self, request: web.Request) -> web.Response:
        subscription = request.match_info["subscription"]
        bodies = [
            self._agreement_body(subscription, plan, agreement)
            for key, agreement in self._state.agreements.items()
            if key[0] == subscription.lower()
            and (plan := self._state.catalog.purchase_plan(*key[1:])) is not None
        ]
        return respond({"value": bodies})
