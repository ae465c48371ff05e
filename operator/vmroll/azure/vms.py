"""The pool's virtual machines: observe them cheaply, and start writes that can be resumed.

Observation is one paged list of the resource group, shared by the pools in it
(reconcile/shared_listing.py) and split on this side by vmroll.plan.ownership into each pool's
VMs and look-alikes (VMs that look like the pool's without its UID tag, which vmroll reports and
never touches). The split cannot be left to ARM: `$filter` on this list only accepts a scale set
id, and `$expand=instanceView` is only allowed together with such a filter. The list carries
provisioning state, zone, tags and image; power state and guest health need the instance view of
one VM, read only when a decision needs it. A VM read by name (one a pool wrote, or a list lags)
is read with its instance view (`read_vm`): provisioning state and health in one Low-cost GET.

Writes return an `OperationRecord` (see lro.py) and never touch a VM that another pool owns.
A create is sent with `If-None-Match: *`: a PUT on the name of a VM that exists would otherwise
update that VM (a list read while VMs are created can miss one, and the name allocator would
choose its name). Compute then answers 412 `PreconditionFailed`, which the gateway gives its
meaning by reading the VM: this create's own VM (an earlier send whose answer was lost, and the
SDK's retry was refused) is `AlreadyCreated`; a name held by any other VM is `NameTaken`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, cast

from azure.core import MatchConditions
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ResourceNotModifiedError,
    map_error,
)
from azure.core.pipeline import PipelineResponse
from azure.core.pipeline.policies import ContentDecodePolicy
from azure.core.rest import AsyncHttpResponse, HttpRequest
from azure.mgmt.compute.aio import ComputeManagementClient
from azure.mgmt.compute.models import (
    VirtualMachine,
    VirtualMachineReimageParameters,
    VirtualMachineUpdate,
)
from azure.mgmt.compute.operations._operations import (
    build_virtual_machines_get_request,
    build_virtual_machines_instance_view_request,
    build_virtual_machines_list_request,
)
from azure.mgmt.core.exceptions import ARMErrorFormat

from vmroll.azure.errors import AzureGatewayError, TransientAzureError, azure_errors
from vmroll.azure.lro import LroKind, OperationRecord, Poller, start
from vmroll.azure.vm_body import VmSpec, build_vm_body
from vmroll.plan.ownership import (
    IMAGE_VERSION_TAG,
    POOL_UID_TAG,
    RELEASED_TAG,
    REVISION_TAG,
    PoolIdentity,
    partition,
)


@dataclass(frozen=True, slots=True)
class PoolVm:
    """A VM as one list call sees it."""

    name: str
    resource_id: str
    resource_group: str
    pool_uid: str
    provisioning_state: str
    zone: str | None
    revision: str | None
    image_version: str | None
    """The version the VM runs: Azure's `exactVersion`, or the version in a gallery image id,
    else vmroll's tag."""
    tags: Mapping[str, str] = field(hash=False)


@dataclass(frozen=True, slots=True)
class VmRuntime:
    """What only the instance view knows."""

    power_state: str | None
    """E.g. "running", "stopped", "deallocated" (the part after `PowerState/`)."""
    health: str | None
    """Guest health from the application health extension, e.g. "healthy"; None if absent."""
    failure_code: str | None = None
    """Why provisioning failed (`ProvisioningState/failed/<code>`), e.g. InternalExecutionError."""


@dataclass
class ListedAlike:
    """What the VMs of one list hold alike, kept once: tag names and values (a pool's UID,
    name, namespace and revision are the same on each of its VMs), whole tag sets (a pool's VMs
    at one revision carry the same), provisioning states and image versions. Of a VM listed
    this way, only its name and ID are its own: 777 -> 410 B a VM of 10,000 in one list
    (benchmarks/pool_memory.py)."""

    strings: dict[str, str] = field(default_factory=dict)
    tag_sets: dict[tuple[tuple[str, str], ...], dict[str, str]] = field(default_factory=dict)

    def string(self, value: str) -> str:
        return self.strings.setdefault(value, value)

    def tags(self, listed: Mapping[str, str]) -> Mapping[str, str]:
        key = tuple(listed.items())
        kept = self.tag_sets.get(key)
        if kept is None:
            kept = self.tag_sets[key] = {
                self.string(name): self.string(value) for name, value in key
            }
        return kept


