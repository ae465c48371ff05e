"""The emulator's own control surface under `/_emulator/`, a path ARM never uses.

Tests, demos and benchmarks read what happened (requests per operation, 429s served, VMs and
their implied resources, operations) and steer what happens next (faults, counters, throttling
buckets). Every admin request carries `Authorization: Bearer <adminToken>`, the token written
with the client secret to the owner-only `credentials.json`: loopback is shared by every local
user, and without it any of them could inject faults or wipe the VMs of someone else's test.
The token is kept in the data directory, so an emulator restarted on it keeps its token.
"""

from __future__ import annotations

import hmac
import secrets
from pathlib import Path
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from vmroll.emulator.catalog import Faults
from vmroll.emulator.context import CONTEXT, EmulatorContext
from vmroll.emulator.invariants import WatchSpec
from vmroll.emulator.middleware import ADMIN_PREFIX, Handler
from vmroll.emulator.vm_model import VmRecord

PREFIX = "/_emulator"
TOKEN_FILE = "admin.token"


def load_or_create_token(data_dir: Path) -> str:
    """The data directory's admin token, created (owner-only) on first use."""
    path = data_dir / TOKEN_FILE
    if path.exists():
        token = path.read_text().strip()
        if token:
            return token
    token = secrets.token_urlsafe(32)
    path.touch(mode=0o600)
    path.write_text(token + "\n")
    return token


def authorization_header(token: str) -> dict[str, str]:
    """What a client sends to the admin API."""
    return {"Authorization": f"Bearer {token}"}


def _authorized(request: web.Request, token: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.encode(), token.encode())


@web.middleware
async def admin_auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    """401 for an admin request without the data directory's token; other paths pass."""
    if request.path.startswith(ADMIN_PREFIX) and not _authorized(
        request, request.app[CONTEXT].admin_token
    ):
        return web.json_response(
            {
                "error": {
                    "code": "AdminTokenRequired",
                    "message": "send 'Authorization: Bearer <adminToken>' with the adminToken "
                    "of the emulator's credentials.json",
                }
            },
            status=401,
            headers={"WWW-Authenticate": 'Bearer realm="vmroll-emulator-admin"'},
        )
    return await handler(request)


def vm_summary(record: VmRecord) -> dict[str, Any]:
    return {
        "id": record.resource_id,
        "name": record.name,
        "resourceGroup": record.resource_group,
        "location": record.location,
        "provisioningState": record.provisioning_state,
        "powerState": record.power_state,
        "vmSize": record.properties["hardwareProfile"]["vmSize"],
        "exactVersion": record.exact_version,
        "healthy": record.power_state == "running" and not record.boots_unhealthy,
        "tags": record.body.get("tags", {}),
    }


def _context(request: web.Request) -> EmulatorContext:
    return request.app[CONTEXT]


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "baseUrl": _context(request).base_url})


async def requests(request: web.Request) -> web.Response:
    return web.json_response(_context(request).counters.snapshot())


async def reset_requests(request: web.Request) -> web.Response:
    _context(request).counters.reset()
    return web.json_response(_context(request).counters.snapshot())


async def reset_throttling(request: web.Request) -> web.Response:
    _context(request).throttler.reset()
    _context(request).compute_throttler.reset()
    return web.json_response({"reset": True})


async def reset_resources(request: web.Request) -> web.Response:
    """Forget every VM, implied resource and operation; counters and buckets start afresh."""
    context = _context(request)
    context.vms.clear()
    context.vms.resources.clear()
    context.operations.clear()
    context.vms.invariants.clear()
    context.counters.reset()
    context.throttler.reset()
    context.compute_throttler.reset()
    return web.json_response({"reset": True})


async def vms(request: web.Request) -> web.Response:
    context = _context(request)
    context.operations.settle()
    records = sorted(context.vms.records.values(), key=lambda r: r.resource_id.lower())
    return web.json_response({"value": [vm_summary(r) for r in records]})


