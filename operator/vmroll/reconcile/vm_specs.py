"""Build the boundary's `VmSpec` for a planned create: the pool's template, its new name, the
zone the planner chose, the target revision and the ownership that marks the VM as the pool's."""

from __future__ import annotations

from vmroll.api.pool import VirtualMachinePool
from vmroll.azure.images import ResolvedImage
from vmroll.azure.vm_body import OsDiskSpec, VmSpec
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
    disk = template.os_disk
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
        os_disk=OsDiskSpec(
            ephemeral=disk.ephemeral,
            size_gb=disk.size_gb,
            storage_account_type=disk.storage_account_type.value,
        ),
        custom_data=custom_data,
        tags=dict(template.tags),
        restart=restart,
    )
