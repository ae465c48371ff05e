"""`vmroll run --leader-elect`: two replicas, one acting.

Two operator processes against one cluster would both create, reimage and delete the VMs of a
pool: duplicates and a broken surge bound. kopf's peering does not prevent that: operators of the
same priority (two replicas of one Deployment) all pause, a peer is declared dead only after its
60 s lifetime, and kopf's own documentation says there are no locks between operators. So, as
controller-runtime does, a process starts the kopf operator only once it holds a
`coordination.k8s.io/v1` Lease, and renews it every `retry_period`. If it cannot renew within
`renew_deadline`, or the Lease names someone else, it stops acting at once by exiting non-zero
(the Deployment restarts it as a standby): never two actors. On a clean stop (SIGTERM) it lets
kopf finish, then releases the Lease, so a standby takes over without waiting for it to expire.
A standby serves the liveness endpoint while it waits, so that it is not restarted for waiting.
As with controller-runtime, this is not fencing: a process frozen (SIGSTOP, a paused VM) past
the Lease's duration exits as it wakes, but a request it had already sent may still complete.

The decisions (expired? whose? what next?) are `vmroll.plan.leases`; this module only reads
and writes the Lease (with its resourceVersion: a concurrent write fails with 409), keeps time,
and posts events on the Lease: who became leader, who released it, and a warning from a leader
that lost it. Needs, in the Lease's namespace: leases get, create, update; events create.
The Lease's calls run on threads of their own, not asyncio's default pool, which the rest of
the operator's Kubernetes calls share: at 1,000 pools a call waited up to 12 s there for a
thread (issue 12, 6 threads on 2 CPUs), longer than the renew deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import time
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

import aiohttp.web
import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from vmroll.handlers.kube import load_api_client
from vmroll.plan.leases import (
    LeaseRecord,
    LeaseTiming,
    Observation,
    Wait,
    leadership_lost,
    next_step,
    observe,
    released,
    still_holds,
)

logger = logging.getLogger(__name__)

DEFAULT_LEASE_NAME = "vmroll"
EVENT_SOURCE = "vmroll"
LEADER_ELECTION = "LeaderElection"
"""The reason of the events about a leader starting and stopping, as client-go names it."""
LEADERSHIP_LOST = "LeadershipLost"
EXIT_LEADERSHIP_LOST = 3
"""The exit code of a process that lost the Lease while acting (1 is any other failure)."""
_TRANSIENT = (ApiException, urllib3.exceptions.HTTPError, OSError, TimeoutError)


def default_identity() -> str:
    """The pod's name (POD_NAME, from the downward API), else host and process id."""
    return os.environ.get("POD_NAME") or f"{socket.gethostname()}_{os.getpid()}"


@dataclass(frozen=True)
class Election:
    namespace: str
    identity: str = field(default_factory=default_identity)
    name: str = DEFAULT_LEASE_NAME
    timing: LeaseTiming = field(default_factory=LeaseTiming)

    def __str__(self) -> str:
        return f"Lease {self.namespace}/{self.name}"


class LeaseConflict(Exception):
    """Someone else wrote the Lease since we read it (HTTP 409)."""


class LeaseForbidden(Exception):
    """The operator may not read or write the Lease: waiting would never help."""


