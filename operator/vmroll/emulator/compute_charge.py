"""What a Compute request is charged against: its policy, subscription, region and VM.

The policy follows from the route (ARM's operationId); the region is the VM's own, else the
region a create asks for, else the path's location, else the resource group's; the VM is the
one the path names, or the one a polled operation works on. A subscription-wide list
(`VirtualMachines_ListAll`) names no region; the emulator charges it to a subscription-wide
bucket (Microsoft's page does not say which region's bucket it draws on). A request whose
subscription or resource group the catalog does not know is not charged: ARM refuses it first.
"""

from __future__ import annotations

from aiohttp import web

from vmroll.emulator.compute_throttling import (
    HEADER,
    OPERATION_POLICIES,
    PROVIDER,
    Where,
    header_value,
)
from vmroll.emulator.context import EmulatorContext
from vmroll.emulator.errors import ArmError
from vmroll.emulator.vm_model import vm_id


async def _where(context: EmulatorContext, request: web.Request) -> Where | None:
    info = request.match_info
    subscription_id = info.get("subscriptionId", "")
    subscription = context.catalog.subscription(subscription_id)
    if subscription is None:
        return None
    if "location" in info:
        target = None
        if "operationId" in info:
            operation = context.operations.get(info["operationId"])
            target = operation.target if operation is not None else None
        return Where(subscription_id, info["location"].replace(" ", "").lower(), target)
    if "resourceGroupName" not in info:
        return Where(subscription_id, "", None)
    group = subscription.resource_group(info["resourceGroupName"])
    if group is None:
        return None
    if "vmName" not in info:
        return Where(subscription_id, group.location, None)
    record = context.vms.get(subscription_id, group.name, info["vmName"])
    if record is not None:
        return Where(subscription_id, record.location, record.resource_id)
    region = group.location
    if request.method == "PUT" and request.body_exists:
        try:
            body = await request.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("location"), str):
            region = body["location"].replace(" ", "").lower()
    return Where(subscription_id, region, vm_id(subscription_id, group.name, info["vmName"]))


async def charge(context: EmulatorContext, request: web.Request, operation: str) -> dict[str, str]:
    """Charge the request to its Compute policy; the remaining-resource header to answer with.

    Raises Compute's 429 (`ArmError`) when a bucket of the policy is empty.
    """
    policy = OPERATION_POLICIES.get(operation)
    throttling = context.catalog.throttling
    if policy is None or not (throttling.enabled and throttling.compute.enabled):
        return {}
    where = await _where(context, request)
    if where is None:
        return {}
    try:
        charges = context.compute_throttler.charge(policy, where, context.clock())
    except ArmError:
        context.counters.record_throttle(f"{PROVIDER}/{policy}")
        raise
    return {HEADER: header_value(charges)}
