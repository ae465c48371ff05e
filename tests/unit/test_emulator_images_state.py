"""Run-time publications and terms agreements: how they change resolution, and their replay."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from vmroll.emulator.errors import ArmError
from vmroll.emulator.images.catalog import default_image_catalog
from vmroll.emulator.images.service import ImageService
from vmroll.emulator.images.state import (
    GalleryPublication,
    GalleryVersionDeletion,
    GalleryVersionUpdate,
    MarketplacePublication,
)

SUB = "00000000-0000-4000-8000-00000000a001"
GROUP = f"/subscriptions/{SUB}/resourceGroups/rg-vmroll/providers/Microsoft.Compute"
WEB = f"{GROUP}/galleries/vmrollGallery/images/ubuntu-web"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def any_group(subscription_id: str, name: str) -> str:
    """These tests serve no route: every resource group exists."""
    return name


def _service() -> ImageService:
    return ImageService(default_image_catalog(), resource_groups=any_group, clock=lambda: NOW)


def _ubuntu(version: str) -> dict[str, Any]:
    return {
        "publisher": "Canonical",
        "offer": "ubuntu-24_04-lts",
        "sku": "server",
        "version": version,
    }


def test_published_versions_change_latest_and_survive_snapshot_restore() -> None:
    service = _service()
    service.publish(
        MarketplacePublication(
            publisher="Canonical",
            offer="ubuntu-24_04-lts",
            sku="server",
            version="24.04.202611200",
            locations=["eastus"],
            boots_unhealthy=True,
        )
    )
    service.publish(
        GalleryPublication.model_validate(
            {
                "subscriptionId": SUB,
                "resourceGroup": "rg-vmroll",
                "gallery": "vmrollGallery",
                "image": "ubuntu-web",
                "name": "1.10.0",
                "targetRegions": ["eastus"],
            }
        )
    )
    snapshot = service.snapshot()

    def latest(svc: ImageService) -> tuple[str, bool, str]:
        marketplace = svc.resolve_vm_image(SUB, "eastus", _ubuntu("latest"), None)
        gallery = svc.resolve_vm_image(SUB, "eastus", {"id": WEB}, None)
        return marketplace.exact_version, marketplace.boots_unhealthy, gallery.exact_version

    assert latest(service) == ("24.04.202611200", True, "1.10.0")
    assert latest(_service()) == ("24.04.202610220", False, "1.1.0")
    restored = _service()
    restored.restore(snapshot)
    assert latest(restored) == ("24.04.202611200", True, "1.10.0")
    assert restored.snapshot() == snapshot
    restored.restore({})
    assert latest(restored) == ("24.04.202610220", False, "1.1.0")


@pytest.mark.parametrize(
    ("publication", "status"),
    [
        (
            MarketplacePublication(
                publisher="canonical",
                offer="ubuntu-24_04-lts",
                sku="server",
                version="24.04.202611100",
                locations=["eastus"],
            ),
            409,
        ),
        (
            GalleryPublication.model_validate(
                {
                    "subscriptionId": SUB,
                    "resourceGroup": "rg-vmroll",
                    "gallery": "vmrollGallery",
                    "image": "no-such-definition",
                    "name": "1.0.0",
                    "targetRegions": ["eastus"],
                }
            ),
            404,
        ),
    ],
    ids=["existing-version", "unknown-definition"],
)
def test_publishing_refuses(
    publication: MarketplacePublication | GalleryPublication, status: int
) -> None:
    service = _service()
    with pytest.raises(ArmError) as caught:
        service.publish(publication)
    assert caught.value.status == status
    assert service.snapshot()["publications"] == []


def _update(**changes: Any) -> GalleryVersionUpdate:
    return GalleryVersionUpdate.model_validate(
        {
            "subscriptionId": SUB,
            "resourceGroup": "rg-vmroll",
            "gallery": "vmrollGallery",
            "image": "ubuntu-web",
            **changes,
        }
    )


@pytest.mark.parametrize(
    ("update", "eastus_latest"),
    [
        (_update(name="1.3.0", targetRegions=["westeurope", "eastus"]), "1.3.0"),
        (_update(name="1.2.0", excludeFromLatest=False), "1.2.0"),
        (_update(name="1.1.0", excludeFromLatest=True), "1.0.0"),
        (
            _update(
                name="1.3.0",
                targetRegions=["westeurope", {"name": "eastus", "state": "Replicating"}],
            ),
            "1.1.0",
        ),
    ],
    ids=["replication-finished", "back-in-latest", "excluded", "still-replicating"],
)
def test_gallery_version_updates_move_latest_and_are_replayed(
    update: GalleryVersionUpdate, eastus_latest: str
) -> None:
    service = _service()
    service.publish(update)
    restored = _service()
    restored.restore(service.snapshot())

    for svc in (service, restored):
        assert svc.resolve_vm_image(SUB, "eastus", {"id": WEB}, None).exact_version == eastus_latest


def test_updating_a_version_that_does_not_exist_is_refused() -> None:
    with pytest.raises(ArmError) as caught:
        _service().publish(_update(name="7.0.0", excludeFromLatest=True))
    assert (caught.value.status, caught.value.code) == (404, "ResourceNotFound")


def test_a_deleted_version_stays_deleted_after_replay() -> None:
    service = _service()
    deletion = GalleryVersionDeletion.model_validate(
        {
            "subscriptionId": SUB,
            "resourceGroup": "rg-vmroll",
            "gallery": "vmrollGallery",
            "image": "ubuntu-web",
            "name": "1.1.0",
        }
    )
    service.publish(deletion)
    restored = _service()
    restored.restore(service.snapshot())

    for svc in (service, restored):
        assert svc.resolve_vm_image(SUB, "eastus", {"id": WEB}, None).exact_version == "1.0.0"
        with pytest.raises(ArmError, match="GalleryImageNotFound"):
            svc.resolve_vm_image(SUB, "eastus", {"id": f"{WEB}/versions/1.1.0"}, None)


def test_a_versions_tags_are_kept_replaced_and_replayed() -> None:
    where = {
        "subscriptionId": SUB,
        "resourceGroup": "rg-vmroll",
        "gallery": "vmrollGallery",
        "image": "ubuntu-web",
    }
    service = _service()
    captured = {**where, "name": "2.0.0", "targetRegions": ["westeurope"]}
    service.publish(
        GalleryPublication.model_validate({**captured, "tags": {"vmroll.io_capture": "ns/a"}})
    )
    service.publish(GalleryVersionUpdate.model_validate({**where, "name": "1.0.0", "tags": {}}))
    service.publish(
        GalleryVersionUpdate.model_validate({**where, "name": "1.1.0", "tags": {"team": "b"}})
    )
    service.publish(GalleryVersionUpdate.model_validate({**where, "name": "2.0.0"}))
    restored = _service()
    restored.restore(service.snapshot())

    for svc in (service, restored):
        tags = {
            name: version.tags
            for name in ("1.0.0", "1.1.0", "2.0.0")
            if (version := svc.gallery_version({**where, "name": name})) is not None
        }
        assert tags == {"1.0.0": {}, "1.1.0": {"team": "b"}, "2.0.0": {"vmroll.io_capture": "ns/a"}}
