"""Revisions: a short, stable hash of what forces a VM to change, and how it can change.

A VM's revision covers the exact image it runs and the template fields Azure cannot change on
an existing VM (size, zones, subnet, admin user, SSH keys, OS disk, cloud-init source). Tags are
left out: they change in place. A VM whose revision tag differs from the pool's target revision
is outdated. Moving it needs a replacement, except when only the version of the same
marketplace image changed: a reimage to the exact version does that in place.

Secrets are referenced, not read: a new SSH key or cloud-init under the same Secret key does not
make a new revision; pointing at another key does.

A restart stamp (`spec.template.restartedAt`) is hashed too, only when set (so that a pool that
was never restarted keeps its revisions): a new stamp is a new revision at the same image. VMs
carry the stamp they were written under in a tag, so that a VM differing from the target only by
its stamp (and its marketplace version) is known to be reimageable.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from functools import lru_cache

from vmroll.api.image import ImageSourceKind
from vmroll.api.template import SshPublicKey, VmTemplate
from vmroll.api.types import KeyReference

REVISION_LENGTH = 10
REVISIONS_KEPT = 4096
"""Revisions `revision_of` keeps: a few per pool of a fleet of a thousand."""


@dataclass(frozen=True)
class ImageIdentity:
    """The exact image a VM runs, reduced to what decides whether the VM must change.

    `name` is `publisher:offer:sku` for a marketplace image, the image definition ID for a
    gallery image and the image ID for a managed image; IDs are compared case-insensitively.
    `version` is None for a managed image.
    """

    source: ImageSourceKind
    name: str
    version: str | None

    @classmethod
    def marketplace(cls, publisher: str, offer: str, sku: str, version: str) -> ImageIdentity:
        """A marketplace image at an exact version."""
        return cls(ImageSourceKind.MARKETPLACE, f"{publisher}:{offer}:{sku}".lower(), version)

    @classmethod
    def gallery(cls, image_definition_id: str, version: str) -> ImageIdentity:
        """A gallery image definition at an exact version."""
        return cls(ImageSourceKind.GALLERY, image_definition_id.rstrip("/").lower(), version)

    @classmethod
    def managed(cls, image_id: str) -> ImageIdentity:
        """A managed image (it has no versions)."""
        return cls(ImageSourceKind.MANAGED_IMAGE, image_id.rstrip("/").lower(), None)


@dataclass(frozen=True)
class VmShape:
    """The template fields that cannot change on an existing VM."""

    vm_size: str
    zones: tuple[str, ...]
    subnet_id: str
    admin_username: str
    ssh_public_keys: tuple[str, ...]
    os_disk: tuple[bool, int | None, str]
    custom_data: str | None

    @classmethod
    def of(cls, template: VmTemplate) -> VmShape:
        """The shape a pool's template asks for."""
        keys = tuple(sorted(_ssh_key(key) for key in template.ssh_public_keys))
        data = template.custom_data
        custom_data = None
        if data is not None and data.secret_ref is not None:
            custom_data = _reference("secret", data.secret_ref)
        elif data is not None and data.config_map_ref is not None:
            custom_data = _reference("configmap", data.config_map_ref)
        disk = template.os_disk
        return cls(
            vm_size=template.vm_size.lower(),
            zones=tuple(sorted(template.zones)),
            subnet_id=template.subnet_id.rstrip("/").lower(),
            admin_username=template.admin_username,
            ssh_public_keys=keys,
            os_disk=(disk.ephemeral, disk.size_gb, str(disk.storage_account_type)),
            custom_data=custom_data,
        )


def _reference(kind: str, ref: KeyReference) -> str:
    return f"{kind}:{ref.name}/{ref.key}"


def _ssh_key(key: SshPublicKey) -> str:
    if key.secret_ref is not None:
        return _reference("secret", key.secret_ref)
    return (key.key_data or "").strip()


@dataclass(frozen=True)
class RevisionInputs:
    """Everything a revision hashes."""

    image: ImageIdentity
    shape: VmShape
    restart: str | None = None
    """The restart stamp (RFC 3339, UTC), None when the pool was never restarted."""

    def with_image_version(self, version: str | None) -> RevisionInputs:
        """The same inputs with another version of the same image."""
        return replace(self, image=replace(self.image, version=version))

    def as_vm(self, version: str | None, restart: str | None) -> RevisionInputs:
        """The same shape and image at the version and restart stamp a VM was written with."""
        return replace(self.with_image_version(version), restart=restart)


class Change(StrEnum):
    """What it takes to bring a VM to the target revision."""

    NONE = "None"
    REIMAGE = "Reimage"
    REPLACE = "Replace"


SHAPE_FIELDS = {
    "vm_size": "spec.template.vmSize",
    "zones": "spec.template.zones",
    "subnet_id": "spec.template.subnetId",
    "admin_username": "spec.template.adminUsername",
    "ssh_public_keys": "spec.template.sshPublicKeys",
    "os_disk": "spec.template.osDisk",
    "custom_data": "spec.template.customData",
}
"""Each fixed-shape field, by the spec path a person edits."""


def changed_fields(before: RevisionInputs, after: RevisionInputs) -> tuple[str, ...]:
    """Why two revisions differ, in the spec's words: the image, its version, each template
    field Azure cannot change in place, the restart stamp. Empty when they are the same."""
    reasons: list[str] = []
    if (before.image.source, before.image.name) != (after.image.source, after.image.name):
        reasons.append(f"spec.image: another image ({before.image.name} -> {after.image.name})")
    elif before.image.version != after.image.version:
        reasons.append(f"image version {before.image.version} -> {after.image.version}")
    reasons += [
        path
        for attribute, path in SHAPE_FIELDS.items()
        if getattr(before.shape, attribute) != getattr(after.shape, attribute)
    ]
    if before.restart != after.restart:
        reasons.append(f"spec.template.restartedAt {before.restart or '-'} -> {after.restart}")
    return tuple(reasons)


@lru_cache(maxsize=REVISIONS_KEPT)
def revision_of(inputs: RevisionInputs) -> str:
    """A 10-hex-digit hash of the inputs; stable across processes and Python versions.

    An unset restart stamp is left out of the hash, so revisions from before restarts existed
    stay what they were. Kept per inputs (frozen, hashable): every pass of every pool hashes its
    target's inputs again, and their dict, JSON and SHA-256 were a sixth of a pass at rest.
    """
    fields = asdict(inputs)
    if inputs.restart is None:
        del fields["restart"]
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:REVISION_LENGTH]


def change_for(
    vm_revision: str | None,
    vm_image_version: str | None,
    target: RevisionInputs,
    vm_restart: str | None = None,
) -> Change:
    """How a VM tagged with `vm_revision`, `vm_image_version` and `vm_restart` reaches `target`.

    Reimage is possible when the target is a marketplace image and the VM's revision equals
    the target's with the VM's image version and restart stamp put back: only the version or
    the stamp differs. A gallery or managed image always needs a replacement, since a reimage
    keeps the VM's image.
    """
    if vm_revision == revision_of(target):
        return Change.NONE
    if (
        target.image.source is ImageSourceKind.MARKETPLACE
        and vm_image_version is not None
        and vm_revision == revision_of(target.as_vm(vm_image_version, vm_restart))
    ):
        return Change.REIMAGE
    return Change.REPLACE
