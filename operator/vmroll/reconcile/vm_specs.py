"""Build the boundary's `VmSpec` for a planned create: the pool's template, its new name, the
zone the planner chose, the target revision and the ownership that marks the VM as the pool's;
or an image capture's builder, from the same kind of template, tagged as the capture's."""

from __future__ import annotations

from vmroll.api.capture import Builder
from vmroll.api.pool import VirtualMachinePool
from vmroll.api.template import VmTemplate
from vmroll.azure.images import ResolvedImage
from vmroll.azure.vm_body import OsDiskSpec, VmSpec
from vmroll.plan.capture_builder import CaptureIdentity, builder_tags
from vmroll.plan.ownership import PoolIdentity
from vmroll.plan.rollout_model import CreateVM


def vm_spec(
    pool: VirtualMachinePool,
    image: ResolvedImage,
    action: CreateVM,
    name: str,
    ssh_public_keys: tuple[str, ...],
    custom_data: bytes | None,
    restart: str | None = None,
) -> VmSpec:
    spec, meta = pool.spec, pool.metadata
    template = spec.template
    return VmSpec(
        name=name,
        location=spec.location,
        size=template.vm_size,
        image=image,
        subnet_id=template.subnet_id,
        admin_username=template.admin_username,
        owner=PoolIdentity(namespace=meta.namespace or "", name=meta.name, uid=meta.uid or ""),
        revision=action.revision,
        ssh_public_keys=ssh_public_keys,
        zone=action.zone,
        os_disk=_os_disk(template),
        custom_data=custom_data,
        tags=dict(template.tags),
        restart=restart,
    )


def builder_vm_spec(
    builder: Builder,
    image: ResolvedImage,
    capture: CaptureIdentity,
    name: str,
    ssh_public_keys: tuple[str, ...],
    custom_data: bytes | None,
) -> VmSpec:
    """The builder VM: no zone, no revision; its tags say which capture it belongs to."""
    template = builder.template
    return VmSpec(
        name=name,
        location=builder.location,
        size=template.vm_size,
        image=image,
        subnet_id=template.subnet_id,
        admin_username=template.admin_username,
        owner=PoolIdentity(namespace=capture.namespace, name=capture.name, uid=capture.uid),
        revision="",
        ssh_public_keys=ssh_public_keys,
        os_disk=_os_disk(template),
        custom_data=custom_data,
        all_tags=builder_tags(template.tags, capture),
    )


def _os_disk(template: VmTemplate) -> OsDiskSpec:
    disk = template.os_disk
    return OsDiskSpec(
        ephemeral=disk.ephemeral,
        size_gb=disk.size_gb,
        storage_account_type=disk.storage_account_type.value,
    )
