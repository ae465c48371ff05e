"""Assembling and running the emulator: the aiohttp app over HTTPS, its files, its lifecycle.

`running_emulator()` is the one way to run it, in-process (tests, benchmarks) or from
`vmroll emulator serve`: it issues the TLS certificate, starts listening (port 0 picks a free
port), writes `ca.crt` and `credentials.json` into the data directory, restores `--state`, and on
exit saves the state and stops. The `Emulator` it yields exposes typed credentials and admin
helpers so tests need not speak the admin API by hand.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Middleware
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from vmroll.emulator import admin, compute_info, network, state, vm_routes
from vmroll.emulator.admin import vm_summary
from vmroll.emulator.captures import Captures
from vmroll.emulator.catalog import Catalog, Faults, load_catalog
from vmroll.emulator.catalog_request import resource_groups
from vmroll.emulator.compute_throttling import ComputeThrottler
from vmroll.emulator.context import CONTEXT, EmulatorContext
from vmroll.emulator.faults import FaultInjector
from vmroll.emulator.identity import Identity
from vmroll.emulator.images.service import ImageService
from vmroll.emulator.lro import OperationStore
from vmroll.emulator.middleware import arm_middleware, is_arm_path
from vmroll.emulator.throttling import Throttler
from vmroll.emulator.tls import ServerTls, server_tls
from vmroll.emulator.vms import VirtualMachines

Clock = Callable[[], float]


class EmulatorCredentials(BaseModel):
    """What `credentials.json` holds: everything a client needs to reach this emulator."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)

    tenant_id: str
    client_id: str
    client_secret: str
    subscription_id: str
    authority_host: str
    resource_manager_endpoint: str
    ca_bundle: str
    resource_group: str
    location: str
    subnet_id: str
    admin_token: str
    """`Authorization: Bearer <adminToken>` opens the admin API (`/_emulator/`)."""

    @property
    def admin_headers(self) -> dict[str, str]:
        return admin.authorization_header(self.admin_token)

    @property
    def credential_scope(self) -> str:
        return "https://management.azure.com/.default"


def _credentials(
    context: EmulatorContext, base_url: str, ca_path: Path, principal: str
) -> EmulatorCredentials:
    catalog = context.catalog
    chosen = next(p for p in catalog.principals if principal in (p.name, p.client_id))
    subscription = catalog.subscriptions[0]
    group = next(g for g in subscription.resource_groups if g.virtual_networks)
    vnet = group.virtual_networks[0]
    subnet_id = (
        f"/subscriptions/{subscription.subscription_id}/resourceGroups/{group.name}/providers/"
        f"Microsoft.Network/virtualNetworks/{vnet.name}/subnets/{vnet.subnets[0]}"
    )
    return EmulatorCredentials(
        tenant_id=catalog.tenant_id,
        client_id=chosen.client_id,
        client_secret=chosen.client_secret or "",
        subscription_id=subscription.subscription_id,
        authority_host=base_url,
        resource_manager_endpoint=base_url,
        ca_bundle=str(ca_path),
        resource_group=group.name,
        location=group.location,
        subnet_id=subnet_id,
        admin_token=context.admin_token,
    )


class Emulator:
    """A running emulator: its address, credentials, and helpers over its live state."""

    def __init__(self, context: EmulatorContext, base_url: str, ca_path: Path) -> None:
        self.context = context
        self.base_url = base_url
        self.ca_path = ca_path
        self.credentials = _credentials(
            context, base_url, ca_path, context.catalog.principals[0].name
        )

    def credentials_for(self, principal: str) -> EmulatorCredentials:
        """Credentials of another catalog principal (by name or client id)."""
        return _credentials(self.context, self.base_url, self.ca_path, principal)

    def issue_token(self, principal: str, lifetime: float | None = None) -> str:
        chosen = next(
            p for p in self.context.catalog.principals if principal in (p.name, p.client_id)
        )
        return self.context.identity.issue(chosen, "https://management.azure.com", lifetime)

    def request_counts(self) -> dict[str, Any]:
        return self.context.counters.snapshot()

    def reset_counters(self) -> None:
        self.context.counters.reset()

    def set_faults(self, faults: Faults) -> None:
        self.context.faults.replace(faults)

    def set_list_lag(self, seconds: float) -> None:
        self.context.vms.list_lag.seconds = seconds

    def tag_peaks(self) -> dict[str, dict[str, int]]:
        """The most VMs that carried each tag value at once (consistency.TagPeaks)."""
        return self.context.vms.peaks.snapshot()

    def vms(self) -> list[dict[str, Any]]:
        self.context.operations.settle()
        return [vm_summary(r) for r in self.context.vms.records.values()]

    def implied_resources(self) -> list[dict[str, Any]]:
        self.context.operations.settle()
        return list(self.context.vms.resources.values())


