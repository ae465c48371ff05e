"""Translate the pool's API models into the boundary's and the rollout planner's own types.

The API models (pydantic, camelCase) are what users write. `vmroll.azure` never sees them: it
takes plain frozen records (image references, purchase plans), mapped here, and its resolved
images come back here as the status's `ImageStatus`. The rollout planner (`plan.rollout` and
its parts) takes its own records too (`RolloutSpec`), because its inputs mix the spec, the
status and Azure's listing. Other `plan` modules read API models directly where the decision is
about the object as written (conditions, an account's access and trust, a template's revision
hash): mapping those would copy the models field for field. import-linter contracts hold each
of these lines (pyproject.toml).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime

from vmroll.api.image import ImageSource, PurchasePlan
from vmroll.api.pool import VirtualMachinePoolSpec
from vmroll.api.pool_status import ImageStatus
from vmroll.api.strategy import StrategyType
from vmroll.api.template import VmTemplate
from vmroll.azure import images
from vmroll.azure.vms import PoolVm
from vmroll.plan.ownership import IMAGE_VERSION_TAG, RESTART_TAG
from vmroll.plan.revision import (
    Change,
    ImageIdentity,
    RevisionInputs,
    VmShape,
    change_for,
    revision_of,
)
from vmroll.plan.rollout_model import (
    ObservedInstance,
    ReimagePairs,
    RollbackPolicy,
    RolloutSpec,
    RolloutStrategy,
    Target,
)

_STRATEGIES = {
    StrategyType.ROLLING_REIMAGE: RolloutStrategy.ROLLING_REIMAGE,
    StrategyType.ROLLING_REPLACE: RolloutStrategy.ROLLING_REPLACE,
    StrategyType.ON_DELETE: RolloutStrategy.ON_DELETE,
}


def image_ref(image: ImageSource) -> images.ImageRef:
    if image.marketplace is not None:
        m = image.marketplace
        plan = _plan(image.plan)
        return images.MarketplaceRef(m.publisher, m.offer, m.sku, m.version, plan)
    if image.gallery is not None:
        return images.GalleryRef(image.gallery.image_id, image.gallery.version)
    assert image.managed_image_id is not None  # the model guarantees exactly one source
    return images.ManagedImageRef(image.managed_image_id)


def _plan(plan: PurchasePlan | None) -> images.MarketplacePlan | None:
    if plan is None:
        return None
    return images.MarketplacePlan(name=plan.name, publisher=plan.publisher, product=plan.product)


def requested_text(image: ImageSource) -> str:
    return images.describe(image_ref(image))


def image_status(
    image: ImageSource, resolved: images.ResolvedImage, resolved_at: datetime, latest: str | None
) -> ImageStatus:
    plan = resolved.plan
    api_plan = (
        None
        if plan is None
        else PurchasePlan(name=plan.name, product=plan.product, publisher=plan.publisher)
    )
    return ImageStatus(
        source=image.kind,
        requested=requested_text(image),
        resolved_version=resolved.resolved_version,
        image_id=resolved.image_id,
        plan=api_plan,
        resolved_at=resolved_at,
        latest_available=latest,
    )


def revision_inputs(spec: VirtualMachinePoolSpec, resolved: images.ResolvedImage) -> RevisionInputs:
    """What the revision hashes: the exact image and the template's fixed shape."""
    ref = resolved.image_reference
    if resolved.source is images.AzureImageKind.MARKETPLACE:
        image = ImageIdentity.marketplace(
            ref["publisher"], ref["offer"], ref["sku"], resolved.resolved_version or ""
        )
    elif resolved.source is images.AzureImageKind.GALLERY:
        definition = resolved.image_id.rsplit("/versions/", 1)[0]
        image = ImageIdentity.gallery(definition, resolved.resolved_version or "")
    else:
        image = ImageIdentity.managed(resolved.image_id)
    return RevisionInputs(
        image=image, shape=VmShape.of(spec.template), restart=restart_stamp(spec.template)
    )


def restart_stamp(template: VmTemplate) -> str | None:
    """`restartedAt` as one canonical text (RFC 3339, UTC, to the second), whatever its form."""
    if template.restarted_at is None:
        return None
    instant = template.restarted_at
    if instant.tzinfo is not None:
        instant = instant.astimezone(UTC)
    return instant.strftime("%Y-%m-%dT%H:%M:%SZ")


def reimage_pairs(
    instances: Iterable[ObservedInstance], target: RevisionInputs, revision: str
) -> ReimagePairs:
    """The (VM revision, target revision) changes a reimage can make for these VMs."""
    pairs = {
        (i.revision, revision)
        for i in instances
        if change_for(i.revision, i.image_version or None, target, i.restart) is Change.REIMAGE
    }
    return ReimagePairs(frozenset(pairs))


def as_reimaged(vm: PoolVm, target: RevisionInputs) -> PoolVm:
    """The VM with the revision it runs now, after a reimage its tags do not know about.

    A reimage changes the OS disk's image version but not the VM's tags: the revision tag still
    names the revision the VM was created at. When the VM runs another version than its tag
    says, and its tagged revision is the target's shape at the tagged version, it now runs the
    target's shape at the version Azure reports. Derived, not written, so a crash between a
    reimage and a tag update cannot leave a VM that looks outdated forever.
    """
    tagged_version = vm.tags.get(IMAGE_VERSION_TAG)
    restart = vm.tags.get(RESTART_TAG)
    if (
        tagged_version is None
        or vm.image_version is None
        or tagged_version == vm.image_version
        or vm.revision != revision_of(target.as_vm(tagged_version, restart))
    ):
        return vm
    return replace(vm, revision=revision_of(target.as_vm(vm.image_version, restart)))


def target_of(resolved: images.ResolvedImage, revision: str) -> Target:
    return Target(revision=revision, image_version=resolved.resolved_version or "")


def rollout_spec(
    spec: VirtualMachinePoolSpec, target: Target, *, previous_rebuildable: bool = True
) -> RolloutSpec:
    strategy = spec.strategy
    return RolloutSpec(
        replicas=spec.replicas,
        target=target,
        strategy=_STRATEGIES[strategy.type],
        max_surge=strategy.rolling_update.max_surge,
        max_unavailable=strategy.rolling_update.max_unavailable,
        min_ready_seconds=strategy.min_ready_seconds,
        progress_deadline_seconds=strategy.progress_deadline_seconds,
        rollback=RollbackPolicy(
            on_failure=strategy.rollback.on_failure,
            max_unhealthy_percent=strategy.rollback.max_unhealthy_percent,
        ),
        paused=strategy.paused,
        zones=tuple(spec.template.zones),
        health_grace_seconds=strategy.rollback.health_grace_seconds,
        previous_rebuildable=previous_rebuildable,
    )
