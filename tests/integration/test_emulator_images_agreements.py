"""Marketplace terms through the real async azure-mgmt-marketplaceordering client over HTTPS."""

from __future__ import annotations

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.marketplaceordering.aio import MarketplaceOrderingAgreements
from azure.mgmt.marketplaceordering.models import AgreementTerms

from vmroll.emulator.server import Emulator

pytestmark = pytest.mark.integration

RABBIT = ("bitnami", "rabbitmq", "rabbitmq")


async def test_terms_start_unaccepted_and_can_be_accepted_and_revoked(
    emulator: Emulator, terms_client: MarketplaceOrderingAgreements
) -> None:
    agreements = terms_client.marketplace_agreements
    before = await agreements.get("virtualmachine", *RABBIT)
    before.accepted = True
    accepted = await agreements.create("virtualmachine", *RABBIT, before)
    after = await agreements.get("virtualmachine", *RABBIT)
    revoked_terms = AgreementTerms(accepted=False)
    revoked = await agreements.create("virtualmachine", *RABBIT, revoked_terms)

    assert before.name == "rabbitmq"
    assert (accepted.accepted, after.accepted, revoked.accepted) == (True, True, False)
    assert after.license_text_link.endswith("/bitnami/rabbitmq/rabbitmq.txt")
    assert after.id == (
        f"/subscriptions/{emulator.credentials.subscription_id}/providers/"
        "Microsoft.MarketplaceOrdering/offertypes/bitnami/offers/rabbitmq/plans/rabbitmq"
    )
    assert after.signature


async def test_sign_cancel_and_get_agreement(terms_client: MarketplaceOrderingAgreements) -> None:
    agreements = terms_client.marketplace_agreements
    with pytest.raises(ResourceNotFoundError) as never_signed:
        await agreements.get_agreement(*RABBIT)
    signed = await agreements.sign(*RABBIT)
    active = await agreements.get_agreement(*RABBIT)
    terms_after_sign = await agreements.get("virtualmachine", *RABBIT)
    canceled = await agreements.cancel(*RABBIT)
    listed = await agreements.list()

    assert never_signed.value.error is not None
    assert "Agreement has never been signed for this offer" in never_signed.value.error.message
    assert (signed.state, active.state, canceled.state) == ("Active", "Active", "Canceled")
    assert (signed.publisher, signed.offer, signed.name) == RABBIT
    assert signed.sign_date is not None
    assert canceled.cancel_date is not None
    assert terms_after_sign.accepted
    assert [(a.name, a.state) for a in listed.value] == [("rabbitmq", "Canceled")]


async def test_names_are_case_insensitive_and_answered_as_the_marketplace_spells_them(
    terms_client: MarketplaceOrderingAgreements,
) -> None:
    terms = await terms_client.marketplace_agreements.get(
        "virtualmachine", "Bitnami", "RabbitMQ", "RABBITMQ"
    )
    assert (terms.publisher, terms.product, terms.plan) == RABBIT


async def test_unknown_offer_is_refused_with_marketplace_wording(
    terms_client: MarketplaceOrderingAgreements,
) -> None:
    with pytest.raises(HttpResponseError) as caught:
        await terms_client.marketplace_agreements.get("virtualmachine", "nobody", "nothing", "x")
    assert caught.value.status_code == 400
    assert caught.value.error is not None
    assert caught.value.error.code == "BadRequest"
    assert caught.value.error.message.startswith(
        "Offer with PublisherId: 'nobody' and OfferId: 'nothing' not found."
    )


async def test_acceptance_survives_a_restart_with_state(
    emulator: Emulator, terms_client: MarketplaceOrderingAgreements
) -> None:
    await terms_client.marketplace_agreements.sign(*RABBIT)
    saved = emulator.context.images.snapshot()
    emulator.context.images.restore({})
    forgotten = await terms_client.marketplace_agreements.get("virtualmachine", *RABBIT)
    emulator.context.images.restore(saved)
    remembered = await terms_client.marketplace_agreements.get("virtualmachine", *RABBIT)

    assert (forgotten.accepted, remembered.accepted) == (False, True)
