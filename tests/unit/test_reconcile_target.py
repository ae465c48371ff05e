"""Which version a pool targets, by `version` and `updatePolicy.track`, and what it reports."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from test_reconcile_fakes import IMAGE, pool_object

from vmroll.api.pool import VirtualMachinePool
from vmroll.api.pool_status import ImageStatus, VirtualMachinePoolStatus
from vmroll.azure.images import ImageRef, MarketplaceRef, ResolvedImage
from vmroll.reconcile.target import held_back_version, resolve_target

NEWEST = "1.0.9"
REQUESTED = "Canonical:ubuntu:server:latest"


class Catalog:
    """Resolves `latest` to NEWEST and any other version to itself."""

    async def resolve_image(
        self, location: str, image: ImageRef, *, max_age: float
    ) -> ResolvedImage:
        assert isinstance(image, MarketplaceRef)
        version = NEWEST if image.version == "latest" else image.version
        return replace(IMAGE, resolved_version=version)


def spec(version: str, track: str) -> Any:
    pool = pool_object(updatePolicy={"track": track})
    pool["spec"]["image"]["marketplace"]["version"] = version
    return VirtualMachinePool.model_validate(pool).spec


def previous(requested: str, version: str) -> ImageStatus:
    return ImageStatus.model_validate({
        "source": "Marketplace", "requested": requested, "resolvedVersion": version,
        "resolvedAt": datetime(2026, 1, 1, tzinfo=UTC),
    })  # fmt: skip


@pytest.mark.parametrize(
    ("version", "track", "before", "target", "latest"),
    [
        pytest.param("latest", "Latest", None, NEWEST, NEWEST, id="latest-follows"),
        pytest.param("latest", "Latest", ("1.0.2",), NEWEST, NEWEST, id="latest-moves-on"),
        pytest.param("latest", "Pinned", None, NEWEST, NEWEST, id="pinned-first-resolution"),
        pytest.param("latest", "Pinned", ("1.0.2",), "1.0.2", NEWEST, id="pinned-keeps"),
        pytest.param("1.0.3", "Latest", None, "1.0.3", NEWEST, id="exact-reports-latest"),
        pytest.param("1.0.3", "Pinned", ("1.0.2",), "1.0.3", NEWEST, id="exact-wins"),
    ],
)
async def test_the_target_version_and_the_newest_reported(
    version: str, track: str, before: tuple[str] | None, target: str, latest: str
) -> None:
    old = previous(REQUESTED, before[0]) if before else None

    resolved = await resolve_target(Catalog(), spec(version, track), old)

    assert (resolved.image.resolved_version, resolved.latest_available) == (target, latest)


async def test_pinned_resolves_again_when_the_image_itself_changes() -> None:
    old = previous("Canonical:other:server:latest", "1.0.2")

    resolved = await resolve_target(Catalog(), spec("latest", "Pinned"), old)

    assert resolved.image.resolved_version == NEWEST


async def test_pinned_keeps_the_version_it_rolled_back_from() -> None:
    """After a rollback, status.image names the previous version the pool runs; `Pinned` still
    keeps the version `latest` resolved to, which the planner knows failed, so the pool stays
    rolled back instead of adopting the previous version as its target."""
    old = previous(REQUESTED, "1.0.2")

    resolved = await resolve_target(Catalog(), spec("latest", "Pinned"), old, held_back="1.0.5")

    assert resolved.image.resolved_version == "1.0.5"


def status_with(history: list[tuple[str, str, str]], update_revision: str) -> Any:
    return VirtualMachinePoolStatus.model_validate({
        "updateRevision": update_revision,
        "history": [{"revision": r, "imageVersion": v, "outcome": o,
                     "startedAt": "2026-01-01T00:00:00Z"} for r, v, o in history],
    })  # fmt: skip


@pytest.mark.parametrize(
    ("history", "update_revision", "held"),
    [
        pytest.param([("a", "1.0.2", "InProgress"), ("b", "1.0.5", "RolledBack")], "a", "1.0.5",
                     id="rolling-back"),
        pytest.param([("a", "1.0.2", "Succeeded"), ("b", "1.0.5", "RolledBack")], "a", "1.0.5",
                     id="rolled-back"),
        pytest.param([("c", "1.0.7", "InProgress"), ("a", "1.0.2", "Succeeded"),
                      ("b", "1.0.5", "RolledBack")], "c", None, id="moved-on"),
        pytest.param([("b", "1.0.5", "Succeeded"), ("a", "1.0.2", "Succeeded")], "b", None,
                     id="no-rollback"),
        pytest.param([], None, None, id="no-history"),
    ],
)  # fmt: skip
def test_the_version_a_pool_is_held_back_from(
    history: list[tuple[str, str, str]], update_revision: str | None, held: str | None
) -> None:
    assert held_back_version(status_with(history, update_revision or "")) == held
