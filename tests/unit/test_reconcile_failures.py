"""Every failure of a pass ends in a condition and one event; transient ones back off.

Passes run against the fake Azure and sinks of test_reconcile_fakes.py, with the backoff's
jitter fixed, so that the delays are known.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import pytest
from pydantic import ValidationError
from test_reconcile_fakes import World

from vmroll.api.pool import VirtualMachinePool
from vmroll.azure.errors import Throttled, TransientAzureError, WriteBudgetExhausted
from vmroll.handlers.kube import KubeApi, SecretNotText
from vmroll.handlers.pool_inputs import template_inputs
from vmroll.plan.backoff import BackoffPolicy
from vmroll.reconcile.failures import (
    BUDGET_SPENT,
    StatusNotWritten,
    describe_error,
    invalid_pool_message,
    stall_invalid_pool,
)
from vmroll.reconcile.inputs import Next, Outcome, PassSettings, TemplateInputs
from vmroll.reconcile.memory import PoolMemory

SETTINGS = PassSettings(backoff=BackoffPolicy(base=5.0, cap=300.0), draw=lambda: 0.5)
"""Draw 0.5: delays 10, 20, 40, ... (halfway between the last delay and three times it)."""


async def run(world: World, **changes: Any) -> Outcome:
    return await replace(world.pass_(), settings=SETTINGS, **changes).run()


def reconciling(world: World) -> tuple[str, str]:
    status = world.memory.status
    assert status is not None
    found = next(c for c in status.conditions if c.type == "Reconciling")
    return found.reason, found.message


def warnings(world: World) -> list[tuple[str, str]]:
    return [
        (reason, message) for type_, reason, message in world.sinks.events if type_ == "Warning"
    ]


class BrokenList:
    """Azure's listing raises something that is not an Azure error (a bug, say)."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    async def __call__(self, *args: Any) -> Any:
        raise self.error


async def test_a_transient_error_backs_off_counts_retries_and_warns_once() -> None:
    world = World()
    world.azure.list_error = TransientAzureError("list VMs: HTTP 500 InternalServerError: oops")

    delays = []
    for _ in range(3):
        outcome = await run(world)
        assert outcome.next is Next.RETRY
        delays.append(outcome.after)
        world.tick(60)

    assert delays == [10.0, 20.0, 40.0]
    assert reconciling(world) == (
        "Retrying",
        "retry 3 in 40s: list VMs: HTTP 500 InternalServerError: oops",
    )
    assert warnings(world) == [("Retrying", "list VMs: HTTP 500 InternalServerError: oops")]


async def test_retry_after_is_a_floor_of_the_backoff() -> None:
    world = World()
    world.azure.list_error = TransientAzureError("throttled", retry_after=40.0)

    outcome = await run(world)

    assert outcome.after == 40.0
    assert reconciling(world) == ("Retrying", "retry 1 in 40s: throttled")


async def test_success_resets_the_backoff_and_the_next_failure_is_news() -> None:
    world = World()
    world.azure.list_error = TransientAzureError("list VMs: 503")
    await run(world)
    await run(world)
    world.azure.list_error = None
    assert (await run(world)).next is not Next.RETRY
    world.azure.list_error = TransientAzureError("list VMs: 503")

    again = await run(world)

    assert again.after == 10.0
    assert reconciling(world)[1].startswith("retry 1 in 10s: ")
    assert warnings(world) == [("Retrying", "list VMs: 503"), ("Retrying", "list VMs: 503")]


async def test_a_different_cause_is_reported_again() -> None:
    world = World()
    world.azure.list_error = TransientAzureError("list VMs: 503")
    await run(world)
    world.azure.list_error = TransientAzureError("list VMs: reset")

    await run(world)

    assert [m for _, m in warnings(world)] == ["list VMs: 503", "list VMs: reset"]
    assert reconciling(world)[1] == "retry 2 in 20s: list VMs: reset"


async def test_an_unexpected_error_is_reconciling_with_its_type_and_first_line_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    world = World()
    world.azure.list_pool_vms = BrokenList(  # type: ignore[method-assign]
        RuntimeError("boom\nAuthorization: Bearer canary-token")
    )

    outcome = await run(world)
    await run(world)

    assert outcome == Outcome(Next.RETRY, after=10.0, failed=True)
    assert reconciling(world) == ("UnexpectedError", "retry 2 in 20s: RuntimeError: boom")
    assert warnings(world) == [("UnexpectedError", "RuntimeError: boom")]
    assert "canary" not in repr(world.sinks.patches)
    assert "RuntimeError: boom" in caplog.text
    assert "canary" not in caplog.text


