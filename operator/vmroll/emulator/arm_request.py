"""Reading an ARM request the way ARM does: api-version, resource group, JSON body, ETags.

Shared by the emulator's resource routes so every one answers the same codes and wording for
the same mistakes (an api-version the type does not serve, a missing resource group, a body that
is not a JSON object, an `If-Match` that does not match).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiohttp import web

from vmroll.emulator.context import CONTEXT
from vmroll.emulator.errors import ArmError


def api_version(request: web.Request, supported: Sequence[str], resource_type: str) -> str:
    """The request's api-version (the middleware made sure there is one), if this type serves it."""
    version = request.query["api-version"]
    if version not in supported:
        locations = ", ".join(loc.name for loc in request.app[CONTEXT].catalog.locations)
        raise ArmError(
            400,
            "NoRegisteredProviderFound",
            f"No registered resource provider found for API version '{version}' and type "
            f"'{resource_type}'. The supported api-versions are "
            f"'{', '.join(supported)}'. The supported locations are '{locations}'.",
        )
    return version


def resource_group(request: web.Request) -> tuple[str, str]:
    """(subscription id, resource group name as the catalog spells it) of the request's path."""
    subscription_id = request.match_info["subscriptionId"]
    name = request.match_info["resourceGroupName"]
    subscription = request.app[CONTEXT].catalog.subscription(subscription_id)
    group = subscription.resource_group(name) if subscription is not None else None
    if group is None:
        raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{name}' could not be found.")
    return subscription_id, group.name


def not_found(resource_type: str, name: str, group: str) -> ArmError:
    return ArmError(
        404,
        "ResourceNotFound",
        f"The Resource '{resource_type}/{name}' under resource group '{group}' was not found. "
        "For more details please go to https://aka.ms/ARMResourceNotFoundFix",
    )


async def json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object, `{}` when there is no body (optional bodies, e.g. reimage)."""
    if not request.can_read_body:
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
