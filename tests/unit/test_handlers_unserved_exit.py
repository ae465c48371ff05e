"""The operator stops, to be started again, when kopf's scan missed vmroll's resources.

The warning is raised by kopf's own resource observer (the function that logs it in the
installed kopf), so that a change of kopf's wording fails here rather than in a cluster.
"""

from __future__ import annotations

import asyncio

import pytest
from kopf._cogs.structs.references import Resource, Selector
from kopf._core.reactor import observation

from vmroll.api.base import GROUP, VERSION
from vmroll.api.pool import PLURAL
from vmroll.handlers.discovery import ResourcesNotServed, exit_if_unserved

POOLS = Resource(group=GROUP, version=VERSION, plural=PLURAL, namespaced=True)


def _scan(resources: set[Resource], selector: Selector) -> None:
    observation._disable_mismatched_selectors(resources=resources, selectors=frozenset({selector}))


def test_an_unresolved_vmroll_resource_stops_the_operator_and_says_why() -> None:
    stop = asyncio.Event()
    guard = exit_if_unserved(stop)
    guard.__enter__()
    _scan(set(), Selector(group=GROUP, version=VERSION, plural=PLURAL))
    assert stop.is_set()
    with pytest.raises(ResourcesNotServed, match="exiting so that a restart scans again"):
        guard.__exit__(None, None, None)


def test_a_scan_that_finds_vmroll_resources_lets_the_operator_run() -> None:
    stop = asyncio.Event()
    with exit_if_unserved(stop):
        _scan({POOLS}, Selector(group=GROUP, version=VERSION, plural=PLURAL))
    assert not stop.is_set()


def test_another_groups_unresolved_resource_is_not_vmrolls_concern() -> None:
    stop = asyncio.Event()
    with exit_if_unserved(stop):
        _scan(set(), Selector(group="example.com", version="v1", plural="widgets"))
    assert not stop.is_set()


def test_the_guard_is_gone_once_the_operator_has_stopped() -> None:
    stop = asyncio.Event()
    with exit_if_unserved(stop):
        pass
    _scan(set(), Selector(group=GROUP, version=VERSION, plural=PLURAL))
    assert not stop.is_set()
