"""A pool's body is validated again only when its resourceVersion changed: a pool at rest keeps
its model from pass to pass, and any change the API server stores is validated anew."""

from __future__ import annotations

from typing import Any

import kopf
from test_handlers_pool_loop import Clock, state
from test_reconcile_fakes import pool_object

from vmroll.handlers import pools


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