class RefusingStatus:
    """A status subresource the API server refuses to write (RBAC, admission)."""

    def __init__(self) -> None:
        self.tries = 0

    async def patch_status(self, patch: Mapping[str, Any]) -> None:
        self.tries += 1
        raise PermissionError("status is forbidden")


async def test_a_failed_status_write_still_warns_and_backs_off() -> None:
    world = World()
    refusing = RefusingStatus()

    with pytest.raises(StatusNotWritten) as raised:
        await run(world, status=refusing)

    assert raised.value.outcome == Outcome(Next.RETRY, after=10.0, failed=True)
    assert refusing.tries == 2
    assert warnings(world) == [("UnexpectedError", "PermissionError: status is forbidden")]

    recovered = await run(world)

    assert recovered.next is not Next.RETRY
    assert world.memory.backoff is None
    assert world.sinks.patches


async def test_a_binary_secret_stalls_with_invalid_secret() -> None:
    world = World()
    problem = TemplateInputs(
        problem="Secret init key data (spec.template.sshPublicKeys[0]) holds binary data",
        problem_reason="InvalidSecret",
    )

    outcome = await run(world, inputs=problem)
    await run(world, inputs=problem)

    assert outcome.next is Next.STALLED
    assert [reason for reason, _ in warnings(world)] == ["InvalidSecret"]
    assert "create" not in " ".join(world.log)


class SecretsApi:
    """The CoreV1Api calls KubeApi makes, over one Secret."""

    def __init__(self, data: Mapping[str, bytes]) -> None:
        self.data = {k: base64.b64encode(v).decode() for k, v in data.items()}

    def read_namespaced_secret(self, name: str, namespace: str) -> Any:
        return type("Secret", (), {"data": self.data})()


def kube_with(data: Mapping[str, bytes]) -> KubeApi:
    kube = KubeApi(None)
    kube._core = SecretsApi(data)  # type: ignore[assignment]
    return kube


async def test_a_binary_secret_value_is_refused_without_quoting_it() -> None:
    kube = kube_with({"data": b"\xff\xfecanary"})

    with pytest.raises(SecretNotText) as raised:
        await kube.secret_value("team", "init", "data")

    assert str(raised.value) == "Secret team/init key data is not UTF-8 text"
    assert raised.value.__cause__ is None


async def test_template_inputs_name_the_secret_key_and_field_of_a_binary_ssh_key() -> None:
    world = World()
    world.pool["spec"]["template"]["sshPublicKeys"] = [
        {"keyData": "ssh-ed25519 AAAA a@b"},
        {"secretRef": {"name": "init", "key": "data"}},
    ]
    pool = VirtualMachinePool.model_validate(world.pool)

    inputs = await template_inputs(kube_with({"data": b"\x1f\x8b\x08binary"}), pool)

    assert inputs.problem_reason == "InvalidSecret"
    assert inputs.problem is not None
    assert "Secret init key data (spec.template.sshPublicKeys[1])" in inputs.problem


async def test_binary_custom_data_goes_to_azure_as_it_is() -> None:
    """gzip'd cloud-init is binary, and Azure's customData is any bytes, base64-encoded."""
    world = World()
    world.pool["spec"]["template"]["customData"] = {"secretRef": {"name": "init", "key": "data"}}
    pool = VirtualMachinePool.model_validate(world.pool)

    inputs = await template_inputs(kube_with({"data": b"\x1f\x8b\x08binary"}), pool)

    assert inputs.problem is None
    assert inputs.custom_data == b"\x1f\x8b\x08binary"


def invalid_pool_error(body: dict[str, Any]) -> ValidationError:
    with pytest.raises(ValidationError) as raised:
        VirtualMachinePool.model_validate(body)
    return raised.value


async def test_an_invalid_pool_body_stalls_with_invalid_spec_once() -> None:
    world = World()
    world.pool["spec"]["replicas"] = "many"
    message = invalid_pool_message(invalid_pool_error(world.pool))
    memory = PoolMemory()

    for _ in range(2):
        await stall_invalid_pool(world.pool, memory, world.sinks, world.sinks, world.now, message)

    assert "spec.replicas" in message
    assert "many" not in message
    assert memory.status is not None
    stalled = next(c for c in memory.status.conditions if c.type == "Stalled")
    assert (stalled.reason, stalled.message) == ("InvalidSpec", message)
    assert memory.status.observed_generation == 1
    assert len(world.sinks.patches) == 1
    assert [e[1] for e in world.sinks.events] == ["InvalidSpec"]


