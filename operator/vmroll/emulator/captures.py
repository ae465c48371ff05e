"""Gallery image versions captured from VMs: the core's side of `CaptureHost`.

The image side checks a capture request against its definition and records the version
`Creating`, every target region `Replicating`; this module runs it as ARM does, as a long-running
operation whose status the SDK polls. The copy takes the catalog's `capture` latency, then each
target region completes `replicate` seconds after the one before it (the order the version lists
them), and the operation succeeds when the last one has. Each step is an operation in the store,
so it is settled lazily, persisted with `--state`, and resumed after a restart like a VM's.
"""

from __future__ import annotations

from typing import Any

from vmroll.emulator.catalog import Catalog
from vmroll.emulator.images.gallery_writes import SourceVm
from vmroll.emulator.images.service import ImageService
from vmroll.emulator.images.state import parse_publication
from vmroll.emulator.lro import Operation, OperationStore
from vmroll.emulator.vms import VirtualMachines

CAPTURE, REPLICATE = "gallery.capture", "gallery.replicate"


class Captures:
    def __init__(
        self,
        catalog: Catalog,
        images: ImageService,
        operations: OperationStore,
        vms: VirtualMachines,
    ) -> None:
        self._catalog, self._images, self._operations, self._vms = catalog, images, operations, vms
        operations.register(CAPTURE, self._captured)
        operations.register(REPLICATE, self._replicated)

    def settle(self) -> None:
        self._operations.settle()

    def source_vm(self, resource_id: str) -> SourceVm | None:
        self._operations.settle()
        record = self._vms.records.get(resource_id)
        if record is None:
            return None
        return SourceVm(
            resource_id=record.resource_id,
            location=record.location,
            os_type=record.os_type,
            hyper_v_generation=record.hyper_v_generation,
            architecture=record.architecture,
            generalized=record.generalized,
        )

    def start_capture(self, version_id: str, where: dict[str, str], api_version: str) -> None:
        version = self._images.gallery_version(where)
        if version is None:
            return
        scale = self._catalog.time_scale
        copy = self._catalog.latencies.capture * scale
        each = self._catalog.latencies.replicate * scale
        home = version.target_regions[0].name
        for index, region in enumerate(version.target_regions):
            self._operations.start(
                subscription_id=where["subscriptionId"],
                location=home,
                kind=REPLICATE,
                target=f"{version_id}#{region.name}",
                duration=copy + (index + 1) * each,
                api_version=api_version,
                payload={"where": where, "region": region.name},
            )
        self._operations.start(
            subscription_id=where["subscriptionId"],
            location=home,
            kind=CAPTURE,
            target=version_id,
            duration=copy + len(version.target_regions) * each,
            api_version=api_version,
            payload={"where": where},
        )

    def capture_headers(self, version_id: str) -> dict[str, str] | None:
        operation = self._operations.active_for(version_id)
        if operation is None or operation.kind != CAPTURE:
            return None
        headers = self._operations.urls(operation)
        if self._catalog.lro_retry_after_seconds:
            headers["Retry-After"] = str(self._catalog.lro_retry_after_seconds)
        return headers

    def cancel_capture(self, version_id: str) -> None:
        """A version deleted while it is captured or replicated: its steps end Canceled."""
        for suffix in ["", *self._region_suffixes(version_id)]:
            operation = self._operations.active_for(version_id + suffix)
            if operation is not None:
                self._operations.cancel(
                    operation,
                    {"code": "Canceled", "message": "The gallery image version was deleted."},
                )

    def _region_suffixes(self, version_id: str) -> list[str]:
        return [
            f"#{op['payload']['region']}"
            for op in self._operations.snapshot()
            if op["kind"] == REPLICATE and op["target"].lower().startswith(version_id + "#")
        ]

    def _replicated(self, operation: Operation) -> None:
        where = operation.payload["where"]
        version = self._images.gallery_version(where)
        if version is None:
            return
        regions: list[dict[str, Any]] = [
            {
                **r.model_dump(by_alias=True),
                "state": "Completed" if r.name == operation.payload["region"] else r.state,
            }
            for r in version.target_regions
        ]
        self._images.publish(
            parse_publication("galleryUpdate", {**where, "targetRegions": regions})
        )

    def _captured(self, operation: Operation) -> None:
        where = operation.payload["where"]
        if self._images.gallery_version(where) is None:
            return
        self._images.publish(
            parse_publication("galleryUpdate", {**where, "provisioningState": "Succeeded"})
        )
