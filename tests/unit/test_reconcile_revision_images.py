"""The image each revision is written from: the spec's target, and the previous good revision
rebuilt at its own version, or refused when it cannot be rebuilt exactly."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from rollout_builders import signals
from test_reconcile_fakes import GALLERY_IMAGE, pool_object, resolved_at

from vmroll.api.pool import VirtualMachinePool, VirtualMachinePoolSpec
from vmroll.azure.errors import TerminalAzureError
from vmroll.azure.images import ImageRef, ResolvedImage
from vmroll.plan.availability import Readiness
from vmroll.plan.revision import revision_of
from vmroll.plan.rollout_model import ObservedInstance, Target
from vmroll.reconcile.revision_images import RevisionImage, revision_images
from vmroll.reconcile.spec_map import image_ref, revision_inputs

MARKETPLACE = {"marketplace": {"publisher": "Canonical", "offer": "ubuntu", "sku": "server",
                               "version": "latest"}}  # fmt: skip
GALLERY = {"gallery": {"imageId": GALLERY_IMAGE, "version": "1.2.0"}}


@dataclass
class Catalog:
    """Resolves `latest` to 1.2.0 and an exact version to itself, unless it is gone."""

    gone: frozenset[str] = frozenset()
    asked: list[str] = field(default_factory=list)

    async def resolve_image(
        self, location: str, image: ImageRef, *, max_age: float
    ) -> ResolvedImage:
        version = getattr(image, "version", "latest")
        self.asked.append(version)
        if version in self.gone:
            raise TerminalAzureError("ImageNotAvailable", f"{version} is gone")
        return resolved_at(image, "1.2.0" if version == "latest" else version)


def spec_of(image: dict[str, Any], **template: Any) -> VirtualMachinePoolSpec:
    pool = pool_object()
    pool["spec"]["image"] = image
    pool["spec"]["template"].update(template)
    return VirtualMachinePool.model_validate(pool).spec


def revision_at(spec: VirtualMachinePoolSpec, version: str) -> Target:
    return RevisionImage.of(spec, resolved_at(_ref(spec), version)).target


def _ref(spec: VirtualMachinePoolSpec) -> ImageRef:
    return image_ref(spec.image)


def instance(target: Target) -> ObservedInstance:
    return ObservedInstance(target.revision + "-vm", target.revision, target.image_version, None,
                            1, signals(Readiness.AVAILABLE))  # fmt: skip


@pytest.mark.parametrize("image", [MARKETPLACE, GALLERY], ids=["marketplace", "gallery"])
async def test_the_previous_revision_is_rebuilt_at_its_own_version(image: dict[str, Any]) -> None:
    spec = spec_of(image)
    previous = revision_at(spec, "1.1.0")
    catalog = Catalog()

    images = await revision_images(catalog, spec, resolved_at(_ref(spec), "1.2.0"), previous)

    assert images.previous is not None
    assert images.previous.target == previous
    assert images.previous.image.resolved_version == "1.1.0"
    assert images.of(previous.revision).image.image_id.endswith("1.1.0")
    assert images.of(images.wanted.target.revision).image.resolved_version == "1.2.0"
    assert revision_of(revision_inputs(spec, images.previous.image)) == previous.revision
    assert catalog.asked == ["1.1.0"]


@pytest.mark.parametrize(
    ("image", "pairs"),
    [pytest.param(MARKETPLACE, 2, id="marketplace"), pytest.param(GALLERY, 0, id="gallery")],
)
async def test_a_marketplace_vm_is_reimaged_back_and_a_gallery_vm_replaced(
    image: dict[str, Any], pairs: int
) -> None:
    spec = spec_of(image)
    good, bad = revision_at(spec, "1.1.0"), revision_at(spec, "1.2.0")

    images = await revision_images(Catalog(), spec, resolved_at(_ref(spec), "1.2.0"), good)

    found = images.reimage_pairs([instance(good), instance(bad)]).pairs
    assert len(found) == pairs
    if pairs:
        assert found == {(good.revision, bad.revision), (bad.revision, good.revision)}


async def test_a_previous_revision_of_another_template_cannot_be_rebuilt() -> None:
    previous = revision_at(spec_of(MARKETPLACE, vmSize="Standard_D4s_v5"), "1.1.0")
    spec = spec_of(MARKETPLACE)
    catalog = Catalog()

    images = await revision_images(catalog, spec, resolved_at(_ref(spec), "1.2.0"), previous)

    assert (images.previous, images.previous_rebuildable) == (None, False)
    assert catalog.asked == []


async def test_a_previous_version_azure_no_longer_has_cannot_be_rebuilt() -> None:
    spec = spec_of(GALLERY)
    previous = revision_at(spec, "1.1.0")

    images = await revision_images(
        Catalog(gone=frozenset({"1.1.0"})), spec, resolved_at(_ref(spec), "1.2.0"), previous
    )

    assert (images.previous, images.previous_rebuildable) == (None, False)


@pytest.mark.parametrize("same", [True, False], ids=["previous-is-the-target", "no-previous"])
async def test_nothing_more_is_resolved_when_the_target_is_the_previous(same: bool) -> None:
    spec = spec_of(GALLERY)
    catalog = Catalog()

    images = await revision_images(
        catalog,
        spec,
        resolved_at(_ref(spec), "1.2.0"),
        revision_at(spec, "1.2.0") if same else None,
    )

    assert (images.previous, images.previous_rebuildable, catalog.asked) == (None, True, [])