def to_pool_vm(
    vm: Mapping[str, Any], resource_group: str, alike: ListedAlike | None = None
) -> PoolVm:
    """A VM as ARM sends it (the JSON of a list page, or the SDK's model of it, which maps the
    same names): only what vmroll reads of a listed VM is kept. `alike`, shared by the VMs of
    one list, keeps once what they hold alike. Their tags are then shared: never changed in
    place (a VM's new tags are a new dict)."""
    shared = alike if alike is not None else ListedAlike()
    tags = shared.tags(vm.get("tags") or {})
    props = vm.get("properties") or {}
    reference = (props.get("storageProfile") or {}).get("imageReference") or {}
    zones = vm.get("zones")
    version = (
        reference.get("exactVersion")
        or _gallery_version(reference.get("id"))
        or tags.get(IMAGE_VERSION_TAG)
    )
    return PoolVm(
        name=vm.get("name") or "",
        resource_id=vm.get("id") or "",
        resource_group=resource_group,
        pool_uid=tags.get(POOL_UID_TAG, ""),
        provisioning_state=shared.string(props.get("provisioningState") or ""),
        zone=zones[0] if zones else None,
        revision=tags.get(REVISION_TAG),
        image_version=shared.string(version) if version is not None else None,
        tags=tags,
    )


def accepted_create(spec: VmSpec, resource_id: str, resource_group: str) -> PoolVm:
    """The VM as a GET shows it once Azure accepted its create: Creating, as the create's body
    made it."""
    body = build_vm_body(spec)
    body["properties"]["provisioningState"] = "Creating"
    return to_pool_vm({**body, "name": spec.name, "id": resource_id}, resource_group)


def accepted_delete(vm: PoolVm) -> PoolVm:
    """The VM as a GET shows it once Azure accepted its delete."""
    return replace(vm, provisioning_state="Deleting")


def _gallery_version(image_id: str | None) -> str | None:
    parts = (image_id or "").rstrip("/").split("/")
    if len(parts) >= 2 and parts[-2].lower() == "versions":
        return parts[-1]
    return None


def to_runtime(view: Mapping[str, Any]) -> VmRuntime:
    """An instance view as ARM sends it (JSON, or the SDK's model of it, which maps the same
    names): only its power state, guest health and provisioning failure code are kept."""
    codes = [status.get("code") or "" for status in view.get("statuses") or ()]
    power = next((code.split("/", 1)[1] for code in codes if code.startswith("PowerState/")), None)
    failure = next(
        (
            code.split("/", 2)[2]
            for code in codes
            if code.lower().startswith("provisioningstate/failed/")
        ),
        None,
    )
    health_code = ((view.get("vmHealth") or {}).get("status") or {}).get("code")
    health = health_code.split("/", 1)[-1] if health_code else None
    return VmRuntime(power_state=power, health=health, failure_code=failure)


@dataclass(frozen=True, slots=True)
class ReadVm:
    """A VM read by name with its instance view."""

    vm: PoolVm
    runtime: VmRuntime


@dataclass(frozen=True)
class PoolListing:
    """The pool's VMs, and the VMs that only look like its own."""

    owned: tuple[PoolVm, ...]
    look_alikes: tuple[PoolVm, ...]
    views: Mapping[str, VmRuntime] = field(default_factory=dict)
    """Instance views read with VMs of `owned` for this listing (by `read_vm`), by name."""


