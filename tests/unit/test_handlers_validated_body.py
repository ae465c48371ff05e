"""A pool's body is validated again only when its resourceVersion changed: a pool at rest keeps
its model from pass to pass, and any change the API server stores is validated anew. Once the
pool's memory holds a status, neither the body kopf keeps nor the kept model holds a copy of
their own (handlers/kept_bodies.py)."""

from __future__ import annotations

from typing import Any

import kopf
from test_handlers_pool_loop import Clock, state
from test_reconcile_fakes import pool_object

from vmroll.api.pool_status import VirtualMachinePoolStatus
from vmroll.handlers import pools
from vmroll.reconcile.memory import PoolMemory


def body(version: str | None, **spec: Any) -> kopf.Body:
    raw = pool_object(**spec)
    if version is not None:
        raw["metadata"]["resourceVersion"] = version
    return kopf.Body(raw)


def test_the_same_resource_version_reuses_the_model() -> None:
    operator = state(Clock())
    first = pools._validated(operator, body("7"))

    assert pools._validated(operator, body("7")) is first


def test_a_new_resource_version_is_validated_anew() -> None:
    operator = state(Clock())
    first = pools._validated(operator, body("7"))

    again = pools._validated(operator, body("8", replicas=5))

    assert again is not first
    assert again.spec.replicas == 5
    assert pools._validated(operator, body("8", replicas=5)) is again


def test_a_body_without_a_resource_version_is_always_validated() -> None:
    operator = state(Clock())
    first = pools._validated(operator, body(None))

    assert pools._validated(operator, body(None)) is not first


STATUS: dict[str, Any] = {
    "observedGeneration": 1,
    "replicas": 1,
    "instances": [{"name": "web-0", "revision": "r1", "health": "Healthy"}],
}


def test_a_memory_made_from_the_body_takes_the_status_out_of_the_body() -> None:
    """A restarted operator's first pass: the memory is made from the body's status, which
    neither the body nor the model kept between passes then holds."""
    operator = state(Clock())
    raw = pool_object()
    raw["metadata"]["resourceVersion"] = "7"
    raw["status"] = dict(STATUS)

    pool = pools._validated(operator, kopf.Body(raw))

    memory = operator.memories["uid-1"]
    assert memory.status is not None
    assert memory.status == VirtualMachinePoolStatus.model_validate(STATUS)
    assert pool.status is None
    assert "status" not in raw
    assert pools._validated(operator, kopf.Body(raw)) is pool


def test_a_body_is_left_its_status_while_the_memory_holds_none() -> None:
    operator = state(Clock())
    raw = pool_object()
    raw["metadata"]["resourceVersion"] = "7"

    pools._validated(operator, kopf.Body(raw))
    raw["status"] = dict(STATUS)
    pools._validated(operator, kopf.Body(raw))

    assert operator.memories["uid-1"].status is None
    assert raw["status"] == STATUS


async def test_the_watch_drops_a_bodys_status_once_the_memory_holds_one() -> None:
    operator = state(Clock())
    memo = kopf.Memo(state=operator)
    first = pool_object()
    first["status"] = dict(STATUS)
    await pools.pool_wakeups(uid="uid-1", body=kopf.Body(first), memo=memo)
    assert first["status"] == STATUS

    operator.memories["uid-1"] = PoolMemory.from_status(
        VirtualMachinePoolStatus.model_validate(STATUS)
    )
    second = pool_object()
    second["status"] = dict(STATUS)
    await pools.pool_wakeups(uid="uid-1", body=kopf.Body(second), memo=memo)

    assert "status" not in second
    assert second["spec"] == pool_object()["spec"]
