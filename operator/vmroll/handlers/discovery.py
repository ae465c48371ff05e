"""Wait, at startup, until the API server serves vmroll's resources, before kopf looks for them.

kopf lists the API server's discovery once when it starts and afterwards rescans a group only
when one of its CustomResourceDefinitions changes. A kube-apiserver that has just restarted
answers /readyz before its discovery lists the custom resources again; an operator started in
that window (restarted with the control plane, or rescheduled at that moment) logs "Unresolved
resources cannot be served" and then serves no pool at all, for good, since the CRDs themselves
never change. Found by the chaos suite (tests/e2e/test_chaos.py). So the startup activity, which
kopf runs before any watch, waits until discovery lists all of vmroll's resources; a missing CRD
(not installed yet) is waited for the same way, with a log line saying what is missing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

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