ListedShare = tuple[tuple[PoolVm, ...], ...]
"""A pool's VMs and its look-alikes as one list shows them (`PoolListing` without views)."""


_READ_ERRORS: Mapping[int, type[HttpResponseError]] = {
    401: ClientAuthenticationError,
    404: ResourceNotFoundError,
    409: ResourceExistsError,
    304: ResourceNotModifiedError,
}
"""What the SDK's own reads (its list, its instance view) raise for these answers."""


async def _read_json(compute: ComputeManagementClient, request: HttpRequest) -> Any:
    """The answer to one of the SDK's requests, sent through the client's pipeline
    (credentials, retries, pacing, counting), as JSON; a failure raised as the SDK raises it.

    The body is read inside the pipeline, so that its retry policy also retries an answer cut
    off mid-body, and the pipeline's `ContentDecodePolicy` then decodes it: that decoding is
    the one kept. `response.json()` would decode the body a second time, 14 % of a fleet's
    CPU samples at 10,000 VMs (each list page decoded twice). The pipeline's answer, with what
    its policies kept, is asked for as azure-core's own pollers ask for it.
    """
    answer = cast(
        "PipelineResponse[HttpRequest, AsyncHttpResponse]",
        await compute.send_request(request, _return_pipeline_response=True),
    )
    response = answer.http_response
    if response.status_code != 200:
        map_error(response.status_code, response, _READ_ERRORS)
        raise HttpResponseError(response=response, error_format=ARMErrorFormat)
    return answer.context[ContentDecodePolicy.CONTEXT_NAME]


async def list_group_vms(
    compute: ComputeManagementClient, subscription_id: str, resource_group: str
) -> tuple[PoolVm, ...]:
    """Every VM of the resource group, whoever owns it: one paged list.

    The pages are the SDK's request (its URL and api-version, through the client's pipeline:
    credentials, retries, pacing, counting) read as JSON: the SDK's `list` builds a full model of
    each VM, every nested profile of it, only for `to_pool_vm` to keep a few fields. That was
    most of an idle operator's CPU: ~1 ms a VM, a 10,000-VM group's list ~10 s of CPU a window.
    """
    listed: list[PoolVm] = []
    alike = ListedAlike()
    request = build_virtual_machines_list_request(
        resource_group_name=resource_group, subscription_id=subscription_id
    )
    with azure_errors(f"list VMs of resource group {resource_group}"):
        while True:
            page = await _read_json(compute, request)
            listed.extend(to_pool_vm(vm, resource_group, alike) for vm in page.get("value") or ())
            next_link = page.get("nextLink")
            if not next_link:
                return tuple(listed)
            request = HttpRequest("GET", next_link, headers={"Accept": "application/json"})


def kept_unchanged(previous: Iterable[PoolVm], listed: tuple[PoolVm, ...]) -> tuple[PoolVm, ...]:
    """`listed`, each VM that `previous` (the group's latest list) holds as it is now replaced
    by that VM of `previous`. Mid-rollout a group of 20,000 VMs has two lists alive (the latest,
    and the one pools at work asked for), and the pools' memories hold VMs of the latest: a VM
    unchanged between them (most of them) is then kept once, not once a list."""
    before = {vm.resource_id: vm for vm in previous}
    return tuple(_same_or(before.get(vm.resource_id), vm) for vm in listed)


def _same_or(before: PoolVm | None, vm: PoolVm) -> PoolVm:
    return before if before is not None and before == vm else vm


def pool_listing(listed: tuple[PoolVm, ...], pool: PoolIdentity) -> PoolListing:
    """The pool's part of a resource group's listing."""
    split = partition(listed, pool)
    return PoolListing(owned=split.owned, look_alikes=split.look_alikes)


async def list_pool_vms(
    compute: ComputeManagementClient, subscription_id: str, resource_group: str, pool: PoolIdentity
) -> PoolListing:
    return pool_listing(await list_group_vms(compute, subscription_id, resource_group), pool)


