"""A pool's gauges from its status, and the registry's exposition: pools' series appear with
their pass and disappear with their deletion, so memory stays flat."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import cast

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from test_reconcile_fakes import pool_object

from vmroll.api.image import ImageSourceKind
from vmroll.api.pool import VirtualMachinePool
from vmroll.api.pool_status import (
    Health,
    ImageStatus,
    InstanceStatus,
    RolloutRecord,
    VirtualMachinePoolStatus,
)
from vmroll.api.types import Condition, ConditionStatus
from vmroll.handlers import pools
from vmroll.handlers.kube import KubeApi
from vmroll.handlers.run_config import ListenAddress, RunConfig
from vmroll.handlers.state import OperatorState
from vmroll.metrics.pool_figures import PoolFigures, PoolState, pool_figures, pool_state
from vmroll.metrics.registry import OperatorMetrics, PassResult, PolicyFigures
from vmroll.reconcile.memory import PoolMemory

NOW = datetime(2026, 11, 28, tzinfo=UTC)
OLD, NEW = "24.04.202609160", "24.04.202610220"


def condition(type_: str, status: ConditionStatus) -> Condition:
    return Condition(
        type=type_, status=status, reason="Because", message="", last_transition_time=NOW
    )


def vm(name: str, version: str | None, health: Health) -> InstanceStatus:
    return InstanceStatus(name=name, revision="r", image_version=version, health=health)


def rolling_status() -> VirtualMachinePoolStatus:
    return VirtualMachinePoolStatus(
        image=ImageStatus(source=ImageSourceKind.MARKETPLACE, requested="x", resolved_version=OLD,
                          latest_available=NEW),
        replicas=4, ready_replicas=3, available_replicas=3, updated_replicas=1,
        instances=[vm("a", OLD, Health.HEALTHY), vm("b", OLD, Health.HEALTHY),
                   vm("c", NEW, Health.HEALTHY), vm("d", None, Health.UNKNOWN)],
        history=[RolloutRecord(revision="r", image_version=OLD, started_at=NOW)],
        conditions=[condition("Ready", ConditionStatus.FALSE),
                    condition("Reconciling", ConditionStatus.TRUE)],
    )  # fmt: skip


@pytest.mark.parametrize(
    ("conditions", "state"),
    [
        pytest.param([], PoolState.RECONCILING, id="no-status-yet"),
        pytest.param([("Ready", ConditionStatus.TRUE)], PoolState.READY, id="ready"),
        pytest.param([("Ready", ConditionStatus.FALSE), ("Stalled", ConditionStatus.TRUE)],
                     PoolState.STALLED, id="stalled"),
        pytest.param([("Ready", ConditionStatus.TRUE), ("Stalled", ConditionStatus.TRUE)],
                     PoolState.STALLED, id="stalled-wins"),
        pytest.param([("Stalled", ConditionStatus.FALSE), ("Reconciling", ConditionStatus.TRUE)],
                     PoolState.RECONCILING, id="reconciling"),
    ],
)  # fmt: skip
def test_pool_state(conditions: list[tuple[str, ConditionStatus]], state: PoolState) -> None:
    status = VirtualMachinePoolStatus(conditions=[condition(t, s) for t, s in conditions])
    assert pool_state(status) is state


def test_pool_figures_count_vms_by_version_and_health() -> None:
    figures = pool_figures(3, rolling_status())
    counts = (figures.desired, figures.replicas, figures.ready, figures.available, figures.updated)
    assert counts == (3, 4, 3, 3, 1)
    assert figures.state is PoolState.RECONCILING
    assert figures.vms == {(OLD, "Healthy"): 2, (NEW, "Healthy"): 1, ("unknown", "Unknown"): 1}
    assert figures.staleness is not None
    assert figures.staleness.versions_behind == 1


Key = tuple[str, tuple[tuple[str, str], ...]]


def key(name: str, **labels: str) -> Key:
    return name, tuple(sorted(labels.items()))


def samples(metrics: OperatorMetrics) -> dict[Key, float]:
    text = generate_latest(metrics.registry).decode()
    return {
        key(s.name, **s.labels): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_a_deleted_pool_leaves_no_series() -> None:
    metrics = OperatorMetrics()
    metrics.pool("team", "web", pool_figures(3, rolling_status()))
    metrics.pool("team", "db", pool_figures(1, VirtualMachinePoolStatus()))
    scraped = samples(metrics)
    web = {"namespace": "team", "pool": "web"}
    assert scraped[key("vmroll_pool_replicas_desired", **web)] == 3
    assert scraped[key("vmroll_pool_replicas_updated", **web)] == 1
    assert scraped[key("vmroll_pool_vms", **web, health="Healthy", image_version=OLD)] == 2
    assert scraped[key("vmroll_pool_state", **web, state="Reconciling")] == 1
    assert scraped[key("vmroll_pool_state", **web, state="Ready")] == 0
    assert scraped[key("vmroll_pool_image_versions_behind", **web)] == 1
    assert scraped[key("vmroll_pool_image_behind_seconds", **web)] == 36 * 86_400

    metrics.forget_pool("team", "web")
    left = samples(metrics)
    assert [k for k in left if ("pool", "web") in k[1]] == []
    assert key("vmroll_pool_replicas_desired", namespace="team", pool="db") in left


def test_every_pass_result_is_exposed_from_zero() -> None:
    metrics = OperatorMetrics()
    metrics.reconcile_pass(PassResult.SETTLED, 0.2)
    scraped = samples(metrics)
    for result in PassResult:
        expected = 1 if result is PassResult.SETTLED else 0
        assert scraped[key("vmroll_reconcile_passes_total", result=result.value)] == expected
    assert scraped[key("vmroll_reconcile_duration_seconds_sum", result="settled")] == 0.2


def test_turn_waits_are_exposed_by_line_and_holds_in_one_series() -> None:
    metrics = OperatorMetrics()
    metrics.turn_waited("starting", 0.5)
    metrics.turn_waited("returning", 2.0)
    metrics.turn_waited("returning", 1.0)
    metrics.turn_held(0.25)
    scraped = samples(metrics)
    assert scraped[key("vmroll_pass_turn_wait_seconds_count", line="starting")] == 1
    assert scraped[key("vmroll_pass_turn_wait_seconds_sum", line="returning")] == 3.0
    assert scraped[key("vmroll_pass_turn_held_seconds_sum")] == 0.25


def test_two_operators_count_apart() -> None:
    first, second = OperatorMetrics(), OperatorMetrics()
    first.request("VirtualMachines_Get", "429")
    assert (
        samples(second).get(
            (
                "vmroll_azure_requests_total",
                (("operation", "VirtualMachines_Get"), ("status", "429")),
            )
        )
        is None
    )
    throttled = ("vmroll_azure_throttled_requests_total", (("operation", "VirtualMachines_Get"),))
    assert samples(first)[throttled] == 1


@pytest.mark.parametrize(
    ("text", "address"),
    [
        pytest.param("0.0.0.0:8080", ListenAddress("0.0.0.0", 8080), id="ipv4"),
        pytest.param("127.0.0.1:9", ListenAddress("127.0.0.1", 9), id="loopback"),
        pytest.param("[::]:8080", ListenAddress("::", 8080), id="ipv6"),
        pytest.param(":8080", ListenAddress("0.0.0.0", 8080), id="any-address"),
        pytest.param("localhost:8080", ListenAddress("localhost", 8080), id="hostname"),
    ],
)
def test_listen_address(text: str, address: ListenAddress) -> None:
    assert ListenAddress.parse(text) == address


@pytest.mark.parametrize("text", ["8080", "host:", "host:http", "host:0", "host:65536", ""])
def test_listen_address_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="HOST:PORT"):
        ListenAddress.parse(text)


def test_image_policy_gauges_appear_with_their_status_and_go_with_the_policy() -> None:
    metrics = OperatorMetrics()
    metrics.policy("patched-30d", PolicyFigures(pools=3, vms=7, non_compliant_pools=2))
    metrics.policy("deny-list", PolicyFigures(pools=1, vms=2, non_compliant_pools=0))
    metrics.forget_policy("deny-list")
    samples = {
        (sample.name, sample.labels["policy"]): sample.value
        for family in text_string_to_metric_families(generate_latest(metrics.registry).decode())
        if family.name.startswith("vmroll_imagepolicy_")
        for sample in family.samples
    }
    assert samples == {
        ("vmroll_imagepolicy_pools", "patched-30d"): 3.0,
        ("vmroll_imagepolicy_vms", "patched-30d"): 7.0,
        ("vmroll_imagepolicy_non_compliant_pools", "patched-30d"): 2.0,
    }


def test_a_pools_figures_are_computed_again_only_when_its_status_or_replicas_change(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    computed: list[int] = []

    def counted(desired: int, status: VirtualMachinePoolStatus) -> PoolFigures:
        computed.append(desired)
        return pool_figures(desired, status)

    monkeypatch.setattr(pools, "pool_figures", counted)
    state = OperatorState(config=RunConfig(), kube=cast(KubeApi, object()))
    pool = VirtualMachinePool.model_validate(pool_object(replicas=4))
    memory = state.memories["uid-1"] = PoolMemory(status=rolling_status())
    web = {"namespace": "team", "pool": "web"}

    pools._report_figures(state, pool)
    pools._report_figures(state, pool)  # a pass at rest: the same status
    assert computed == [4]
    assert samples(state.metrics)[key("vmroll_pool_replicas_updated", **web)] == 1

    memory.status = rolling_status().model_copy(update={"updated_replicas": 2})
    pools._report_figures(state, pool)
    assert computed == [4, 4]
    assert samples(state.metrics)[key("vmroll_pool_replicas_updated", **web)] == 2

    pools._report_figures(state, pool.model_copy(update={"spec": pool.spec.model_copy(
        update={"replicas": 5})}))  # fmt: skip
    assert computed == [4, 4, 5]
    assert samples(state.metrics)[key("vmroll_pool_replicas_desired", **web)] == 5