class LeaseClient:
    """Reads and writes one Lease through the official client, on threads of its own: two, so
    that a call cut at the renew deadline, still running until its own timeout, leaves one."""

    def __init__(self, api_client: Any, election: Election) -> None:
        self._api: Any = client.CoordinationV1Api(api_client)
        self._core: Any = client.CoreV1Api(api_client)
        self._election = election
        self._timeout = election.timing.retry_period
        self._threads = ThreadPoolExecutor(2, thread_name_prefix="lease")

    async def _call(self, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._threads, partial(call, *args, **kwargs))

    async def post_event(self, type_: str, reason: str, message: str) -> None:
        """`event`, off the event loop."""
        await self._call(self.event, type_, reason, message)

    async def read(self) -> tuple[LeaseRecord | None, str]:
        """The Lease's record and resourceVersion; (None, "") when it does not exist."""
        name, namespace = self._election.name, self._election.namespace
        try:
            lease = await self._call(
                self._api.read_namespaced_lease, name, namespace, _request_timeout=self._timeout
            )
        except ApiException as error:
            if error.status == 404:
                return None, ""
            raise
        spec = lease.spec
        record = LeaseRecord(
            holder=spec.holder_identity or "",
            duration_seconds=spec.lease_duration_seconds or 0,
            transitions=spec.lease_transitions or 0,
        )
        return record, str(lease.metadata.resource_version)

    async def write(self, record: LeaseRecord, version: str, acquired: datetime) -> str:
        """Create (no `version`) or update the Lease; its new resourceVersion."""
        name, namespace = self._election.name, self._election.namespace
        metadata = {"name": name, "namespace": namespace}
        if version:
            metadata["resourceVersion"] = version
        body = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": metadata,
            "spec": {
                "holderIdentity": record.holder,
                "leaseDurationSeconds": record.duration_seconds,
                "leaseTransitions": record.transitions,
                "acquireTime": _micro_time(acquired),
                "renewTime": _micro_time(datetime.now(UTC)),
            },
        }
        timeout = {"_request_timeout": self._timeout}
        try:
            if version:
                call = self._api.replace_namespaced_lease
                lease = await self._call(call, name, namespace, body, **timeout)
            else:
                call = self._api.create_namespaced_lease
                lease = await self._call(call, namespace, body, **timeout)
        except ApiException as error:
            if error.status == 409:
                raise LeaseConflict(str(self._election)) from error
            raise
        return str(lease.metadata.resource_version)

    def event(self, type_: str, reason: str, message: str) -> None:
        """Post an event about the Lease, blocking (see `_abandon`); a failure is only logged:
        an event must never keep the operator from stopping or starting."""
        namespace, now = self._election.namespace, datetime.now(UTC)
        stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
        body = {
            "metadata": {
                "name": f"{self._election.name}.{now.timestamp() * 1e9:.0f}",
                "namespace": namespace,
            },
            "involvedObject": {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "namespace": namespace,
                "name": self._election.name,
            },
            "type": type_,
            "reason": reason,
            "message": message,
            "source": {"component": EVENT_SOURCE},
            "reportingComponent": EVENT_SOURCE,
            "reportingInstance": self._election.identity,
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
        }
        try:
            self._core.create_namespaced_event(namespace, body, _request_timeout=self._timeout)
        except _TRANSIENT as error:
            logger.warning(
                "Could not post the event %s about %s: %s", reason, self._election, error
            )


