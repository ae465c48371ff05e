"""After a restart's reimage, the VM's tags are brought to the revision it now runs.

A reimage to another image version needs no tag write: the version Azure reports tells which
revision the VM runs (`spec_map.as_reimaged`). A restart reimages at the same version, so
nothing Azure reports changes: without a tag update the VM would still look outdated and be
reimaged again and again. The pass that starts such a reimage notes the tags the VM is to carry
(`PoolMemory.retags`, and `retagRestart` on the reimage's record in status, so that an operator
restarted while the reimage runs still knows); a later pass, once the reimage has ended well,
writes them (one `VirtualMachines_Update`, through the write budget) before it plans. Only an
operator stopped between the reimage's end and that pass forgets: the VM is then reimaged once
more, an extra reimage, never a wrong tag.
"""

from __future__ import annotations

from dataclasses import replace

from vmroll.azure.protocol import ComputeGateway
from vmroll.azure.vms import PoolVm
from vmroll.plan.ownership import IMAGE_VERSION_TAG, RESTART_TAG, REVISION_TAG
from vmroll.plan.rollout_model import ReimageVM
from vmroll.reconcile.memory import PoolMemory, Retag


def note_restart_reimages(
    memory: PoolMemory, reimages: list[tuple[PoolVm, ReimageVM]], restart: str | None
) -> None:
    """Note the tags of each reimage that keeps the VM's version but moves its restart stamp."""
    for vm, action in reimages:
        if vm.tags.get(RESTART_TAG) != restart:
            memory.retags[vm.name] = Retag(action.revision, restart)


async def apply_retags(
    gateway: ComputeGateway, memory: PoolMemory, owned: dict[str, PoolVm]
) -> None:
    """Write the noted tags of VMs whose reimage ended well; `owned` then shows them."""
    for name, retag in list(memory.retags.items()):
        if name in memory.pending:
            continue
        del memory.retags[name]
        vm = owned.get(name)
        if vm is None or vm.provisioning_state != "Succeeded" or vm.image_version is None:
            continue
        tags = {**vm.tags, REVISION_TAG: retag.revision, IMAGE_VERSION_TAG: vm.image_version}
        if retag.restart is None:
            tags.pop(RESTART_TAG, None)
        else:
            tags[RESTART_TAG] = retag.restart
        await gateway.retag_vm(vm, tags)
        owned[name] = replace(vm, revision=retag.revision, tags=tags)
