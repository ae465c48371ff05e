"""A virtual machine as the emulator keeps it, and the JSON Compute answers for it.

The stored body is what a GET returns: the request's properties echoed (without secrets), plus
the read-only fields Compute adds (vmId, timeCreated, provisioningState, disk ids, exactVersion).
The instance view is derived on read from the power state and the guest's health, the way the
VM agent and the Application Health extension report them.
"""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass, field
from typing import Any

from vmroll.emulator.lro import iso

JSON = dict[str, Any]
READ_ONLY_PROPERTIES = ("vmId", "provisioningState", "instanceView", "timeCreated", "userData")
_POWER_DISPLAY = {
    "running": "VM running",
    "starting": "VM starting",
    "stopping": "VM stopping",
    "stopped": "VM stopped",
    "deallocating": "VM deallocating",
    "deallocated": "VM deallocated",
}


@dataclass
class VmRecord:
    subscription_id: str
    resource_group: str
    name: str
    location: str
    body: JSON
    vcpus: int
    family: str
    os_type: str
    exact_version: str
    boots_unhealthy: bool
    hyper_v_generation: str = "V2"
    architecture: str = "x64"  # every size the catalog offers is an x64 one
    generalized: bool = False
    power_state: str = "starting"
    user_data: str | None = None
    etag: int = 1
    failure: JSON | None = None
    changed_at: float | None = None  # when the last operation on it ended
    created_at: float | None = None  # when its create was accepted (lists lag behind it)
    implied_resources: dict[str, str] = field(default_factory=dict)

    @property
    def resource_id(self) -> str:
        return vm_id(self.subscription_id, self.resource_group, self.name)

    @property
    def properties(self) -> JSON:
        properties: JSON = self.body["properties"]
        return properties

    @property
    def provisioning_state(self) -> str:
        return str(self.properties["provisioningState"])

    def answer(
        self, *, instance_view: bool = False, user_data: bool = False, now: float = 0
    ) -> JSON:
        # Answers are serialized, never mutated: copying the two levels written here suffices.
        body = {**self.body, "etag": f'"{self.etag}"', "properties": dict(self.properties)}
        if user_data and self.user_data is not None:
            body["properties"]["userData"] = self.user_data
        if instance_view:
            body["properties"]["instanceView"] = build_instance_view(self, now)
        return body


def vm_id(subscription_id: str, resource_group: str, name: str) -> str:
    return (
        f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}"
        f"/providers/Microsoft.Compute/virtualMachines/{name}"
    )


def disk_id(subscription_id: str, resource_group: str, name: str) -> str:
    return (
        f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}"
        f"/providers/Microsoft.Compute/disks/{name}"
    )


def echoed_properties(properties: JSON) -> JSON:
    """The request's properties as Compute stores them: secrets and read-only fields dropped."""
    echoed = copy.deepcopy({k: v for k, v in properties.items() if k not in READ_ONLY_PROPERTIES})
    os_profile = echoed.get("osProfile")
    if isinstance(os_profile, dict):
        os_profile.pop("adminPassword", None)
        os_profile.pop("customData", None)
    return echoed


def complete_storage_profile(
    record_name: str,
    subscription_id: str,
    resource_group: str,
    storage: JSON,
    image_reference: JSON,
    os_type: str,
    os_disk_size_gb: int,
) -> JSON:
    """Fill the OS disk and data disks the way Compute reports them after a create."""
    storage = copy.deepcopy(storage)
    storage["imageReference"] = copy.deepcopy(image_reference)
    os_disk = storage.setdefault("osDisk", {})
    name = os_disk.setdefault("name", f"{record_name}_OsDisk_1_{uuid.uuid4().hex}")
    os_disk.setdefault("osType", os_type)
    os_disk.setdefault("createOption", "FromImage")
    os_disk.setdefault("caching", "ReadWrite")
    os_disk.setdefault("deleteOption", "Detach")
    os_disk.setdefault("diskSizeGB", os_disk_size_gb)
    managed = os_disk.setdefault("managedDisk", {})
    managed.setdefault("storageAccountType", "Premium_LRS")
    managed.setdefault("id", disk_id(subscription_id, resource_group, name))
    for data_disk in storage.setdefault("dataDisks", []):
        data_name = data_disk.setdefault(
            "name", f"{record_name}_disk{data_disk.get('lun', 0)}_{uuid.uuid4().hex}"
        )
        data_disk.setdefault("caching", "None")
        data_disk.setdefault("deleteOption", "Detach")
        data_managed = data_disk.setdefault("managedDisk", {})
        data_managed.setdefault("storageAccountType", "Premium_LRS")
        data_managed.setdefault("id", disk_id(subscription_id, resource_group, data_name))
    return storage


