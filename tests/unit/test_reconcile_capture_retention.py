"""Retention as a Ready capture's pass runs it: what pools hold on to, what is deleted, said and
written, and that a failure leaves a condition and a Warning event."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from capture_sinks import Sinks

from vmroll.api.capture import ImageCapture
from vmroll.api.types import ObjectMeta
from vmroll.azure.captures import DefinitionInfo, RegionReplica, VersionInfo
from vmroll.azure.errors import TransientAzureError
from vmroll.plan.ownership import CAPTURE_NAMESPACE_TAG, CAPTURE_TAG, CAPTURE_UID_TAG
from vmroll.plan.reasons import Reason
from vmroll.plan.retention import PoolUse, StoredVersion
from vmroll.reconcile.capture_pass import CapturePass, Problem
from vmroll.reconcile.capture_retention import VERSION_DELETED, capture_tags, pool_use

NOW = datetime(2026, 11, 29, 1, 0, tzinfo=UTC)
SUB = "00000000-0000-4000-8000-00000000a001"
VM = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/src"
IMAGE = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/galleries/g/images/web"
OTHER = IMAGE.replace("/images/web", "/images/api")
TAGS = {CAPTURE_UID_TAG: "uid-1"}


def capture(status: dict[str, Any] | None = None, keep: int | None = 1) -> ImageCapture:
    spec: dict[str, Any] = {
        "accountRef": {"name": "prod"},
        "resourceGroup": "rg",
        "source": {"virtualMachineId": VM},
        "target": {"imageId": IMAGE, "regions": [{"name": "westeurope"}]},
    }
    if keep is not None:
        spec["retention"] = {"keepNewest": keep}
    body: dict[str, Any] = {
        "metadata": {"name": "golden", "namespace": "ns", "generation": 1},
        "spec": spec,
        "status": status or {"phase": "Succeeded", "version": "1.0.3"},
    }
    return ImageCapture.model_validate(body)


def pool(
    name: str,
    *,
    image_id: str = IMAGE,
    version: str = "latest",
    resolved: str | None = None,
    runs: Sequence[str] = (),
    history: Sequence[tuple[str, str, str]] = (),
    current: str | None = None,
) -> dict[str, Any]:
    status: dict[str, Any] = {
        "instances": [{"name": f"vm-{v}", "revision": "r", "imageVersion": v} for v in runs],
        "history": [
            {"revision": r, "imageVersion": v, "outcome": o, "startedAt": "2026-11-29T00:00:00Z"}
            for r, v, o in history
        ],
    }
    if resolved is not None:
        status["image"] = {
            "imageId": f"{image_id}/versions/{resolved}",
            "resolvedVersion": resolved,
        }
    if current is not None:
        status["currentRevision"] = current
    return {
        "metadata": {"namespace": "apps", "name": name},
        "spec": {"image": {"gallery": {"imageId": image_id, "version": version}}},
        "status": status,
    }


@pytest.mark.parametrize(
    ("case", "found", "expected"),
    [
        ("follows latest", pool("a"), PoolUse("apps/a", follows_latest=True)),
        ("pins a version", pool("a", version="1.0.1"),
         PoolUse("apps/a", targets=frozenset({"1.0.1"}))),
        (
            "resolved to a version, VMs run others",
            pool("a", resolved="1.0.2", runs=["1.0.1", "1.0.2"]),
            PoolUse("apps/a", runs=frozenset({"1.0.1", "1.0.2"}), targets=frozenset({"1.0.2"}),
                    follows_latest=True),
        ),
        (
            "rollback target and rollout in progress, not older history",
            pool("a", version="1.0.3", current="r2",
                 history=[("r3", "1.0.3", "InProgress"), ("r2", "1.0.2", "Succeeded"),
                          ("r1", "1.0.1", "Succeeded")]),
            PoolUse("apps/a", runs=frozenset({"1.0.2", "1.0.3"}), targets=frozenset({"1.0.3"})),
        ),
        (
            "another definition: only the names its VMs run count",
            pool("a", image_id=OTHER, version="1.0.1", resolved="1.0.1", runs=["1.0.0"]),
            PoolUse("apps/a", runs=frozenset({"1.0.0"})),
        ),
        (
            "a marketplace pool with no status",
            {"metadata": {"namespace": "apps", "name": "a"},
             "spec": {"image": {"marketplace": {}}}},
            PoolUse("apps/a"),
        ),
    ],
)  # fmt: skip
def test_pool_use(case: str, found: dict[str, Any], expected: PoolUse) -> None:
    assert pool_use(found, IMAGE) == expected, case


def test_a_pools_region_is_where_its_latest_is_resolved() -> None:
    found = pool("a")
    found["spec"]["location"] = "eastus"
    assert pool_use(found, IMAGE).location == "eastus"


def test_the_definition_is_matched_whatever_its_case() -> None:
    assert pool_use(pool("a", image_id=IMAGE.upper()), IMAGE).follows_latest


def test_capture_tags_name_the_capture_as_its_builder_vms_do() -> None:
    meta = ObjectMeta(namespace="n" * 63, name="c" * 253, uid="uid-9")
    assert capture_tags(meta) == {
        CAPTURE_UID_TAG: "uid-9",
        CAPTURE_TAG: "c" * 253,
        CAPTURE_NAMESPACE_TAG: "n" * 63,
    }


class RetentionGateway:
    def __init__(self, versions: Sequence[StoredVersion]) -> None:
        self.versions = list(versions)
        self.deleted: list[str] = []
        self.fail_on: str | None = None

    async def list_versions(self, image_id: str) -> tuple[StoredVersion, ...]:
        assert image_id == IMAGE
        return tuple(v for v in self.versions if v.name not in self.deleted)

    async def delete_version(self, image_id: str, name: str) -> None:
        if name == self.fail_on:
            raise TransientAzureError("429 TooManyRequests: retry after 30 s")
        self.deleted.append(name)


class Pools:
    def __init__(self, found: Sequence[Mapping[str, Any]] | Exception) -> None:
        self.found = found

    async def pools(self) -> Sequence[Mapping[str, Any]]:
        if isinstance(self.found, Exception):
            raise self.found
        return self.found


FOUR = [StoredVersion(f"1.0.{n}", "Succeeded", tags=TAGS) for n in range(4)]


async def retain(
    target: ImageCapture, gateway: Any, pools: Pools, sinks: Sinks
) -> dict[str, Any] | None:
    one = CapturePass(target, gateway, sinks, sinks, NOW, progress_seconds=2, stalled_seconds=600,
                      pools=pools)  # fmt: skip
    result = await one.run()
    assert result.settled
    return sinks.patches[-1] if sinks.patches else None


def condition(patch: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in patch["conditions"] if c["type"] == "RetentionApplied")


async def test_old_unused_versions_go_and_a_used_one_stays() -> None:
    gateway, sinks = RetentionGateway(FOUR), Sinks()
    patch = await retain(capture(), gateway, Pools([pool("web", version="1.0.1")]), sinks)

    assert gateway.deleted == ["1.0.0", "1.0.2"]
    assert patch is not None
    assert patch["retention"]["deleted"] == ["1.0.0", "1.0.2"]
    assert patch["retention"]["kept"] == [
        {"name": "1.0.1", "reason": "InUse", "message": "used by pool apps/web"}
    ]
    assert (condition(patch)["status"], condition(patch)["reason"]) == ("True", "RetentionApplied")
    assert condition(patch)["message"] == (
        "keeping the newest 1 versions of the definition; older ones kept: 1.0.1 (used by pool "
        "apps/web)"
    )
    assert sinks.events == [
        ("Normal", VERSION_DELETED, f"deleted version 1.0.0 of {IMAGE} (retention keepNewest 1)"),
        ("Normal", VERSION_DELETED, f"deleted version 1.0.2 of {IMAGE} (retention keepNewest 1)"),
    ]


async def test_a_resync_with_nothing_to_do_writes_nothing() -> None:
    gateway, sinks = RetentionGateway(FOUR), Sinks()
    first = await retain(capture(), gateway, Pools([]), sinks)
    assert first is not None
    again = Sinks()
    await retain(capture({**first, "phase": "Succeeded", "version": "1.0.3"}), gateway, Pools([]),
                 again)  # fmt: skip
    assert (again.patches, again.events) == ([], [])


async def test_a_failed_delete_is_a_false_condition_and_a_warning_and_keeps_what_was_done() -> None:
    gateway, sinks = RetentionGateway(FOUR), Sinks()
    gateway.fail_on = "1.0.1"
    patch = await retain(capture(), gateway, Pools([]), sinks)

    assert gateway.deleted == ["1.0.0"]
    assert patch is not None
    assert patch["retention"]["deleted"] == ["1.0.0"]
    assert (condition(patch)["status"], condition(patch)["reason"]) == ("False", "RetentionFailed")
    assert "429 TooManyRequests" in condition(patch)["message"]
    assert sinks.events[-1][:2] == ("Warning", "RetentionFailed")


async def test_pools_that_cannot_be_read_delete_nothing() -> None:
    gateway, sinks = RetentionGateway(FOUR), Sinks()
    patch = await retain(capture(), gateway, Pools(PermissionError("403 Forbidden")), sinks)

    assert gateway.deleted == []
    assert patch is not None
    assert "cannot list VirtualMachinePools" in condition(patch)["message"]
    assert sinks.events[-1][:2] == ("Warning", "RetentionFailed")


async def test_an_account_problem_is_a_false_condition_without_azure() -> None:
    sinks = Sinks()
    problem = Problem(Reason.ACCOUNT_NOT_FOUND, "AzureAccount prod does not exist")
    patch = await retain(capture(), problem, Pools([]), sinks)

    assert patch is not None
    assert condition(patch)["reason"] == "RetentionFailed"
    assert "AzureAccount prod does not exist" in condition(patch)["message"]


async def test_without_retention_nothing_is_listed_or_written() -> None:
    gateway, sinks = RetentionGateway(FOUR), Sinks()
    assert await retain(capture(keep=None), gateway, Pools([]), sinks) is None
    assert gateway.deleted == []


class ReadyGateway(RetentionGateway):
    """Azure reporting the capture's version replicated everywhere."""

    async def read_definition(self, image_id: str) -> DefinitionInfo:
        return DefinitionInfo("westeurope", "Generalized")

    async def read_version(self, image_id: str, name: str) -> VersionInfo:
        replica = RegionReplica("West Europe", "Completed", 100)
        return VersionInfo(name, "Succeeded", VM, (replica,))


async def test_retention_runs_on_the_pass_that_sees_the_capture_ready() -> None:
    gateway, sinks = ReadyGateway(FOUR), Sinks()
    status = {"phase": "Replicating", "version": "1.0.3"}
    patch = await retain(capture(status), gateway, Pools([]), sinks)

    assert gateway.deleted == ["1.0.0", "1.0.1", "1.0.2"]
    assert patch is not None
    assert next(c for c in patch["conditions"] if c["type"] == "Ready")["status"] == "True"
    assert condition(patch)["status"] == "True"