async def resources(request: web.Request) -> web.Response:
    context = _context(request)
    context.operations.settle()
    records = sorted(context.vms.records.values(), key=lambda r: r.resource_id.lower())
    return web.json_response(
        {
            "virtualMachines": [vm_summary(r) for r in records],
            "implied": sorted(context.vms.resources.values(), key=lambda r: str(r["id"]).lower()),
        }
    )


async def operations(request: web.Request) -> web.Response:
    context = _context(request)
    context.operations.settle()
    return web.json_response({"value": context.operations.snapshot()})


async def get_faults(request: web.Request) -> web.Response:
    return web.json_response(_context(request).faults.describe())


async def put_faults(request: web.Request) -> web.Response:
    try:
        faults = Faults.model_validate(await request.json())
    except (ValueError, ValidationError) as exc:
        return web.json_response(
            {"error": {"code": "InvalidFaults", "message": str(exc)}}, status=400
        )
    _context(request).faults.replace(faults)
    return web.json_response(_context(request).faults.describe())


async def get_consistency(request: web.Request) -> web.Response:
    return web.json_response({"listLagSeconds": _context(request).vms.list_lag.seconds})


async def put_consistency(request: web.Request) -> web.Response:
    try:
        body = await request.json()
        lag = float(body["listLagSeconds"])
        if lag < 0:
            raise ValueError("listLagSeconds must not be negative")
    except (ValueError, KeyError, TypeError) as exc:
        return web.json_response(
            {"error": {"code": "InvalidConsistency", "message": f"listLagSeconds: {exc}"}},
            status=400,
        )
    _context(request).vms.list_lag.seconds = lag
    return web.json_response({"listLagSeconds": lag})


async def peaks(request: web.Request) -> web.Response:
    """The most VMs that carried each tag value at once, counted as writes were applied."""
    context = _context(request)
    context.operations.settle()
    return web.json_response({"tags": context.vms.peaks.snapshot()})


async def reset_peaks(request: web.Request) -> web.Response:
    _context(request).vms.peaks.clear()
    return web.json_response({"tags": {}})


async def get_invariants(request: web.Request) -> web.Response:
    """Each watch's record: peaks, minimum available, violations, writes to unowned VMs."""
    context = _context(request)
    context.operations.settle()
    return web.json_response(context.vms.invariants.report())


async def post_invariants(request: web.Request) -> web.Response:
    """Register (or reset) a watch named in the body; see vmroll.emulator.invariants."""
    context = _context(request)
    try:
        spec = WatchSpec.model_validate(await request.json())
    except (ValueError, ValidationError) as exc:
        return web.json_response(
            {"error": {"code": "InvalidWatch", "message": str(exc)}}, status=400
        )
    context.operations.settle()
    watch = context.vms.invariants.register(spec, context.vms.records.values(), context.clock())
    return web.json_response(watch.report(), status=201)


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get(f"{PREFIX}/health", health)
    router.add_get(f"{PREFIX}/requests", requests)
    router.add_post(f"{PREFIX}/requests/reset", reset_requests)
    router.add_post(f"{PREFIX}/throttling/reset", reset_throttling)
    router.add_post(f"{PREFIX}/reset", reset_resources)
    router.add_get(f"{PREFIX}/vms", vms)
    router.add_get(f"{PREFIX}/resources", resources)
    router.add_get(f"{PREFIX}/operations", operations)
    router.add_get(f"{PREFIX}/faults", get_faults)
    router.add_put(f"{PREFIX}/faults", put_faults)
    router.add_get(f"{PREFIX}/consistency", get_consistency)
    router.add_put(f"{PREFIX}/consistency", put_consistency)
    router.add_get(f"{PREFIX}/peaks", peaks)
    router.add_post(f"{PREFIX}/peaks/reset", reset_peaks)
    router.add_get(f"{PREFIX}/invariants", get_invariants)
    router.add_post(f"{PREFIX}/invariants", post_invariants)
