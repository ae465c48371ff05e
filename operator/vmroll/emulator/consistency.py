"""ARM's eventual consistency for lists, and the peak VM counts per tag an outside poll can miss.

`ListLag`: a VM list (by resource group, subscription or location) does not show a VM whose
create was accepted less than `listLagSeconds` ago, and still shows (as last seen) a VM deleted
less than `listLagSeconds` ago, while a GET by name sees the truth at once. This is how Azure
behaves for reads served from a cache or a replica rather than the resource provider itself:

- The project's Azure reference (`/work/shared/azure-reference/`: Microsoft's REST specs and ARM
  docs) holds nothing on list freshness; the Compute swagger promises no read-your-writes.
- Azure/AKS issue #1964: an Azure Resource Manager engineer explains that ARM's `/resources`
  list "is served from a regional cache ..., which is eventual consistent, and not real time",
  and that lists by resource type are real time, except in cases the thread goes on to find
  (`az vmss list --resource-group` was not).
- Microsoft Learn, "Azure Resources Graph (ARG) GET/LIST API": ARM can route GETs and LISTs to
  Resource Graph, whose changes arrive within seconds, not at once (Azure/azure-dev issue #540
  quotes its objective: 95 % of changes within 30 s).
- MicrosoftDocs azure-docs, `azure-resource-manager/management/overview.md` (2024): control-plane
  operations go through the resource group's region "to ensure state consistency"; reads served
  elsewhere carry no such promise.

So a client must not read "not in the list" as "does not exist" right after a write: the
emulator makes that mistake visible. The lag is the catalog's `listLagSeconds`, changed at run
time through the admin API (`/_emulator/consistency`); 0 (the default) lists the truth.

`TagPeaks`: for every tag name and value, the most VMs carrying it that ever existed at once,
counted as each write is applied (a create accepted, tags changed), so that a surge bound is
checked on every change and a short excursion cannot slip between two polls of a test.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from vmroll.emulator.vm_model import VmRecord


@dataclass
class ListLag:
    seconds: float
    clock: Callable[[], float]
    departed: dict[str, tuple[VmRecord, float]] = field(default_factory=dict)
    """Deleted VMs by lower-cased id, with when they went; kept only while lists still show
    them (not saved with `--state`: a restarted emulator lists the truth)."""

    def gone(self, record: VmRecord, at: float) -> None:
        if self.seconds > 0:
            self.departed[record.resource_id.lower()] = (record, at)

    def visible(self, records: Iterable[VmRecord]) -> list[VmRecord]:
        """What a list shows now: `records` (the truth) as seen `seconds` ago."""
        now = self.clock()
        horizon = now - self.seconds
        self.departed = {k: (r, at) for k, (r, at) in self.departed.items() if at > horizon}
        shown = {
            r.resource_id.lower(): r
            for r in records
            if r.created_at is None or r.created_at <= horizon
        }
        for key, (record, _) in self.departed.items():
            shown.setdefault(key, record)
        return list(shown.values())


@dataclass
class TagPeaks:
    peaks: defaultdict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(dict))

    def note(self, record: VmRecord, records: Iterable[VmRecord]) -> None:
        """Count, after a write to `record`, the VMs sharing each of its tags."""
        tags: dict[str, str] = record.body.get("tags") or {}
        if not tags:
            return
        others = [r.body.get("tags") or {} for r in records]
        for name, value in tags.items():
            count = sum(1 for other in others if other.get(name) == value)
            if count > self.peaks[name].get(value, 0):
                self.peaks[name][value] = count

    def snapshot(self) -> dict[str, dict[str, int]]:
        return {name: dict(values) for name, values in sorted(self.peaks.items())}

    def clear(self) -> None:
        self.peaks.clear()
