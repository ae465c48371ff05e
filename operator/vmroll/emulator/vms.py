"""Virtual machines: Compute's rules for accepting a write, and what each operation does when done.

Every VM write is a long-running operation. Accepting it checks what Azure checks synchronously
(region, size, quota, subnet, image, a concurrent operation); the effect (provisioningState
Succeeded or Failed, power state, new OS image, deletion with its implied NICs and disks) is
applied when the operation is settled. A delete preempts an operation in progress, as in Azure.
A request repeated while the operation it started runs (the client lost the answer and sent it
again: ARM requires PUT and DELETE to be idempotent) joins that operation instead of conflicting
with it. Lists lag writes by the catalog's `listLagSeconds` (consistency.py).
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vmroll.emulator import network
from vmroll.emulator.capacity import check_cores_quota, offered_size
from vmroll.emulator.catalog import Catalog
from vmroll.emulator.consistency import ListLag, TagPeaks
from vmroll.emulator.errors import ArmError
from vmroll.emulator.faults import FaultInjector, allocation_failed
from vmroll.emulator.invariants import Invariants
from vmroll.emulator.lro import Operation, OperationStore, iso
from vmroll.emulator.validation import check_unchanged, check_vm_name
from vmroll.emulator.vm_model import (
    VmRecord,
    complete_os_profile,
    complete_storage_profile,
    echoed_properties,
    vm_id,
)
from vmroll.emulator.vm_records import ListKey, VmRecords, list_key

if TYPE_CHECKING:
    from vmroll.emulator.images.resolve import ResolvedImage
    from vmroll.emulator.images.service import ImageService

JSON = dict[str, Any]
# Where each action leaves the power state while it runs, and when it is done.
ACTIONS = {
    "start": ("starting", "running"),
    "restart": ("starting", "running"),
    "powerOff": ("stopping", "stopped"),
    "deallocate": ("deallocating", "deallocated"),
    "reimage": ("starting", "running"),
}
LATENCY_FIELDS = {"powerOff": "power_off"}


@dataclass(frozen=True)
class Accepting:
    """What an accepted write brings to the operation it starts."""

    api_version: str
    operation: str  # the route's operationId, which `lroFailed` fault rules match
    user_agent: str = ""  # who writes: invariants.py records vmroll's writes to unowned VMs


class VirtualMachines:
    def __init__(
        self,
        catalog: Catalog,
        images: ImageService,
        operations: OperationStore,
        faults: FaultInjector,
        clock: Callable[[], float],
    ) -> None:
        self.catalog, self.images, self.operations = catalog, images, operations
        self.faults, self.clock = faults, clock
        self.records = VmRecords()
        self.resources: dict[str, JSON] = {}
        self.list_lag = ListLag(catalog.list_lag_seconds, clock)
        self.peaks = TagPeaks()
        self.invariants = Invariants()
        for kind in ("create", "update", "delete", *ACTIONS):
            operations.register(f"vm.{kind}", self._complete)

    def get(self, subscription_id: str, resource_group: str, name: str) -> VmRecord | None:
        self.operations.settle()
        return self.records.get(vm_id(subscription_id, resource_group, name).lower())

    def listing(self, subscription_id: str) -> list[VmRecord]:
        """The subscription's VMs as they are now, in list order."""
        self.operations.settle()
        return [record for _, record in self.records.after(subscription_id)]

    def list_page(
        self,
        subscription_id: str,
        resource_group: str | None,
        after: ListKey | None,
        size: int,
        where: Callable[[VmRecord], bool] | None = None,
    ) -> tuple[list[VmRecord], ListKey | None]:
        """One page of what ARM's list operations show (the VMs as they were `listLagSeconds`
        ago, those of `resource_group` or of the whole subscription, `where` they match), from
        the first above `after`; and the key the next page starts after, None on the last."""
        self.operations.settle()
        subscription = subscription_id.lower()
        group = resource_group.lower() if resource_group is not None else None

        def listed(record: VmRecord) -> bool:
            return record.subscription_id.lower() == subscription and (
                group is None or record.resource_group.lower() == group
            )

        truth = self.records.after(subscription_id, after, resource_group)
        shown = self.list_lag.shown(truth, listed, after)
        page = list(itertools.islice(filter(where, shown) if where else shown, size + 1))
        more = len(page) > size
        return page[:size], list_key(page[size - 1]) if more else None

    def repeated(self, record: VmRecord, body: JSON) -> Operation | None:
        """The operation in progress on `record` that this very PUT body started, if any."""
        active = self.operations.active_for(record.resource_id)
        if active is not None and active.payload.get("request") == _digest(body):
            return active
        return None

    def restore(self, records: Iterable[VmRecord]) -> None:
        """Keep `records` (a saved state's) instead of those kept now."""
        self.records.clear()
        for record in records:
            self.records.add(record)
        self.peaks.restored(self.records.values())

    def clear(self) -> None:
        """Forget every VM, and the peaks of their tags."""
        self.records.clear()
        self.list_lag.departed.clear()
        self.peaks.restored(())
        self.peaks.clear()

    def _duration(self, kind: str) -> float:
        azure_seconds = getattr(self.catalog.latencies, LATENCY_FIELDS.get(kind, kind))
        return float(azure_seconds) * self.catalog.time_scale

    def _start(self, record: VmRecord, kind: str, request: Accepting, payload: JSON) -> Operation:
        failed = self.faults.draw(request.operation, ("lroFailed",))
        failure = None
        if failed is not None:
            failure = (
                allocation_failed()
                if failed.code in (None, "AllocationFailed")
                else {
                    "code": failed.code,
                    "message": f"The operation failed with code {failed.code} (injected).",
                }
            )
        return self.operations.start(
            subscription_id=record.subscription_id,
            location=record.location,
            kind=f"vm.{kind}",
            target=record.resource_id,
            duration=self._duration(kind),
            api_version=request.api_version,
            payload=payload,
            failure=failure,
        )

    def _check_idle(self, record: VmRecord, operation: str) -> None:
        active = self.operations.active_for(record.resource_id)
        if active is not None:
            raise ArmError(
                409,
                "Conflict",
                f"Operation '{operation}' is not allowed on VM '{record.name}' since another "
                f"operation ('{active.kind.removeprefix('vm.')}') is in progress on it. Retry "
                "after the running operation completes.",
            )

    def create(
        self,
        subscription_id: str,
        resource_group: str,
        name: str,
        location: str,
        body: JSON,
        request: Accepting,
    ) -> tuple[VmRecord, Operation]:
        properties = body["properties"]
        resource_id = vm_id(subscription_id, resource_group, name)
        size = offered_size(
            self.catalog,
            resource_id,
            subscription_id,
            location,
            properties["hardwareProfile"]["vmSize"],
            body.get("zones") or (),
        )
        check_cores_quota(
            self.catalog, subscription_id, location, size, self.listing(subscription_id)
        )
        storage = properties.get("storageProfile") or {}
        resolved = self.images.resolve_vm_image(
            subscription_id,
            location,
            storage.get("imageReference") or {},
            body.get("plan"),
            resource_id,
        )
        check_vm_name(name, resolved.os_type)
        now = self.clock()
        stored = echoed_properties(properties)
        record = VmRecord(
            subscription_id=subscription_id,
            resource_group=resource_group,
            name=name,
            location=location,
            body={},
            vcpus=size.vcpus,
            family=size.family,
            os_type=resolved.os_type,
            exact_version=resolved.exact_version,
            boots_unhealthy=resolved.boots_unhealthy,
            hyper_v_generation=resolved.hyper_v_generation,
            user_data=properties.get("userData"),
            created_at=self.clock(),
        )
        stored["storageProfile"] = complete_storage_profile(
            name,
            subscription_id,
            resource_group,
            storage,
            resolved.image_reference,
            resolved.os_type,
            int((storage.get("osDisk") or {}).get("diskSizeGB") or resolved.os_disk_size_gb),
        )
        os_profile = complete_os_profile(name, properties.get("osProfile"), resolved.os_type)
        if os_profile is not None:
            stored["osProfile"] = os_profile
        stored.update(vmId=str(uuid.uuid4()), provisioningState="Creating", timeCreated=iso(now))
        record.body = {
            "name": name,
            "id": record.resource_id,
            "type": "Microsoft.Compute/virtualMachines",
            "location": location,
            **{k: copy.deepcopy(v) for k, v in body.items() if k in ("tags", "zones", "identity")},
            "properties": stored,
        }
        if resolved.plan is not None:
            record.body["plan"] = resolved.plan
        nics = network.implied_nics(self.catalog, record, stored["networkProfile"])
        for resource in [*nics, *network.implied_disks(record, now)]:
            self.resources[resource["id"].lower()] = resource
            record.implied_resources[resource["id"]] = resource["properties"]["deleteOption"]
        self.records.add(record)
        self.peaks.added(record)
        operation = self._start(record, "create", request, {"request": _digest(body)})
        self._applied(record)
        return record, operation

    def update(self, record: VmRecord, body: JSON, request: Accepting) -> Operation:
        """A PUT or PATCH on an existing VM: tags, size and echoed settings may change."""
        self._check_idle(record, "Update")
        check_unchanged(record.body, body, record.resource_group)
        self._written(record, request)
        properties = body.get("properties") or {}
        new_size = (properties.get("hardwareProfile") or {}).get("vmSize")
        if new_size and new_size.lower() != record.properties["hardwareProfile"]["vmSize"].lower():
            size = offered_size(
                self.catalog,
                record.resource_id,
                record.subscription_id,
                record.location,
                new_size,
                record.body.get("zones") or (),
            )
            others = [r for r in self.listing(record.subscription_id) if r is not record]
            check_cores_quota(self.catalog, record.subscription_id, record.location, size, others)
            record.vcpus, record.family = size.vcpus, size.family
        if "tags" in body:
            self.peaks.removed(record)
            record.body["tags"] = copy.deepcopy(body["tags"])
            self.peaks.added(record)
        for key, value in echoed_properties(properties).items():
            if key not in ("storageProfile", "osProfile", "networkProfile"):
                record.properties[key] = copy.deepcopy(value)
        if "userData" in properties:
            record.user_data = properties["userData"]
        record.properties["provisioningState"] = "Updating"
        record.etag += 1
        operation = self._start(record, "update", request, {"request": _digest(body)})
        self._applied(record)
        return operation

    def delete(self, record: VmRecord, request: Accepting) -> Operation:
        active = self.operations.active_for(record.resource_id)
        if active is not None and active.kind == "vm.delete":
            return active
        self._written(record, request)
        if active is not None:
            self.operations.cancel(
                active,
                {
                    "code": "OperationPreempted",
                    "message": "The operation has been preempted by a more recent operation.",
                },
            )
        record.properties["provisioningState"] = "Deleting"
        operation = self._start(record, "delete", request, {})
        self._applied(record)
        return operation

    def act(
        self,
        record: VmRecord,
        action: str,
        request: Accepting,
        reimage_to: ResolvedImage | None = None,
    ) -> Operation:
        self._check_idle(record, action)
        self._written(record, request)
        if action in ("start", "restart") and record.generalized:
            raise ArmError(
                409,
                "OperationNotAllowed",
                f"Operation '{action}' is not allowed on VM '{record.name}' since the VM is "
                "generalized.",
            )
        if action in ("restart", "powerOff") and record.power_state == "deallocated":
            raise ArmError(
                409,
                "OperationNotAllowed",
                f"Operation '{action}' is not allowed on VM '{record.name}' since the VM is "
                "deallocated.",
            )
        payload: JSON = {"previous": record.power_state}
        if reimage_to is not None:
            payload["image"] = {
                "exact_version": reimage_to.exact_version,
                "image_reference": reimage_to.image_reference,
                "boots_unhealthy": reimage_to.boots_unhealthy,
                "hyper_v_generation": reimage_to.hyper_v_generation,
            }
        record.power_state = ACTIONS[action][0]
        record.properties["provisioningState"] = "Updating"
        operation = self._start(record, action, request, payload)
        self._applied(record)
        return operation

    def generalize(self, record: VmRecord, request: Accepting) -> None:
        """Mark the OS generalized: synchronous in Azure (200, no operation), and final.

        Azure wants the VM stopped first; a Linux VM deallocated, as its capture guide says.
        """
        self._check_idle(record, "generalize")
        wanted = ("deallocated",) if record.os_type == "Linux" else ("deallocated", "stopped")
        if record.power_state not in wanted:
            raise ArmError(
                409,
                "OperationNotAllowed",
                f"Operation 'generalize' is not allowed on VM '{record.name}' since the VM is "
                f"{record.power_state}. Deallocate the VM first.",
            )
        self._written(record, request)
        record.generalized = True
        record.etag += 1

    def _applied(self, record: VmRecord) -> None:
        self.invariants.applied(record, True, self.clock())

    def _written(self, record: VmRecord, request: Accepting) -> None:
        self.invariants.written(record, request.user_agent, request.operation, self.clock())

    def _complete(self, operation: Operation) -> None:
        record = self.records.get(operation.target)
        if record is None:
            return
        self._apply_completion(record, operation)
        present = self.records.get(operation.target) is record
        self.invariants.applied(record, present, operation.ended or self.clock())

    def _apply_completion(self, record: VmRecord, operation: Operation) -> None:
        kind = operation.kind.removeprefix("vm.")
        failed = operation.status != "Succeeded"
        if kind == "delete" and not failed:
            self._remove(record)
            self.list_lag.gone(record, operation.ended or self.clock())
            return
        record.properties["provisioningState"] = "Failed" if failed else "Succeeded"
        record.failure = operation.error if failed else None
        record.changed_at = operation.ended
        record.etag += 1
        if kind in ("create", "update"):
            record.power_state = "stopped" if failed and kind == "create" else "running"
        elif kind in ACTIONS:
            record.power_state = operation.payload["previous"] if failed else ACTIONS[kind][1]
            image = operation.payload.get("image")
            if image is not None and not failed:
                record.exact_version = image["exact_version"]
                record.boots_unhealthy = image["boots_unhealthy"]
                record.hyper_v_generation = image["hyper_v_generation"]
                record.properties["storageProfile"]["imageReference"] = image["image_reference"]

    def _remove(self, record: VmRecord) -> None:
        self.records.remove(record)
        self.peaks.removed(record)
        for resource_id, delete_option in record.implied_resources.items():
            if delete_option == "Delete":
                self.resources.pop(resource_id.lower(), None)
            elif resource_id.lower() in self.resources:
                network.detach(self.resources[resource_id.lower()])


def _digest(body: JSON) -> str:
    """What identifies a request body: the same JSON, whatever its key order."""
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
