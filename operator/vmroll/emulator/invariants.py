"""A rollout's invariants, evaluated by the emulator on every change it applies to a VM.

A test that polls from outside can miss a short excursion: one VM too many for a second, one too
few available between two polls. So the emulator checks, after each change it applies to a VM (a
create, reimage, delete or action accepted, an operation completed, and so provisioning and power
transitions), the watches of that VM's pool: watches are indexed by a tag of their selector and
keep their pool's counts VM by VM, so a write costs the same with one pool watched or a thousand.
A watch names a pool by the tags vmroll gives its VMs (`vmroll.io_pool-uid`, see
vmroll.plan.ownership) and bounds it: at most `maxOwned` VMs (replicas + maxSurge), at least
`minAvailable` available (replicas - maxUnavailable), at most `replicas` live VMs of one revision
(a second VM made for the same slot is a duplicate; one that failed or is being deleted is not
live, so its replacement is none). It also records every write that `writer` (a User-Agent
fragment, vmroll's by default) sends to an existing VM that carries no watched pool's tags:
vmroll must never touch a VM it does not own.

The emulator knows no pool spec, so the bounds come from whoever registers the watch through the
admin API (`POST /_emulator/invariants`); `GET` reads the record back. A VM is available when it
runs healthy and no operation that takes it down is under way, as vmroll's own health verdict
reads Compute: running, booted healthy, and not being created, deleted or failed. Watches and
their records are saved with `--state`, so a restarted emulator keeps checking.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from functools import cached_property
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


def _tags(record: VmRecord) -> Iterator[tuple[str, str]]:
    tags: Mapping[str, Any] = record.body.get("tags") or {}
    return ((name, value) for name, value in tags.items() if isinstance(value, str))


@dataclass(frozen=True)
class _Member:
    """What a watch counts of one VM it owns, as it was at the VM's last change."""

    up: bool
    revision: str | None
    """The revision whose slot it holds; None once it is gone (Deleting, Failed)."""
    label: str

    @classmethod
    def of(cls, record: VmRecord) -> _Member:
        gone = record.provisioning_state in GONE_STATES
        return cls(
            up=available(record),
            revision=None if gone else (record.body.get("tags") or {}).get(REVISION_TAG, ""),
            label=f"{record.name}:{record.provisioning_state}:{record.power_state}",
        )


