"""Wait, at startup, until the API server serves vmroll's resources, before kopf looks for them.

kopf lists the API server's discovery once when it starts and afterwards rescans a group only
when one of its CustomResourceDefinitions changes. A kube-apiserver that has just restarted
answers /readyz before its discovery lists the custom resources again; an operator started in
that window (restarted with the control plane, or rescheduled at that moment) logs "Unresolved
resources cannot be served" and then serves no pool at all, for good, since the CRDs themselves
never change. Found by the chaos suite (tests/e2e/test_chaos.py). So the startup activity, which
kopf runs before any watch, waits until discovery lists all of vmroll's resources; a missing CRD
(not installed yet) is waited for the same way, with a log line saying what is missing.

That wait cannot close the window entirely: the API server may restart between the startup
activity and kopf's scan (the chaos suite caught that too). So `exit_if_unserved` listens for
kopf's own "Unresolved resources" warning about vmroll's group and stops the operator, and
`vmroll run` exits 1 saying why, to be started again (by the kubelet, in a pod) with a fresh scan.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from vmroll.api.account import PLURAL as ACCOUNT_PLURAL
from vmroll.api.base import GROUP, VERSION
from vmroll.api.capture import PLURAL as CAPTURE_PLURAL
from vmroll.api.policy import PLURAL as POLICY_PLURAL
from vmroll.api.pool import PLURAL as POOL_PLURAL

RESOURCES = frozenset({POOL_PLURAL, ACCOUNT_PLURAL, POLICY_PLURAL, CAPTURE_PLURAL})
RETRY_SECONDS = 1.0
REPORT_EVERY = 30
"""Attempts between two log lines while still waiting (about every 30 s)."""
KOPF_OBSERVATION_LOGGER = "kopf._core.reactor.observation"
UNRESOLVED_WARNING = "Unresolved resources cannot be served"
"""How kopf's resource observer says that a scan did not find a handler's resource."""

_log = logging.getLogger(__name__)


def missing_resources(api_client: object) -> str | None:
    """What discovery does not list yet (None when it lists every resource vmroll serves)."""
    try:
        groups = client.ApisApi(api_client).get_api_versions()
        if not any(group.name == GROUP for group in groups.groups or ()):
            return f"the API group {GROUP} is not served"
        listed = client.CustomObjectsApi(api_client).get_api_resources(GROUP, VERSION)
    except ApiException as error:
        return f"discovery of {GROUP}/{VERSION} answered {error.status} {error.reason}"
    except HTTPError as error:
        return f"the API server did not answer discovery ({type(error).__name__})"
    names = {resource.name for resource in (listed.resources if listed else None) or ()}
    missing = sorted(RESOURCES - names)
    return f"{GROUP}/{VERSION} does not list {', '.join(missing)}" if missing else None


async def wait_until_served(
    api_client: object, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
) -> None:
    attempt = 0
    while (missing := await asyncio.to_thread(missing_resources, api_client)) is not None:
        if attempt % REPORT_EVERY == 0:
            _log.warning("waiting for the API server to serve vmroll's resources: %s", missing)
        attempt += 1
        await sleep(RETRY_SECONDS)
    if attempt:
        _log.info("the API server serves %s/%s %s", GROUP, VERSION, ", ".join(sorted(RESOURCES)))


class ResourcesNotServed(Exception):
    """kopf's scan missed vmroll's resources: this process would serve nothing until restarted."""

    def __str__(self) -> str:
        return (
            f"the API server did not list {GROUP}/{VERSION}'s resources when the operator "
            "scanned them (it was probably restarting); exiting so that a restart scans again"
        )


class _UnresolvedWarning(logging.Handler):
    """Sets `stop` when kopf warns that a resource of vmroll's group is unresolved."""

    def __init__(self, stop: asyncio.Event) -> None:
        super().__init__(logging.WARNING)
        self.stop = stop
        self.seen = False

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith(UNRESOLVED_WARNING) and f"group='{GROUP}'" in message:
            self.seen = True
            self.stop.set()


@contextmanager
def exit_if_unserved(stop: asyncio.Event) -> Iterator[None]:
    """While kopf runs inside, stop it (`stop` is its stop flag) if its scan missed vmroll's
    resources, and raise ResourcesNotServed once it has stopped."""
    handler = _UnresolvedWarning(stop)
    observer_log = logging.getLogger(KOPF_OBSERVATION_LOGGER)
    observer_log.addHandler(handler)
    try:
        yield
    finally:
        observer_log.removeHandler(handler)
    if handler.seen:
        raise ResourcesNotServed
