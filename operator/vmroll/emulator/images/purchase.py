"""Whether a subscription may create a VM from a paid image: plan given, matching, terms accepted.

Azure refuses a paid image (or a custom image built from one) without the request's purchase
plan (`VMMarketplaceInvalidInput`), an unknown plan or one whose terms the subscription has not
accepted (`ResourcePurchaseValidationFailed`, 400, with Marketplace's wording).
"""

from __future__ import annotations

import uuid
from typing import Any

from vmroll.emulator.arm_request import required_parameter
from vmroll.emulator.errors import ArmError
from vmroll.emulator.images.entries import PurchasePlan
from vmroll.emulator.images.state import ImageState, terms_key


def check_purchase(
    state: ImageState,
    subscription_id: str,
    sold: PurchasePlan | None,
    requested: dict[str, Any] | None,
    vm_id: str | None,
) -> None:
    """Plan present and matching, and the plan's terms accepted by the subscription."""
    if requested is None:
        if sold is None:
            return
        vm = f" VM: '{vm_id}'." if vm_id else ""
        raise ArmError(
            400,
            "VMMarketplaceInvalidInput",
            "Creating a virtual machine from Marketplace image or a custom image sourced from a "
            f"Marketplace image requires Plan information in the request.{vm}",
        )
    asked = PurchasePlan(
        name=required_parameter(requested, "plan", "name"),
        product=required_parameter(requested, "plan", "product"),
        publisher=required_parameter(requested, "plan", "publisher"),
    )
    if state.catalog.purchase_plan(asked.publisher, asked.product, asked.name) is None:
        raise _purchase_failed(
            f"Offer with PublisherId: {asked.publisher} and OfferId: {asked.product} not found. If "
            "this offer has been created recently, please allow upto 30 minutes for this offer to "
            "be available for Purchase. If error persists, contact support."
        )
    if sold is None or not sold.matches(asked):
        image_plan = "none" if sold is None else f"{sold.publisher}:{sold.product}:{sold.name}"
        raise ArmError(
            400,
            "InvalidParameter",
            f"The plan {asked.publisher}:{asked.product}:{asked.name} does not match the image's "
            f"purchase plan ({image_plan}).",
            target="plan",
        )
    terms = state.catalog.terms(sold.publisher, sold.product, sold.name)
    key = terms_key(subscription_id, sold.publisher, sold.product, sold.name)
    agreement = state.agreement(key)
    if terms is not None and (agreement is None or not agreement.accepted):
        raise _purchase_failed(
            f"You have not accepted the legal terms on this subscription: '{subscription_id}' for "
            "this plan. Before the subscription can be used, you need to accept the legal terms "
            "of the image. To read and accept legal terms, use the Azure CLI commands described "
            "at https://go.microsoft.com/fwlink/?linkid=2110637 or the PowerShell commands "
            "available at https://go.microsoft.com/fwlink/?linkid=862451. Alternatively, "
            "deploying via the Azure portal provides a UI experience for reading and accepting "
            f"the legal terms. Offer details: publisher='{sold.publisher}' offer = "
            f"'{sold.product}', sku = '{sold.name}', Correlation Id: '{uuid.uuid4()}'."
        )


def _purchase_failed(detail: str) -> ArmError:
    return ArmError(
        400,
        "ResourcePurchaseValidationFailed",
        f"User failed validation to purchase resources. Error message: '{detail}'",
    )
