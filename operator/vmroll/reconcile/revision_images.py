"""The exact image of each revision a pass may write: the spec's target, and the previous good
revision that a rollback goes back to.

A VM tagged with a revision must run that revision's image, whatever the spec, or `latest`, says
now: a rollback that created or reimaged VMs from the spec's image would put the failed version
back under the good revision's tag. The previous good revision is rebuilt from the spec's image
source at the version its history recorded, and only when those inputs hash to its revision. When
the template or the image source changed as well, it cannot be rebuilt exactly, and the planner is
told so (`RolloutSpec.previous_rebuildable`) rather than given a revision it would fake.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from vmroll.api.pool import VirtualMachinePoolSpec
from vmroll.azure.errors import TerminalAzureError
from vmroll.azure.images import ResolvedImage
from vmroll.azure.protocol import ComputeGateway
from vmroll.plan.revision import RevisionInputs, revision_of
from vmroll.plan.rollout_model import ObservedInstance, ReimagePairs, Target
from vmroll.reconcile.spec_map import reimage_pairs, revision_inputs, target_of
from vmroll.reconcile.target import resolve_version


@dataclass(frozen=True)
class RevisionImage:
    """A revision, what it hashes, and the exact image its VMs are written from."""

    target: Target
    inputs: RevisionInputs
    image: ResolvedImage

    @classmethod
    def of(cls, spec: VirtualMachinePoolSpec, image: ResolvedImage) -> RevisionImage:
        inputs = revision_inputs(spec, image)
        return cls(target_of(image, revision_of(inputs)), inputs, image)


@dataclass(frozen=True)
class RevisionImages:
    wanted: RevisionImage
    """The spec's target."""
    previous: RevisionImage | None
    """The previous good revision, when it differs from the spec's and can be rebuilt."""
    previous_rebuildable: bool
    """False when there is a previous good revision that cannot be rebuilt exactly."""

    def of(self, revision: str) -> RevisionImage:
        """The image of a revision the planner targeted (the spec's or the previous good)."""
        if self.previous is not None and revision == self.previous.target.revision:
            return self.previous
        assert revision == self.wanted.target.revision, f"no image for revision {revision}"
        return self.wanted

    def reimage_pairs(self, instances: Iterable[ObservedInstance]) -> ReimagePairs:
        """The changes a reimage can make, towards either revision."""
        listed = tuple(instances)
        targets = [t for t in (self.wanted, self.previous) if t is not None]
        pairs = (reimage_pairs(listed, t.inputs, t.target.revision).pairs for t in targets)
        return ReimagePairs(frozenset().union(*pairs))


async def revision_images(
    gateway: ComputeGateway,
    spec: VirtualMachinePoolSpec,
    wanted: ResolvedImage,
    previous_good: Target | None,
) -> RevisionImages:
    """The images of the spec's target and of `previous_good` (resolved only when it differs,
    through the shared cache). A previous version Azure no longer has cannot be rebuilt."""
    target = RevisionImage.of(spec, wanted)
    if previous_good is None or previous_good.revision == target.target.revision:
        return RevisionImages(target, None, previous_rebuildable=True)
    inputs = target.inputs.with_image_version(previous_good.image_version or None)
    if revision_of(inputs) != previous_good.revision:
        return RevisionImages(target, None, previous_rebuildable=False)
    try:
        image = await resolve_version(gateway, spec, previous_good.image_version)
    except TerminalAzureError:
        return RevisionImages(target, None, previous_rebuildable=False)
    previous = RevisionImage(target_of(image, previous_good.revision), inputs, image)
    return RevisionImages(target, previous, previous_rebuildable=True)
