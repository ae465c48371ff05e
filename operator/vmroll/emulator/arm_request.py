"""Reading and answering an ARM request the way ARM does, for every route of the emulator.

One module for the core's VM routes and the image side alike, so that every route answers the
same codes and wording for the same mistakes: a resource group that does not exist, a resource
that does not, a body that is not a JSON object, a required parameter left out, an `If-Match`
that does not match. ARM treats query option names and resource names case-insensitively and
pages collections with an absolute `nextLink` that carries a `$skiptoken`.

It imports nothing of the emulator but its errors: what it must know of the catalog (which
resource groups exist) is handed in as a `ResourceGroups` lookup, built by the core
(catalog_request.py) and injected into the image side, so that the image side never imports
the core.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from aiohttp import web

from vmroll.emulator.errors import ArmError

JSON = dict[str, Any]

COMPUTE = "/subscriptions/{subscription}/providers/Microsoft.Compute"
RESOURCE_GROUP = "/subscriptions/{subscription}/resourceGroups/{resource_group}"

ResourceGroups = Callable[[str, str], str | None]
"""(subscription id, resource group name) -> the group's name as the catalog spells it, or None
when the subscription has no such group."""


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


def existing_resource_group(groups: ResourceGroups, subscription_id: str, name: str) -> str:
    """The group's name as the catalog spells it, or ARM's 404 for a group that does not exist."""
    found = groups(subscription_id, name)
    if found is None:
        raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{name}' could not be found.")
    return found


def require_resource_group(groups: ResourceGroups, request: web.Request) -> None:
    """ARM's 404 for an image route's path naming a resource group that does not exist."""
    info = request.match_info
    existing_resource_group(groups, info["subscription"], info["resource_group"])


def not_found(resource_type: str, name: str, resource_group: str) -> ArmError:
    """ARM's answer to a request for a resource that does not exist in an existing group."""
    return ArmError(
        404,
        "ResourceNotFound",
        f"The Resource '{resource_type}/{name}' under resource group '{resource_group}' was not "
        "found. For more details please go to https://aka.ms/ARMResourceNotFoundFix",
    )


async def json_body(request: web.Request, *, required: bool = False) -> JSON:
    """The request's JSON object; `{}` when there is no body, unless the body is `required`
    (optional bodies exist, e.g. reimage's)."""
    if not required and not request.body_exists:
        return {}
    try:
        body = await request.json()
    except ValueError:
        raise ArmError(
            400,
            "InvalidRequestContent",
            "The request content was invalid and could not be deserialized.",
        ) from None
    if not isinstance(body, dict):
        raise ArmError(400, "InvalidRequestContent", "The request content must be a JSON object.")
    return body


def required_parameter(where: Mapping[str, Any], prefix: str, field: str) -> str:
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


def check_preconditions(request: web.Request, etag: int | None) -> None:
    """If-None-Match `*` refuses an existing resource; If-Match must name its current ETag."""
    if request.headers.get("If-None-Match") == "*" and etag is not None:
        raise ArmError(
            412,
            "PreconditionFailed",
            "The resource already exists and the If-None-Match header is '*'.",
        )
    if_match = request.headers.get("If-Match")
    if if_match and (etag is None or (if_match != "*" and if_match != f'"{etag}"')):
        raise ArmError(
            412,
            "PreconditionFailed",
            f"The condition '{if_match}' in the If-Match header does not match the resource.",
        )