def complete_os_profile(name: str, os_profile: JSON | None, os_type: str) -> JSON | None:
    if os_profile is None:
        return None
    profile = copy.deepcopy(os_profile)
    profile.setdefault("computerName", name)
    profile.setdefault("secrets", [])
    profile.setdefault("allowExtensionOperations", True)
    profile.setdefault("requireGuestProvisionSignal", True)
    if os_type == "Linux":
        linux = profile.setdefault("linuxConfiguration", {})
        linux.setdefault("disablePasswordAuthentication", False)
        linux.setdefault("provisionVMAgent", True)
    else:
        windows = profile.setdefault("windowsConfiguration", {})
        windows.setdefault("provisionVMAgent", True)
        windows.setdefault("enableAutomaticUpdates", True)
    return profile


def _status(
    code: str,
    display: str,
    *,
    level: str = "Info",
    time: float | None = None,
    message: str | None = None,
) -> JSON:
    status: JSON = {"code": code, "level": level, "displayStatus": display}
    if message is not None:
        status["message"] = message
    if time is not None:
        status["time"] = iso(time)
    return status


def _provisioning_status(record: VmRecord, now: float) -> JSON:
    """The provisioning status, timed when the last operation ended (now while one runs)."""
    state = record.provisioning_state
    if record.changed_at is not None and state in ("Succeeded", "Failed"):
        now = record.changed_at
    if state == "Failed" and record.failure is not None:
        return _status(
            f"ProvisioningState/failed/{record.failure['code']}",
            "Provisioning failed",
            level="Error",
            time=now,
            message=str(record.failure["message"]),
        )
    display = "Provisioning succeeded" if state == "Succeeded" else state
    return _status(f"ProvisioningState/{state.lower()}", display, time=now)


def build_instance_view(record: VmRecord, now: float) -> JSON:
    running = record.power_state == "running" and record.provisioning_state == "Succeeded"
    healthy = running and not record.boots_unhealthy
    health = "healthy" if healthy else ("unhealthy" if running else "unknown")
    os_disk = record.properties["storageProfile"]["osDisk"]
    agent_status = (
        _status("ProvisioningState/succeeded", "Ready", time=now, message="Guest Agent is running")
        if running
        else _status(
            "ProvisioningState/Unavailable",
            "Not Ready",
            level="Warning",
            time=now,
            message="VM status blob is found but not yet populated.",
        )
    )
    extension = (
        "ApplicationHealthLinux" if record.os_type == "Linux" else "ApplicationHealthWindows"
    )
    return {
        "platformUpdateDomain": 0,
        "platformFaultDomain": 0,
        "computerName": record.properties.get("osProfile", {}).get("computerName", record.name),
        "osName": record.body["properties"]["storageProfile"]["imageReference"].get("offer", "")
        or record.os_type,
        "osVersion": record.exact_version,
        "vmAgent": {
            "vmAgentVersion": "2.12.0.2",
            "statuses": [agent_status],
            "extensionHandlers": [
                {
                    "type": f"Microsoft.ManagedServices.{extension}",
                    "typeHandlerVersion": "2.0.12",
                    "status": _status("ProvisioningState/succeeded", "Ready"),
                }
            ],
        },
        "disks": [
            {
                "name": os_disk["name"],
                "statuses": [
                    _status("ProvisioningState/succeeded", "Provisioning succeeded", time=now)
                ],
            }
        ],
        "extensions": [
            {
                "name": "HealthExtension",
                "type": f"Microsoft.ManagedServices.{extension}",
                "typeHandlerVersion": "2.0.12",
                "statuses": [
                    _status(
                        "ProvisioningState/succeeded",
                        "Provisioning succeeded",
                        time=now,
                        message="Application Health extension is enabled",
                    )
                ],
                "substatuses": [
                    _status(
                        f"ComponentStatus/ApplicationHealthState/{health}",
                        health.capitalize(),
                        level="Info" if healthy else "Warning",
                        message=f"Application found to be {health}",
                    )
                ],
            }
        ],
        "vmHealth": {
            "status": _status(
                f"HealthState/{health}",
                f"The VM is {health}",
                level="Info" if healthy else "Warning",
            )
        },
        "hyperVGeneration": record.hyper_v_generation,
        "isVMInStandbyPool": False,
        "statuses": [
            _provisioning_status(record, now),
            *([_status("OSState/generalized", "VM generalized")] if record.generalized else []),
            _status(f"PowerState/{record.power_state}", _POWER_DISPLAY[record.power_state]),
        ],
    }
