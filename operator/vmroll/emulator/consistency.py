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

import heapq
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from vmroll.emulator.vm_model import VmRecord
from vmroll.emulator.vm_records import ListKey, list_key


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

    def shown(
        self,
        truth: Iterable[tuple[ListKey, VmRecord]],
        listed: Callable[[VmRecord], bool],
        after: ListKey | None,
    ) -> Iterator[VmRecord]:
        """What a list shows now, in list order from the first key above `after`: `truth` (in
        list order, from there) as seen `seconds` ago, with the departed VMs the list covers
        (`listed`) shown where the truth has none of theirs visible."""
        horizon = self.clock() - self.seconds
        self.departed = {k: (r, at) for k, (r, at) in self.departed.items() if at > horizon}
        covered = ((list_key(record), record) for record, _ in self.departed.values())
        departed = sorted(
            (key, record)
            for key, record in covered
            if listed(record) and (after is None or key > after)
        )
        shown: Iterable[tuple[ListKey, int, VmRecord]] = heapq.merge(
            ((key, 0, record) for key, record in truth),
            ((key, 1, record) for key, record in departed),
        )
        last: ListKey | None = None
        for key, departed_rank, record in shown:
            if key == last:
                continue
            if not departed_rank and record.created_at is not None and record.created_at > horizon:
                continue
            last = key
            yield record


@dataclass
class TagPeaks:
    """Counted as VMs come and go and their tags change (`added`, `removed`): a count over
    every VM at each write cost a create a pass over 10,000 VMs at issue 12's fleet scale."""

    peaks: defaultdict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(dict))
    live: defaultdict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    """VMs carrying each tag name and value now."""

    def added(self, record: VmRecord) -> None:
        """`record` exists now with its tags (created, or its tags written)."""
        for name, value in _tags(record).items():
            self.live[name][value] += 1
            count = self.live[name][value]
            if count > self.peaks[name].get(value, 0):
                self.peaks[name][value] = count

    def removed(self, record: VmRecord) -> None:
        """`record` is gone, or its tags are about to be written."""
        for name, value in _tags(record).items():
            self.live[name][value] -= 1

    def restored(self, records: Iterable[VmRecord]) -> None:
        """Count the VMs of a restored state, keeping no peak of theirs (as before the restart,
        a tag's peak is counted at its next write)."""
        self.live.clear()
        for record in records:
            for name, value in _tags(record).items():
                self.live[name][value] += 1

    def snapshot(self) -> dict[str, dict[str, int]]:
        return {name: dict(values) for name, values in sorted(self.peaks.items())}

    def clear(self) -> None:
        """Forget the peaks; VMs still counted are counted again at their tags' next write."""
        self.peaks.clear()


def _tags(record: VmRecord) -> dict[str, str]:
    tags: dict[str, str] = record.body.get("tags") or {}
    return tags