def build_context(catalog: Catalog, data_dir: Path, clock: Clock = time.time) -> EmulatorContext:
    faults = FaultInjector(catalog.faults)
    images = ImageService(
        catalog.images, resource_groups=resource_groups(catalog), page_size=catalog.page_size
    )
    operations = OperationStore(clock)
    vms = VirtualMachines(catalog, images, operations, faults, clock)
    return EmulatorContext(
        catalog=catalog,
        identity=Identity(catalog, data_dir, clock),
        throttler=Throttler(catalog.throttling),
        compute_throttler=ComputeThrottler(catalog.throttling.compute),
        faults=faults,
        images=images,
        operations=operations,
        vms=vms,
        captures=Captures(catalog, images, operations, vms),
        clock=clock,
        admin_token=admin.load_or_create_token(data_dir),
    )


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _persisting(path: Path) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        # Saved even when no answer goes out: a `lostResponse` fault applies the write first.
        try:
            return await handler(request)
        finally:
            if request.method != "GET" and (
                is_arm_path(request.path) or "/_emulator/" in request.path
            ):
                state.save(request.app[CONTEXT], path)

    return middleware


def build_app(context: EmulatorContext, state_file: Path | None = None) -> web.Application:
    middlewares: list[Middleware] = [arm_middleware]
    if state_file is not None:
        middlewares.insert(0, _persisting(state_file))
    middlewares.insert(0, admin.admin_auth)
    app = web.Application(middlewares=middlewares, client_max_size=4 * 1024 * 1024)
    app[CONTEXT] = context
    admin.add_routes(app.router)
    context.identity.add_routes(app.router)
    context.operations.add_routes(app.router, lambda: context.catalog.lro_retry_after_seconds)
    vm_routes.add_routes(app.router)
    compute_info.add_routes(app.router)
    network.add_routes(app.router, context.vms.resources)
    context.images.add_routes(app.router, context.captures)
    return app


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", "::", ""):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def _prepare(
    data_dir: Path, catalog: Catalog | Path | None, state_file: Path | None, host: str, clock: Clock
) -> tuple[EmulatorContext, ServerTls]:
    """The blocking part of starting: files, keys, catalog and saved state."""
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    loaded = catalog if isinstance(catalog, Catalog) else load_catalog(catalog)
    context = build_context(loaded, data_dir, clock)
    if state_file is not None:
        state.load(context, state_file)
    return context, server_tls(data_dir, host)


def _write_credentials(path: Path, credentials: EmulatorCredentials) -> None:
    # Written aside and renamed into place: whoever waits for the file never reads it half-written.
    staging = path.with_name(f".{path.name}.tmp")
    staging.touch(mode=0o600)
    staging.write_text(credentials.model_dump_json(by_alias=True, indent=2) + "\n")
    staging.replace(path)


@asynccontextmanager
async def running_emulator(
    data_dir: Path,
    *,
    catalog: Catalog | Path | None = None,
    state_file: Path | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    clock: Clock = time.time,
    access_log: logging.Logger | None = None,
) -> AsyncIterator[Emulator]:
    """Run an emulator until the block exits; see the module docstring."""
    context, tls = _prepare(data_dir, catalog, state_file, host, clock)
    runner = web.AppRunner(
        build_app(context, state_file),
        access_log=access_log,
        access_log_format='%a "%r" %s %b %Tfs',
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port, ssl_context=tls.context)
        await site.start()
        bound_port = runner.addresses[0][1]
        base_url = f"https://{_url_host(host)}:{bound_port}"
        context.base_url = context.identity.base_url = context.operations.base_url = base_url
        emulator = Emulator(context, base_url, tls.ca_path)
        _write_credentials(data_dir / "credentials.json", emulator.credentials)
        yield emulator
    finally:
        if state_file is not None:
            state.save(context, state_file)
        await runner.cleanup()
