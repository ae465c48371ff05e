"""The operator's kopf registration point: settings at startup, shared state, cleanup.

Importing this module registers every vmroll handler. Settings are set once here: kopf's
bookkeeping goes to annotations under vmroll.io (never into the status vmroll owns), the
finalizer is vmroll's, and only warnings are posted as events from logs (vmroll posts its own
events for VMs created and deleted). Startup waits until the API server serves vmroll's
resources (discovery.py), so that kopf's one scan finds them. With `--metrics`, the Prometheus
endpoint starts here and stops in cleanup, so that SIGTERM closes it with the operator; an
address it cannot listen on stops the operator at startup. The heap's free pages go back to the
system every few seconds from startup to cleanup (heap_trim.py).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import kopf
from aiohttp import web

from vmroll.handlers import (  # noqa: F401  (importing registers them)
    accounts,
    captures,
    kube_login,
    policies,
    pools,
)
from vmroll.handlers.discovery import wait_until_served
from vmroll.handlers.heap_trim import start_trimming
from vmroll.handlers.kube import KubeApi, load_api_client
from vmroll.handlers.run_config import RunConfig
from vmroll.handlers.state import OperatorState
from vmroll.metrics.server import serve_metrics

FINALIZER = "vmroll.io/finalizer"
ANNOTATION_PREFIX = "vmroll.io"


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    settings.persistence.finalizer = FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(
        prefix=ANNOTATION_PREFIX
    )
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=ANNOTATION_PREFIX, key="last-handled-configuration"
    )
    settings.posting.level = logging.WARNING
    # azure-core logs every request and response at INFO: far too much for an operator's log.
    logging.getLogger("azure").setLevel(logging.WARNING)
    settings.watching.server_timeout = 300
    config: RunConfig = memo.get("config") or RunConfig()
    api_client = load_api_client()
    await wait_until_served(api_client)
    state = OperatorState(config=config, kube=KubeApi(api_client))
    memo.state = state
    memo.heap_trim = start_trimming()
    if config.metrics is not None:
        address = config.metrics
        try:
            memo.metrics_server = await serve_metrics(
                state.metrics.registry, address.host, address.port
            )
        except OSError as error:
            # A port in use does not free itself: exit (and be restarted) rather than retry.
            raise kopf.PermanentError(
                f"cannot serve metrics on {address.host}:{address.port}: {error.strerror}; "
                "free the port or change --metrics"
            ) from error


@kopf.on.cleanup()
async def close(memo: kopf.Memo, **_: Any) -> None:
    trimming: asyncio.Task[None] | None = memo.get("heap_trim")
    if trimming is not None:
        trimming.cancel()
    server: web.AppRunner | None = memo.get("metrics_server")
    if server is not None:
        await server.cleanup()
    state: OperatorState | None = memo.get("state")
    if state is not None:
        await state.azure.close()