@pytest.mark.parametrize(
    ("error", "described"),
    [
        pytest.param(KeyError("spec"), "KeyError: 'spec'", id="key-error"),
        pytest.param(RuntimeError("first\nsecond"), "RuntimeError: first", id="first-line"),
        pytest.param(RuntimeError(), "RuntimeError", id="no-message"),
        pytest.param(
            UnicodeDecodeError("utf-8", b"\xffcanary", 0, 1, "invalid start byte"),
            "UnicodeDecodeError: invalid start byte",
            id="decode-error-quotes-no-byte",
        ),
        pytest.param(RuntimeError("x" * 500), "RuntimeError: " + "x" * 200, id="cut"),
    ],
)
def test_describe_error(error: Exception, described: str) -> None:
    assert describe_error(error) == described


def test_an_api_error_is_described_by_status_and_reason_only() -> None:
    from kubernetes.client.exceptions import ApiException

    error = ApiException(status=422, reason="Unprocessable Entity")
    error.body = '{"message": "canary"}'

    assert describe_error(error) == "ApiException: (422) Unprocessable Entity"


async def test_a_spent_write_budget_is_waited_out_without_growing_the_backoff() -> None:
    world = World()
    world.azure.list_error = TransientAzureError("list VMs: 503")
    await run(world)
    world.azure.list_error = WriteBudgetExhausted(
        "write budget exhausted; next write in 0.2s", retry_after=0.2
    )

    delays = []
    for _ in range(3):
        outcome = await run(world)
        assert outcome.next is Next.RETRY
        delays.append(outcome.after)

    assert delays == [1.0, 1.0, 1.0]
    assert world.memory.backoff is not None
    assert world.memory.backoff.attempt == 1
    assert reconciling(world) == ("Retrying", f"next write in 1s: {BUDGET_SPENT}")
    assert warnings(world) == [("Retrying", "list VMs: 503"), ("Retrying", BUDGET_SPENT)]


THROTTLED_LIST = "list VMs: HTTP 429 OperationNotAllowed: too many requests"


async def test_a_429_is_waited_out_for_its_retry_after_with_its_policy_said() -> None:
    world = World()
    world.azure.list_error = Throttled(THROTTLED_LIST, retry_after=25.0, policy="HighCostGet")

    delays = []
    for _ in range(3):
        outcome = await run(world)
        assert outcome.next is Next.RETRY
        delays.append(outcome.after)

    # Azure's Retry-After, not a backoff growing from it (25, 75, 225 s).
    assert delays == [25.0, 25.0, 25.0]
    cause = (
        f"Azure is throttling HighCostGet requests, waiting for its Retry-After: {THROTTLED_LIST}"
    )
    assert reconciling(world) == ("Retrying", f"next try in 25s: {cause}")
    assert warnings(world) == [("Retrying", cause)]


async def test_a_429_without_a_retry_after_backs_off_as_any_transient_error() -> None:
    world = World()
    world.azure.list_error = Throttled(THROTTLED_LIST, retry_after=None, policy="")

    delays = [(await run(world)).after for _ in range(2)]

    assert delays == [10.0, 20.0]
    assert reconciling(world) == ("Retrying", f"retry 2 in 20s: {THROTTLED_LIST}")


async def test_a_create_the_write_budget_refused_is_forgotten_not_read_back() -> None:
    world = World()
    world.azure.create_error = WriteBudgetExhausted(
        "write budget exhausted; next write in 0.5s", retry_after=0.5
    )

    outcome = await run(world)

    assert outcome.next is Next.RETRY
    assert world.memory.pending == {}
    recorded = [p["pendingOperations"] for p in world.sinks.patches if "pendingOperations" in p]
    assert recorded[-1] == []
    world.azure.create_error = None
    world.log.clear()
    world.tick(1)
    await run(world)
    assert [entry for entry in world.log if entry.startswith("get ")] == []
    assert len([entry for entry in world.log if entry.startswith("create ")]) == 3


async def test_a_create_refused_by_azure_as_transient_stays_recorded_and_is_read_back() -> None:
    world = World()
    world.azure.create_error = TransientAzureError("create VM: connection reset")

    await run(world)

    assert len(world.memory.pending) == 3
    world.azure.create_error = None
    world.log.clear()
    world.tick(1)
    await run(world)
    assert len([entry for entry in world.log if entry.startswith("get ")]) == 3