@dataclass
class _Tally:
    """A watch's pool as counts kept up to date VM by VM, so a write costs one VM, not all."""

    members: dict[str, _Member] = field(default_factory=dict)
    up: int = 0
    by_revision: Counter[str] = field(default_factory=Counter)

    def put(self, vm: str, member: _Member | None) -> None:
        old = self.members.pop(vm, None)
        for entry, sign in ((old, -1), (member, 1)):
            if entry is None:
                continue
            self.up += sign * entry.up
            if entry.revision is not None:
                self.by_revision[entry.revision] += sign
                if not self.by_revision[entry.revision]:
                    del self.by_revision[entry.revision]
        if member is not None:
            self.members[vm] = member

    @property
    def owned(self) -> int:
        return len(self.members)

    @property
    def most_of_one_revision(self) -> int:
        return max(self.by_revision.values(), default=0)


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

    @cached_property
    def watch(self) -> WatchSpec:
        return WatchSpec.model_validate(self.spec)

    def evaluate(self, tally: _Tally, now: float) -> None:
        watch = self.watch
        owned, up, most = tally.owned, tally.up, tally.most_of_one_revision
        self.evaluations += 1
        self.peak_owned = max(self.peak_owned, owned)
        self.min_available = up if self.min_available is None else min(self.min_available, up)
        found = {
            "aboveMaxOwned": owned if owned > watch.max_owned else None,
            "belowMinAvailable": up if up < watch.min_available else None,
            "duplicate": most if watch.replicas is not None and most > watch.replicas else None,
        }
        for kind, count in found.items():
            if count is None:
                self.ongoing.pop(kind, None)
            elif self.ongoing.get(kind) != count:
                self.ongoing[kind] = count
                names = sorted(member.label for member in tally.members.values())
                self._keep(self.violations, {
                    "at": now, "kind": kind, "count": count, "owned": owned,
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
    """The watches, indexed by one tag of their selector so a write evaluates only its pools'."""

    watches: dict[str, WatchRecord] = field(default_factory=dict)
    tallies: dict[str, _Tally] = field(default_factory=dict, repr=False)
    by_tag: dict[tuple[str, str], set[str]] = field(default_factory=dict, repr=False)
    """Watch names by the first (sorted) tag of their selector: a VM without it is not theirs."""
    member_of: dict[str, set[str]] = field(default_factory=dict, repr=False)
    """Watch names by the VM (resource id, lower case) they count: a VM whose tags change leaves."""

    def register(self, spec: WatchSpec, records: Iterable[VmRecord], now: float) -> WatchRecord:
        """Start (or start again) watching; the VMs as they are now are the first evaluation."""
        record = WatchRecord(spec=spec.model_dump(by_alias=True))
        self._forget(spec.name)
        self._index(record, records)
        record.evaluate(self.tallies[spec.name], now)
        return record

    def applied(self, record: VmRecord, present: bool, now: float) -> None:
        """A change to one VM (`present` False once it is removed): its pools' watches evaluate."""
        if not self.watches:
            return
        vm = record.resource_id.lower()
        names = set(self.member_of.get(vm, ()))
        if present:
            names.update(*(self.by_tag.get(tag, ()) for tag in _tags(record)))
        for name in names:
            watch = self.watches[name]
            carries = present and _carries(record, watch.watch.selector)
            self.tallies[name].put(vm, _Member.of(record) if carries else None)
            pools = self.member_of.setdefault(vm, set())
            if carries:
                pools.add(name)
            else:
                pools.discard(name)
            if not pools:
                del self.member_of[vm]
            watch.evaluate(self.tallies[name], now)

    def written(self, record: VmRecord, user_agent: str, operation: str, now: float) -> None:
        """A write to an existing VM: recorded when its writer is watched and owns none of it."""
        if self._owners(record):
            return
        entry = {"at": now, "vm": record.name, "operation": operation, "userAgent": user_agent}
        for watch in self.watches.values():
            if watch.watch.writer and watch.watch.writer in user_agent:
                watch._keep(watch.unowned_writes, entry)

    def report(self) -> dict[str, Any]:
        return {"watches": [w.report() for w in self.watches.values()]}

    def snapshot(self) -> list[dict[str, Any]]:
        return [asdict(w) for w in self.watches.values()]

    def restore(self, data: list[dict[str, Any]], records: Iterable[VmRecord]) -> None:
        """Take saved watches back, counting the saved VMs as they are (no evaluation)."""
        self.clear()
        snapshot = list(records)
        for item in data:
            self._index(WatchRecord(**item), snapshot)

    def clear(self) -> None:
        self.watches.clear()
        self.tallies.clear()
        self.by_tag.clear()
        self.member_of.clear()

    def _owners(self, record: VmRecord) -> list[str]:
        names = set().union(*(self.by_tag.get(tag, ()) for tag in _tags(record)))
        return [name for name in names if _carries(record, self.watches[name].watch.selector)]

    def _index(self, record: WatchRecord, records: Iterable[VmRecord]) -> None:
        name, selector = record.spec["name"], record.watch.selector
        self.watches[name] = record
        self.by_tag.setdefault(min(selector.items()), set()).add(name)
        tally = self.tallies[name] = _Tally()
        for vm in records:
            if _carries(vm, selector):
                tally.put(vm.resource_id.lower(), _Member.of(vm))
                self.member_of.setdefault(vm.resource_id.lower(), set()).add(name)

    def _forget(self, name: str) -> None:
        old = self.watches.get(name)
        if old is None:
            return
        tag = min(old.watch.selector.items())
        self.by_tag[tag].discard(name)
        if not self.by_tag[tag]:
            del self.by_tag[tag]
        for vm in self.tallies.pop(name).members:
            self.member_of[vm].discard(name)
            if not self.member_of[vm]:
                del self.member_of[vm]
