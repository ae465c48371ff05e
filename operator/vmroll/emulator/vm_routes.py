"""The Microsoft.Compute virtualMachines REST surface: paths, status codes, headers, paging.

Handlers translate HTTP into calls on `VirtualMachines` and its answers back into what ARM sends:
201/200 with a body for PUT, 202 with `Azure-AsyncOperation`, `Location` and `Retry-After` for
deletes and actions, `nextLink` pages for lists. Route names are ARM's operationIds, which the
middleware uses to count requests and match fault rules.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from vmroll.emulator.arm_request import check_preconditions, json_body, not_found
from vmroll.emulator.catalog_request import api_version, location_not_available, resource_group
from vmroll.emulator.context import CONTEXT, EmulatorContext
from vmroll.emulator.errors import ArmError
from vmroll.emulator.images.resolve import ResolvedImage
from vmroll.emulator.lro import Operation
from vmroll.emulator.middleware import operation_name
from vmroll.emulator.validation import check_create_request, check_tags, check_vm_name
from vmroll.emulator.vm_model import VmRecord
from vmroll.emulator.vm_records import ListKey
from vmroll.emulator.vms import Accepting

JSON = dict[str, Any]
# The versions of the virtualMachines API the emulator answers (the installed SDK sends the last).
API_VERSIONS = ("2023-09-01", "2024-03-01", "2024-07-01", "2024-11-01", "2025-04-01", "2026-04-01")
RG = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}"
VM = RG + "/providers/Microsoft.Compute/virtualMachines/{vmName}"


def _accepting(request: web.Request) -> Accepting:
    return Accepting(
        api_version(request, API_VERSIONS, "virtualMachines"),
        operation_name(request),
        request.headers.get("User-Agent", ""),
    )


def _context(request: web.Request) -> EmulatorContext:
    return request.app[CONTEXT]


def _lro_headers(context: EmulatorContext, operation: Operation) -> dict[str, str]:
    headers = context.operations.urls(operation)
    if context.catalog.lro_retry_after_seconds:
        headers["Retry-After"] = str(context.catalog.lro_retry_after_seconds)
    return headers


def _record(request: web.Request) -> VmRecord:
    subscription_id, group = resource_group(request)
    name = request.match_info["vmName"]
    record = _context(request).vms.get(subscription_id, group, name)
    if record is None:
        raise not_found("Microsoft.Compute/virtualMachines", name, group)
    return record


async def create_or_update(request: web.Request) -> web.Response:
    context = _context(request)
    accepting = _accepting(request)
    subscription_id, group = resource_group(request)
    name = request.match_info["vmName"]
    body = await json_body(request)
    check_vm_name(name)
    check_tags(body.get("tags"))
    record = context.vms.get(subscription_id, group, name)
    check_preconditions(request, record.etag if record else None)
    repeated = context.vms.repeated(record, body) if record is not None else None
    if record is not None and repeated is not None:
        operation, status = repeated, 200
    elif record is not None:
        operation = context.vms.update(record, body, accepting)
        status = 200
    else:
        check_create_request(body)
        location = body["location"].replace(" ", "").lower()
        if context.catalog.location(location) is None:
            raise location_not_available(
                context.catalog, body["location"], "Microsoft.Compute/virtualMachines"
            )
        record, operation = context.vms.create(
            subscription_id, group, name, location, body, accepting
        )
        status = 201
    return web.json_response(
        record.answer(now=context.clock()), status=status, headers=_lro_headers(context, operation)
    )


async def update(request: web.Request) -> web.Response:
    context = _context(request)
    accepting = _accepting(request)
    record = _record(request)
    body = await json_body(request)
    check_tags(body.get("tags"))
    check_preconditions(request, record.etag)
    operation = context.vms.update(record, body, accepting)
    return web.json_response(
        record.answer(now=context.clock()), headers=_lro_headers(context, operation)
    )


async def get(request: web.Request) -> web.Response:
    api_version(request, API_VERSIONS, "virtualMachines")
    record = _record(request)
    expand = request.query.get("$expand", "")
    return web.json_response(
        record.answer(
            instance_view=expand == "instanceView",
            user_data=expand == "userData",
            now=_context(request).clock(),
        )
    )


async def instance_view(request: web.Request) -> web.Response:
    api_version(request, API_VERSIONS, "virtualMachines")
    record = _record(request)
    answer = record.answer(instance_view=True, now=_context(request).clock())
    return web.json_response(answer["properties"]["instanceView"])


def _page(
    request: web.Request,
    subscription_id: str,
    group: str | None = None,
    where: Callable[[VmRecord], bool] | None = None,
) -> web.Response:
    context = _context(request)
    token = request.query.get("$skiptoken")
    records, last = context.vms.list_page(
        subscription_id,
        group,
        None if token is None else _list_key(token),
        context.catalog.page_size,
        where,
    )
    expand = (
        request.query.get("$expand") == "instanceView"
        or request.query.get("statusOnly", "").lower() == "true"
    )
    now = context.clock()
    body: JSON = {"value": [r.answer(instance_view=expand, now=now) for r in records]}
    if last is not None:
        query = {k: v for k, v in request.query.items() if k != "$skiptoken"}
        next_url = request.url.with_query({**query, "$skiptoken": _skip_token(last)})
        body["nextLink"] = f"{context.base_url}{next_url.raw_path_qs}"
    return web.json_response(body)


def _skip_token(key: ListKey) -> str:
    """The next page's `$skiptoken`: the last key shown, opaque to clients as ARM's are."""
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


def _list_key(token: str) -> ListKey:
    try:
        group, name = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if isinstance(group, str) and isinstance(name, str):
            return group, name
    except (ValueError, TypeError):
        pass
    raise ArmError(
        400,
        "InvalidParameter",
        f"The value '{token}' of $skiptoken is invalid.",
        target="$skiptoken",
    )


async def list_by_resource_group(request: web.Request) -> web.Response:
    api_version(request, API_VERSIONS, "virtualMachines")
    subscription_id, group = resource_group(request)
    return _page(request, subscription_id, group)


async def list_all(request: web.Request) -> web.Response:
    api_version(request, API_VERSIONS, "virtualMachines")
    return _page(request, request.match_info["subscriptionId"])


async def list_by_location(request: web.Request) -> web.Response:
    api_version(request, API_VERSIONS, "virtualMachines")
    location = request.match_info["location"].replace(" ", "").lower()
    return _page(
        request, request.match_info["subscriptionId"], where=lambda r: r.location == location
    )


async def delete(request: web.Request) -> web.Response:
    context = _context(request)
    accepting = _accepting(request)
    subscription_id, group = resource_group(request)
    record = context.vms.get(subscription_id, group, request.match_info["vmName"])
    if record is None:
        return web.Response(status=204)
    operation = context.vms.delete(record, accepting)
    return web.Response(status=202, headers=_lro_headers(context, operation))


def _action(action: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        context = _context(request)
        accepting = _accepting(request)
        record = _record(request)
        reimage_to = None
        if action == "reimage":
            reimage_to = _reimage_target(context, record, await json_body(request))
        operation = context.vms.act(record, action, accepting, reimage_to)
        return web.Response(status=202, headers=_lro_headers(context, operation))

    return handler


async def generalize(request: web.Request) -> web.Response:
    context = _context(request)
    accepting = _accepting(request)
    context.vms.generalize(_record(request), accepting)
    return web.Response(status=200)


def _reimage_target(context: EmulatorContext, record: VmRecord, body: JSON) -> ResolvedImage:
    """Resolve the version a reimage installs: `exactVersion`, else the VM's current one."""
    current = {
        k: v
        for k, v in record.properties["storageProfile"]["imageReference"].items()
        if k != "exactVersion"
    }
    version = body.get("exactVersion") or record.exact_version
    wanted = dict(current)
    if "id" in current and "/galleries/" in current["id"].lower():
        base = current["id"].split("/versions/")[0]
        wanted["id"] = f"{base}/versions/{version}"
    elif "id" in current:
        if body.get("exactVersion"):
            raise ArmError(
                400,
                "InvalidParameter",
                "exactVersion can be specified only for VMs created from a platform or gallery "
                "image.",
                target="exactVersion",
            )
    else:
        wanted["version"] = version
    resolved = context.images.resolve_vm_image(
        record.subscription_id,
        record.location,
        wanted,
        record.body.get("plan"),
        record.resource_id,
    )
    reference = dict(current)
    if resolved.exact_version:
        reference["exactVersion"] = resolved.exact_version
    return dataclasses.replace(resolved, image_reference=reference)


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_put(VM, create_or_update, name="VirtualMachines_CreateOrUpdate")
    router.add_patch(VM, update, name="VirtualMachines_Update")
    router.add_get(VM, get, name="VirtualMachines_Get")
    router.add_delete(VM, delete, name="VirtualMachines_Delete")
    router.add_get(VM + "/instanceView", instance_view, name="VirtualMachines_InstanceView")
    router.add_post(f"{VM}/generalize", generalize, name="VirtualMachines_Generalize")
    for action in ("start", "powerOff", "deallocate", "restart", "reimage"):
        name = f"VirtualMachines_{action[0].upper()}{action[1:]}"
        router.add_post(f"{VM}/{action}", _action(action), name=name)
    router.add_get(
        RG + "/providers/Microsoft.Compute/virtualMachines",
        list_by_resource_group,
        name="VirtualMachines_List",
    )
    router.add_get(
        "/subscriptions/{subscriptionId}/providers/Microsoft.Compute/virtualMachines",
        list_all,
        name="VirtualMachines_ListAll",
    )
    router.add_get(
        "/subscriptions/{subscriptionId}/providers/Microsoft.Compute/locations/{location}"
        "/virtualMachines",
        list_by_location,
        name="VirtualMachines_ListByLocation",
    )