def _micro_time(moment: datetime) -> str:
    """metav1.MicroTime's wire format (always with the microseconds)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class _Held:
    record: LeaseRecord
    version: str
    acquired: datetime
    renewed_at: float


Act = Callable[[asyncio.Event, asyncio.Event], Awaitable[None]]
"""The operator: it stops when the first event is set, and sets the second once started."""


async def lead(election: Election, act: Act, liveness: str | None) -> int:
    """Stand by until this process holds the Lease; run `act` while renewing it; release it
    when `act` returns. SIGTERM and SIGINT set the stop event that `act` watches."""
    stopping = asyncio.Event()
    _stop_on_signals(stopping)
    leases = LeaseClient(load_api_client(), election)
    try:
        async with _standby_liveness(liveness):
            held = await _acquire(leases, election, stopping)
    except LeaseForbidden as error:
        logger.error("%s", error)
        return 1
    if held is None:
        logger.info("Stopped while standing by for %s.", election)
        return 0
    # Created before `act` starts kopf, so that kopf's shutdown leaves these tasks alone.
    started = asyncio.Event()
    renewing = asyncio.create_task(_keep(leases, election, held, stopping), name="lease renewal")
    reclaiming = asyncio.create_task(_reclaim_signals(started, stopping), name="signals")
    try:
        await act(stopping, started)
    finally:
        stopping.set()
        reclaiming.cancel()
        await renewing
        await _release(leases, election, held)
    return 0


def _stop_on_signals(stopping: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(number, stopping.set)


async def _reclaim_signals(started: asyncio.Event, stopping: asyncio.Event) -> None:
    """kopf installs its own signal handlers as it starts; once it has, route the signals back
    to the stop event it watches. Otherwise kopf, stopped by its handler, would wait 5 s for
    its own task that waits on that event."""
    await started.wait()
    _stop_on_signals(stopping)


async def _acquire(
    leases: LeaseClient, election: Election, stopping: asyncio.Event
) -> _Held | None:
    observation: Observation | None = None
    announced = ""
    started = time.monotonic()
    while not stopping.is_set():
        try:
            record, version = await leases.read()
            now = time.monotonic()
            observation = observe(observation, record, version, now)
            step = next_step(observation, election.identity, now, election.timing)
            if isinstance(step, Wait):
                if step.holder != announced:
                    announced = step.holder
                    logger.info(
                        "Standing by: %s is held by %s (free in at most %.0f s unless renewed).",
                        election, step.holder, step.free_in,
                    )  # fmt: skip
            else:
                acquired = datetime.now(UTC)
                new_version = await leases.write(step.record, version, acquired)
                logger.info(
                    "Acquired %s as %s (%s) after %.1f s standing by; starting the operator.",
                    election, election.identity, _how(observation.record, election.identity),
                    time.monotonic() - started,
                )  # fmt: skip
                await leases.post_event(
                    "Normal", LEADER_ELECTION, f"{election.identity} became leader"
                )
                return _Held(step.record, new_version, acquired, now)
        except LeaseConflict:
            logger.info("Another replica wrote %s first; standing by.", election)
        except _TRANSIENT as error:
            if isinstance(error, ApiException) and error.status in (401, 403):
                raise LeaseForbidden(
                    f"{election}: {error.status} {error.reason}; the operator's ServiceAccount "
                    f"needs get, create and update on leases in namespace {election.namespace}"
                ) from error
            logger.warning("Could not read or write %s: %s", election, error)
        await _sleep_unless(stopping, election.timing.retry_period)
    return None


def _how(previous: LeaseRecord | None, identity: str) -> str:
    if previous is None:
        return "created it"
    if not previous.holder:
        return "it was released"
    if previous.holder == identity:
        return "it named this replica already"
    return f"{previous.holder} stopped renewing it"


async def _keep(
    leases: LeaseClient, election: Election, held: _Held, stopping: asyncio.Event
) -> None:
    """Renew every retry_period until `stopping`; exit the process once renewal is lost.

    Waits are cut at the renew deadline, whatever the client's own timeouts and retries do,
    so that this process stops before a standby may count the Lease as expired."""
    timing = election.timing
    while not await _sleep_unless(stopping, min(timing.retry_period, _left(held, timing))):
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(_left(held, timing)):
                await _renew(leases, election, held)
        if leadership_lost(held.renewed_at, time.monotonic(), timing):
            _abandon(leases, election, f"not renewed for {timing.renew_deadline:.0f} s")


def _left(held: _Held, timing: LeaseTiming) -> float:
    """Seconds until the renew deadline."""
    return max(0.0, held.renewed_at + timing.renew_deadline - time.monotonic())


async def _renew(leases: LeaseClient, election: Election, held: _Held) -> None:
    started = time.monotonic()
    try:
        try:
            held.version = await leases.write(held.record, held.version, held.acquired)
            held.renewed_at = started
        except LeaseConflict:
            record, version = await leases.read()
            if not still_holds(observe(None, record, version, started), election.identity):
                holder = record.holder or "nobody (released)" if record else "nobody (deleted)"
                _abandon(leases, election, f"it now names {holder}")
            held.version = version
    except _TRANSIENT as error:
        logger.warning("Could not renew %s: %s", election, error)


def _abandon(leases: LeaseClient, election: Election, why: str) -> None:
    """Stop acting at once: no handler may run one more step, so no graceful shutdown, and the
    warning event is posted without yielding to the event loop (where handlers run)."""
    message = f"{election.identity} stopped acting and exits ({why})"
    logger.critical("Lost %s: %s.", election, message)
    leases.event("Warning", LEADERSHIP_LOST, message)
    logging.shutdown()
    os._exit(EXIT_LEADERSHIP_LOST)


async def _release(leases: LeaseClient, election: Election, held: _Held) -> None:
    try:
        await leases.write(released(held.record), held.version, held.acquired)
    except LeaseConflict:
        logger.warning("%s changed since the last renewal; not released.", election)
    except _TRANSIENT as error:
        logger.warning("Could not release %s (it expires on its own): %s", election, error)
    else:
        logger.info("Released %s.", election)
        message = f"{election.identity} stopped leading and released the Lease"
        await leases.post_event("Normal", LEADER_ELECTION, message)


async def _sleep_unless(stopping: asyncio.Event, seconds: float) -> bool:
    """Sleep `seconds` unless `stopping` is set first; whether it is set. No task is created:
    kopf cancels, at its shutdown, every task created after it started."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await stopping.wait()
    return stopping.is_set()


@contextlib.asynccontextmanager
async def _standby_liveness(endpoint: str | None) -> AsyncIterator[None]:
    """Answer the liveness probe on kopf's endpoint while standing by; kopf takes it over."""
    if endpoint is None:
        yield
        return
    parts = urllib.parse.urlsplit(endpoint)
    app = aiohttp.web.Application()
    app.add_routes([aiohttp.web.get(parts.path or "/", _standing_by)])
    runner = aiohttp.web.AppRunner(app, handle_signals=False, shutdown_timeout=1.0)
    await runner.setup()
    await aiohttp.web.TCPSite(runner, parts.hostname or "localhost", parts.port or 80).start()
    try:
        yield
    finally:
        await runner.cleanup()


async def _standing_by(request: aiohttp.web.Request) -> aiohttp.web.Response:
    return aiohttp.web.json_response({"leaderElection": "standby"})
