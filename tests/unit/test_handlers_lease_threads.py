"""The Lease's calls run on threads of their own: a default thread pool held by other
Kubernetes calls (at 1,000 pools, status writes queued up to 12 s for one of its 6 threads on
2 CPUs) must not hold back the renewal past its deadline."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from kubernetes import client

from vmroll.handlers.leader_election import Election, LeaseClient
from vmroll.plan.leases import LeaseRecord


class OneLease:
    """The CoordinationV1Api call LeaseClient.read makes, over one Lease."""

    def read_namespaced_lease(self, name: str, namespace: str, **_: Any) -> client.V1Lease:
        return client.V1Lease(
            metadata=client.V1ObjectMeta(name=name, namespace=namespace, resource_version="7"),
            spec=client.V1LeaseSpec(
                holder_identity="a", lease_duration_seconds=15, lease_transitions=2
            ),
        )


async def test_the_lease_is_read_while_every_default_thread_is_busy() -> None:
    leases = LeaseClient(client.ApiClient(), Election("vmroll-system", identity="a"))
    leases._api = OneLease()
    released = threading.Event()
    # More calls than asyncio's default pool has threads (at most 32), each holding its thread.
    busy = [asyncio.to_thread(released.wait, 30) for _ in range(40)]
    holding = asyncio.gather(*busy)
    try:
        read = await asyncio.wait_for(leases.read(), timeout=10)
    finally:
        released.set()
        await holding
    assert read == (LeaseRecord(holder="a", duration_seconds=15, transitions=2), "7")