async def get_pool_vm(
    compute: ComputeManagementClient, resource_group: str, name: str
) -> PoolVm | None:
    """One VM by name, read from Compute itself, without its instance view (to say whose a
    name is); None when absent."""
    with azure_errors(f"read VM {name} in resource group {resource_group}"):
        try:
            found = await compute.virtual_machines.get(resource_group, name)
        except ResourceNotFoundError:
            return None
    return to_pool_vm(found, resource_group)


async def read_vm(
    compute: ComputeManagementClient, subscription_id: str, resource_group: str, name: str
) -> ReadVm | None:
    """One VM by name, read from Compute itself (a list may lag a write), with its instance view
    (`$expand=instanceView`, the VM's `properties.instanceView`): a pool following a VM it wrote
    learns its provisioning state and its health in one read, not a GET then an instance view.
    None when absent. Read as JSON, as the list's pages and the instance view are."""
    request = build_virtual_machines_get_request(
        resource_group_name=resource_group,
        vm_name=name,
        subscription_id=subscription_id,
        expand="instanceView",
    )
    with azure_errors(f"read VM {name} in resource group {resource_group}"):
        try:
            found: Mapping[str, Any] = await _read_json(compute, request)
        except ResourceNotFoundError:
            return None
    view = (found.get("properties") or {}).get("instanceView") or {}
    return ReadVm(to_pool_vm(found, resource_group), to_runtime(view))


async def get_runtime(
    compute: ComputeManagementClient, subscription_id: str, vm: PoolVm
) -> VmRuntime | None:
    """The VM's power state and health; None when the VM is gone."""
    with azure_errors(f"read instance view of {vm.resource_id}"):
        view = await read_instance_view(compute, subscription_id, vm.resource_group, vm.name)
    return to_runtime(view) if view is not None else None


async def read_instance_view(
    compute: ComputeManagementClient, subscription_id: str, resource_group: str, name: str
) -> Mapping[str, Any] | None:
    """A VM's instance view as ARM sends it (JSON); None when the VM is gone; a failure raised
    as the SDK raises it.

    The SDK's request read as JSON, as the list's pages are: the SDK's `instance_view` builds a
    model of the whole view (every status, disk and extension) for its callers to keep three
    fields, ~1 ms of CPU a view, and a fleet at rest reads each VM's view every 600 s.
    """
    request = build_virtual_machines_instance_view_request(
        resource_group_name=resource_group, vm_name=name, subscription_id=subscription_id
    )
    try:
        view: Mapping[str, Any] = await _read_json(compute, request)
    except ResourceNotFoundError:
        return None
    return view


def vm_resource_id(subscription_id: str, resource_group: str, name: str) -> str:
    return (
        f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}"
        f"/providers/Microsoft.Compute/virtualMachines/{name}"
    )


class NameExists(AzureGatewayError):
    """A create was refused with 412: a VM of its name exists. Raised to the gateway only, which
    reads that VM to say whose it is (`AlreadyCreated` or `NameTaken`)."""


@dataclass(frozen=True)
class AlreadyCreated:
    """The create's VM exists, with the tags this create writes: an earlier send of the same
    create reached Azure (its answer was lost, and the SDK's retry was refused with 412). There
    is no operation to follow: the VM is followed as a create that was sent, by listing."""

    vm: PoolVm


class NameTaken(TransientAzureError):
    """The name the create asked for is held by another VM (another revision of the pool, a VM
    the list missed, a VM not vmroll's): nothing was sent to it. Transient: the next pass, with
    a fresh list, chooses another name. `holder` is that VM, None if it went meanwhile."""

    def __init__(self, message: str, *, name: str, holder: PoolVm | None) -> None:
        super().__init__(message, code="NameTaken")
        self.name = name
        self.holder = holder


