"""A rollout's invariants, evaluated by the emulator on every change it applies to a VM.

A test that polls from outside can miss a short excursion: one VM too many for a second, one too
few available between two polls. So the emulator checks, after each change it applies (a create,
reimage, delete or action accepted, an operation completed, and so provisioning and power
transitions), every registered watch. A watch names a pool by the tags vmroll gives its VMs
(`vmroll.io_pool-uid`, see vmroll.plan.ownership) and bounds it: at most `maxOwned` VMs
(replicas + maxSurge), at least `minAvailable` available (replicas - maxUnavailable), at most
`replicas` live VMs of one revision (a second VM made for the same slot is a duplicate; one that
failed or is being deleted is not live, so its replacement is none). It also
records every write that `writer` (a User-Agent fragment, vmroll's by default) sends to an existing
VM that carries no watched pool's tags: vmroll must never touch a VM it does not own.

The emulator knows no pool spec, so the bounds come from whoever registers the watch through the
admin API (`POST /_emulator/invariants`); `GET` reads the record back. A VM is available when it
runs healthy and no operation that takes it down is under way, as vmroll's own health verdict
reads Compute: running, booted healthy, and not being created, deleted or failed. Watches and
their records are saved with `--state`, so a restarted emulator keeps checking.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from vmroll.emulator.vm_model import VmRecord

REVISION_TAG = "vmroll.io_revision"
DOWN_STATES = ("Creating", "Deleting", "Failed")
GONE_STATES = ("Deleting", "Failed")
"""A VM in these no longer holds its slot: a replacement made meanwhile is not a duplicate."""
MAX_RECORDED = 200
"""Violations and unowned writes kept per watch: enough to read, bounded for a long run."""


class WatchSpec(BaseModel):
    """What `POST /_emulator/invariants` takes."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    name: str = Field(min_length=1)
    selector: dict[str, str] = Field(min_length=1, description="tags every VM of the pool carries")
    max_owned: int = Field(ge=0)
    min_available: int = Field(ge=0)
    replicas: int | None = Field(default=None, ge=0, description="most VMs of one revision")
    writer: str = "vmroll/"


def available(record: VmRecord) -> bool:
    return (
        record.power_state == "running"
        and not record.boots_unhealthy
        and record.provisioning_state not in DOWN_STATES
    )


def _carries(record: VmRecord, selector: Mapping[str, str]) -> bool:
    tags: Mapping[str, str] = record.body.get("tags") or {}
    return all(tags.get(name) == value for name, value in selector.items())


@dataclass
class WatchRecord:
    spec: dict[str, Any]
    peak_owned: int = 0
    min_available: int | None = None
    evaluations: int = 0
    violations: list[dict[str, Any]] = field(default_factory=list)
    unowned_writes: list[dict[str, Any]] = field(default_factory=list)
    ongoing: dict[str, int] = field(default_factory=dict)
    """Violations in progress by kind, with their count: one entry per excursion, not per write."""

    @property
    def watch(self) -> WatchSpec:
        return WatchSpec.model_validate(self.spec)

    def evaluate(self, records: Iterable[VmRecord], now: float) -> None:
        watch = self.watch
        owned = [r for r in records if _carries(r, watch.selector)]
        up = sum(1 for r in owned if available(r))
        self.evaluations += 1
        self.peak_owned = max(self.peak_owned, len(owned))
        self.min_available = up if self.min_available is None else min(self.min_available, up)
        by_revision: dict[str, int] = {}
        for record in owned:
            if record.provisioning_state in GONE_STATES:
                continue
            revision = (record.body.get("tags") or {}).get(REVISION_TAG, "")
            by_revision[revision] = by_revision.get(revision, 0) + 1
        found = {
            "aboveMaxOwned": len(owned) if len(owned) > watch.max_owned else None,
            "belowMinAvailable": up if up < watch.min_available else None,
            "duplicate": (
                max(by_revision.values(), default=0)
                if watch.replicas is not None
                and max(by_revision.values(), default=0) > watch.replicas
                else None
            ),
        }
        names = sorted(f"{r.name}:{r.provisioning_state}:{r.power_state}" for r in owned)
        for kind, count in found.items():
            if count is None:
                self.ongoing.pop(kind, None)
            elif self.ongoing.get(kind) != count:
                self.ongoing[kind] = count
                self._keep(self.violations, {
                    "at": now, "kind": kind, "count": count, "owned": len(owned),
                    "available": up, "vms": names,
                })  # fmt: skip

    def _keep(self, into: list[dict[str, Any]], entry: dict[str, Any]) -> None:
        if len(into) < MAX_RECORDED:
            into.append(entry)

    def report(self) -> dict[str, Any]:
        return {
            "name": self.spec["name"],
            "watch": self.spec,
            "peakOwned": self.peak_owned,
            "minAvailable": self.min_available,
            "evaluations": self.evaluations,
            "violations": list(self.violations),
            "unownedWrites": list(self.unowned_writes),
        }


@dataclass
class Invariants:
    watches: dict[str, WatchRecord] = field(default_factory=dict)

    def register(self, spec: WatchSpec, records: Iterable[VmRecord], now: float) -> WatchRecord:
        """Start (or start again) watching; the VMs as they are now are the first evaluation."""
        record = WatchRecord(spec=spec.model_dump(by_alias=True))
        self.watches[spec.name] = record
        record.evaluate(records, now)
        return record

    def applied(self, records: Iterable[VmRecord], now: float) -> None:
        if not self.watches:
            return
        snapshot = list(records)
        for watch in self.watches.values():
            watch.evaluate(snapshot, now)

    def written(self, record: VmRecord, user_agent: str, operation: str, now: float) -> None:
        """A write to an existing VM: recorded when its writer is watched and owns none of it."""
        if any(_carries(record, w.watch.selector) for w in self.watches.values()):
            return
        entry = {"at": now, "vm": record.name, "operation": operation, "userAgent": user_agent}
        for watch in self.watches.values():
            if watch.watch.writer and watch.watch.writer in user_agent:
                watch._keep(watch.unowned_writes, entry)

    def report(self) -> dict[str, Any]:
        return {"watches": [w.report() for w in self.watches.values()]}

    def snapshot(self) -> list[dict[str, Any]]:
        return [asdict(w) for w in self.watches.values()]

    def restore(self, data: list[dict[str, Any]]) -> None:
        self.watches = {item["spec"]["name"]: WatchRecord(**item) for item in data}
