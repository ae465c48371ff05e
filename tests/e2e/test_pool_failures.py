"""Failures that are not a spec Azure refuses still reach the pool's conditions, once.

An SSH key Secret holding binary data ends `Stalled` with `InvalidSecret` naming the Secret and
key, with one event however long it stays so; binary customData (gzip'd cloud-init) is sent to
Azure as it is. ARM answering 500 to every listing makes the pool
`Reconciling` with "retry N in Ns", and vmroll backs off: the emulator serves fewer listings in
the second half of the fault than in the first (a fixed retry interval would serve about as
many). Once the fault is gone the pool is Ready again. A deleted pool whose VM deletes ARM
refuses with 503 backs off the same way, "retry N in Ns" in its condition, and goes once the
fault is gone.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_harness import Cluster, Kubectl, wait_for
from pool_helpers import (
    EmulatorProcess,
    Operator,
    apply,
    condition,
    get_pool,
    list_requests,
    pool_manifest,
    wait_condition,
)

pytestmark = pytest.mark.e2e
pytest_plugins = ("pool_fixtures",)

CANARY = "canary-7f3a9c"
BINARY = b"\x1f\x8b\x08\x00\xff\xfe" + CANARY.encode() + b"\x80\x81"
"""A gzip header, invalid UTF-8 bytes, and a canary that must appear nowhere vmroll writes."""
QUIET_SECONDS = 35
"""Longer than the operator's --stalled-interval (30 s): a re-reporting pass would show."""
FAULT_SECONDS = 90
RETRY_FLAGS = ("--retry-base-interval", "1", "--retry-max-interval", "20")
"""Overrides the e2e defaults (later flags win): room to grow within FAULT_SECONDS."""
RETRY = re.compile(r"^retry (\d+) in \d+s: ")


def warning_events(kubectl: Kubectl, namespace: str) -> list[dict[str, Any]]:
    events = kubectl.json("get", "events", "-n", namespace)["items"]
    return [e for e in events if e["type"] == "Warning"]


def binary_secret(kubectl: Kubectl, namespace: str) -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "binary"},
              "data": {"value": base64.b64encode(BINARY).decode()}}  # fmt: skip
    kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(secret))


def test_a_binary_ssh_key_stalls_naming_the_secret_and_warns_once(
    kubectl: Kubectl, namespace: str, account: str, emulator: EmulatorProcess, operator: Operator
) -> None:
    binary_secret(kubectl, namespace)
    manifest = pool_manifest("web", account, emulator, replicas=1)
    manifest["spec"]["template"]["sshPublicKeys"] = [
        {"secretRef": {"name": "binary", "key": "value"}}
    ]
    apply(kubectl, namespace, manifest)

    pool = wait_condition(kubectl, namespace, "web", "Stalled", operator, reason="InvalidSecret")
    time.sleep(QUIET_SECONDS)

    stalled = condition(get_pool(kubectl, namespace, "web"), "Stalled")
    assert stalled is not None
    assert "Secret binary key value (spec.template.sshPublicKeys[0])" in stalled["message"]
    warnings = warning_events(kubectl, namespace)
    assert [(e["reason"], e.get("count", 1)) for e in warnings] == [("InvalidSecret", 1)]
    assert emulator.all_vms() == []
    written = json.dumps(pool) + json.dumps(warnings) + operator.output()
    assert CANARY not in written


def test_binary_custom_data_is_sent_as_it_is(
    kubectl: Kubectl, namespace: str, account: str, emulator: EmulatorProcess, operator: Operator
) -> None:
    binary_secret(kubectl, namespace)
    manifest = pool_manifest("web", account, emulator, replicas=1)
    manifest["spec"]["template"]["customData"] = {"secretRef": {"name": "binary", "key": "value"}}
    apply(kubectl, namespace, manifest)

    pool = wait_condition(kubectl, namespace, "web", "Ready", operator)

    assert len(emulator.all_vms()) == 1
    assert CANARY not in json.dumps(pool) + operator.output()


