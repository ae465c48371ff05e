"""ARM wire helpers shared by the image routes: JSON answers, query options, paging, ids, 404s.

Resource groups are the emulator core's (its catalog, on the application's context), so a
gallery or managed image path naming an unknown group answers `ResourceGroupNotFound` as ARM does.

ARM treats query option names and resource names case-insensitively and pages collections with
an absolute `nextLink` that carries a `$skiptoken`; each route reads and writes them the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiohttp import web

from vmroll.emulator.context import CONTEXT
from vmroll.emulator.errors import ArmError

JSON = dict[str, Any]

COMPUTE = "/subscriptions/{subscription}/providers/Microsoft.Compute"
RESOURCE_GROUP = "/subscriptions/{subscription}/resourceGroups/{resource_group}"


def respond(body: JSON | list[JSON], status: int = 200) -> web.Response:
    return web.json_response(body, status=status)


def query(request: web.Request, name: str) -> str | None:
    """A query option by case-insensitive name (`$top`, `$TOP`, `$Top` are one option)."""
    wanted = name.lower()
    return next((v for k, v in request.query.items() if k.lower() == wanted), None)


def page(request: web.Request, items: Sequence[JSON], page_size: int) -> JSON:
    """One page of a `{value, nextLink}` collection, starting at the request's `$skiptoken`."""
    token = query(request, "$skiptoken") or "0"
    if not token.isdigit():
        message = f"The value '{token}' of $skiptoken is invalid."
        raise ArmError(400, "InvalidParameter", message, target="$skiptoken")
    start = int(token)
    body: JSON = {"value": list(items[start : start + page_size])}
    if start + page_size < len(items):
        others = {k: v for k, v in request.query.items() if k.lower() != "$skiptoken"}
        url = request.url.with_query({**others, "$skiptoken": str(start + page_size)})
        body["nextLink"] = str(url)
    return body


def require_resource_group(request: web.Request) -> None:
    """ARM's 404 for a path naming a resource group the emulator's catalog does not have."""
    info = request.match_info
    subscription = request.app[CONTEXT].catalog.subscription(info["subscription"])
    if subscription is None or subscription.resource_group(info["resource_group"]) is None:
        raise ArmError(
            404,
            "ResourceGroupNotFound",
            f"Resource group '{info['resource_group']}' could not be found.",
        )


def resource_not_found(resource_type: str, name: str, resource_group: str) -> ArmError:
    """ARM's answer to a GET of a resource that does not exist in an existing group."""
    return ArmError(
        404,
        "ResourceNotFound",
        f"The Resource '{resource_type}/{name}' under resource group '{resource_group}' was not "
        "found. For more details please go to https://aka.ms/ARMResourceNotFoundFix",
    )


async def read_json(request: web.Request, what: str) -> JSON:
    """The request's JSON object body, or ARM's 400 for a body that is not one."""
    try:
        raw = await request.json()
    except ValueError:
        raise ArmError(
            400, "InvalidRequestContent", f"The {what} could not be parsed as JSON."
        ) from None
    if not isinstance(raw, dict):
        raise ArmError(400, "InvalidRequestContent", f"The {what} must be a JSON object.")
    return raw


def required_parameter(where: dict[str, Any], prefix: str, field: str) -> str:
    """A required string of a request body, or Compute's 400 naming `prefix.field`."""
    value = where.get(field)
    if not isinstance(value, str) or not value:
        raise ArmError(
            400,
            "InvalidParameter",
            f"Required parameter '{prefix}.{field}' is missing (null).",
            target=f"{prefix}.{field}",
        )
    return value