def name_taken(spec: VmSpec, holder: PoolVm | None) -> NameTaken:
    whose = "is gone again" if holder is None else _whose(holder)
    return NameTaken(
        f"create {spec.name}: a VM of that name exists ({whose}); nothing was sent to it, "
        "the next pass chooses a name again",
        name=spec.name,
        holder=holder,
    )


def _whose(holder: PoolVm) -> str:
    if not holder.pool_uid:
        return "not a pool's VM"
    revision = f" at revision {holder.revision}" if holder.revision else ""
    return f"of pool UID {holder.pool_uid}{revision}"


async def begin_create(
    compute: ComputeManagementClient, subscription_id: str, resource_group: str, spec: VmSpec
) -> OperationRecord:
    """Start creating the VM, only if no VM of its name exists (`NameExists` else)."""
    body = VirtualMachine(build_vm_body(spec))
    resource_id = vm_resource_id(subscription_id, resource_group, spec.name)

    async def begin() -> Poller:
        try:
            return await compute.virtual_machines.begin_create_or_update(
                resource_group, spec.name, body, match_condition=MatchConditions.IfMissing
            )
        except ResourceExistsError as error:
            if error.status_code != 412:
                raise
            raise NameExists(f"create {resource_id}: the VM exists") from error

    return await start(LroKind.CREATE, resource_id, begin)


async def begin_delete(
    compute: ComputeManagementClient, vm: PoolVm, *, force: bool = False
) -> OperationRecord:
    async def begin() -> Poller:
        return await compute.virtual_machines.begin_delete(
            vm.resource_group, vm.name, force_deletion=force or None
        )

    return await start(LroKind.DELETE, vm.resource_id, begin)


async def begin_reimage(
    compute: ComputeManagementClient, vm: PoolVm, exact_version: str | None
) -> OperationRecord:
    """Reimage the OS disk, to `exact_version` when given (marketplace images)."""
    parameters = (
        VirtualMachineReimageParameters(exact_version=exact_version) if exact_version else None
    )

    async def begin() -> Poller:
        return await compute.virtual_machines.begin_reimage(vm.resource_group, vm.name, parameters)

    return await start(LroKind.REIMAGE, vm.resource_id, begin)


async def release(compute: ComputeManagementClient, vm: PoolVm, released_at: str) -> None:
    """Tag a retained VM as released, keeping its other tags; wait for the update to end."""
    await _update_tags(compute, vm, {**vm.tags, RELEASED_TAG: released_at}, "as released")


async def retag(compute: ComputeManagementClient, vm: PoolVm, tags: dict[str, str]) -> None:
    """Replace a VM's tags (after a restart's reimage); wait for the update to end."""
    await _update_tags(compute, vm, tags, "with the revision it runs")


async def _update_tags(
    compute: ComputeManagementClient, vm: PoolVm, tags: dict[str, str], why: str
) -> None:
    update = VirtualMachineUpdate(tags=tags)
    with azure_errors(f"tag {vm.resource_id} {why}"):
        poller = await compute.virtual_machines.begin_update(vm.resource_group, vm.name, update)
        await poller.result()


async def resume(compute: ComputeManagementClient, record: OperationRecord, token: str) -> Poller:
    """A poller for a recorded operation; the SDK ignores the other arguments given a token."""
    resource_group, name = _group_and_name(record.resource_id)
    operations = compute.virtual_machines
    if record.kind is LroKind.CREATE:
        return await operations.begin_create_or_update(
            resource_group, name, VirtualMachine({}), continuation_token=token
        )
    if record.kind is LroKind.DELETE:
        return await operations.begin_delete(resource_group, name, continuation_token=token)
    return await operations.begin_reimage(resource_group, name, continuation_token=token)


def _group_and_name(resource_id: str) -> tuple[str, str]:
    parts = resource_id.strip("/").split("/")
    lowered = [part.lower() for part in parts]
    group = parts[lowered.index("resourcegroups") + 1]
    return group, parts[-1]