def _ready_then_failing(
    kubectl: Kubectl,
    namespace: str,
    account: str,
    emulator: EmulatorProcess,
    operator: Operator,
    fault: dict[str, object],
) -> None:
    """A Ready one-VM pool `web`; from then on ARM answers `fault` to what it matches."""
    apply(kubectl, namespace, pool_manifest("web", account, emulator, replicas=1))
    wait_condition(kubectl, namespace, "web", "Ready", operator)
    emulator.admin("PUT", "faults", {"seed": 1, "rules": [fault]})


@pytest.fixture
def backing_off(
    cluster: Cluster, namespace: str, account: str, tmp_path: Path
) -> Iterator[Operator]:
    """The operator with a backoff that can visibly grow within the fault."""
    runner = Operator(cluster, namespace, tmp_path / "operator.log")
    runner.start(*RETRY_FLAGS)
    yield runner
    runner.stop()


def test_500s_back_off_with_growing_intervals_and_recover(
    kubectl: Kubectl,
    namespace: str,
    account: str,
    emulator: EmulatorProcess,
    backing_off: Operator,
) -> None:
    fault = {"operation": "VirtualMachines_List", "kind": "error", "status": 500}
    _ready_then_failing(kubectl, namespace, account, emulator, backing_off, fault)
    start = list_requests(emulator)

    retries: set[int] = set()
    halfway = time.monotonic() + FAULT_SECONDS / 2
    middle: int | None = None
    end = halfway + FAULT_SECONDS / 2
    while time.monotonic() < end:
        reconciling = condition(get_pool(kubectl, namespace, "web"), "Reconciling")
        if reconciling is not None and (found := RETRY.match(reconciling["message"])):
            assert reconciling["reason"] == "Retrying"
            assert "HTTP 500" in reconciling["message"]
            retries.add(int(found.group(1)))
        if middle is None and time.monotonic() >= halfway:
            middle = list_requests(emulator)
        time.sleep(1)
    stop = list_requests(emulator)
    emulator.admin("PUT", "faults", {"rules": []})

    assert middle is not None
    first, second = middle - start, stop - middle
    assert first > 0
    assert second < first, f"listings: {first} in the first half, {second} in the second"
    assert retries, 'no "retry N" in the Reconciling condition'
    assert max(retries) >= 3, sorted(retries)
    retrying = [e for e in warning_events(kubectl, namespace) if e["reason"] == "Retrying"]
    assert [e.get("count", 1) for e in retrying] == [1]

    pool = wait_condition(kubectl, namespace, "web", "Ready", backing_off)
    assert condition(pool, "Reconciling") is None


def test_a_deletion_azure_refuses_for_a_while_backs_off_and_then_finishes(
    kubectl: Kubectl,
    namespace: str,
    account: str,
    emulator: EmulatorProcess,
    backing_off: Operator,
) -> None:
    fault = {"operation": "VirtualMachines_Delete", "kind": "error", "status": 503}
    _ready_then_failing(kubectl, namespace, account, emulator, backing_off, fault)

    kubectl("delete", "-n", namespace, "vmpool", "web", "--wait=false")

    def third_retry() -> dict[str, Any] | None:
        reconciling = condition(get_pool(kubectl, namespace, "web"), "Reconciling")
        found = RETRY.match(reconciling["message"]) if reconciling is not None else None
        return reconciling if found is not None and int(found.group(1)) >= 3 else None

    reconciling = wait_for("the third retry of the deletion", third_retry, timeout=150,
                           describe=backing_off.output)  # fmt: skip
    emulator.admin("PUT", "faults", {"rules": []})

    assert reconciling["reason"] == "Retrying"
    assert "HTTP 503" in reconciling["message"]
    retrying = [e for e in warning_events(kubectl, namespace) if e["reason"] == "Retrying"]
    assert [e.get("count", 1) for e in retrying] == [1]
    kubectl("wait", "-n", namespace, "vmpool/web", "--for=delete", "--timeout=90s", timeout=120)
    assert emulator.vms(namespace) == []
