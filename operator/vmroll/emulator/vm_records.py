"""The emulator's VMs, by id and in the order Compute lists them, so that a page costs its VMs.

Lists of VMs (by resource group, subscription or location) are ordered by resource group and
name. Each page used to filter and sort every VM of the subscription, and then apply the list
lag to all of them: a list of a group of 10,000 VMs (200 pages) cost 200 sorts of 10,000, and a
create summed the quota over a sorted copy of the subscription. At issue 12's fleet scale the
emulator spent a core on that, and answered the operator's requests seconds late.

`VmRecords` keeps, per subscription, the list keys in order (`bisect`), so that a page starts
where the last one ended (`after`) and reads only what it shows. A page's `$skiptoken` names the
last key it showed (vm_routes.py): a VM created or deleted between two pages neither shifts the
next page nor shows twice, as an offset would make it.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, ValuesView

from vmroll.emulator.vm_model import VmRecord

ListKey = tuple[str, str]
"""A VM's place in a list: its resource group and name, lower-cased."""


def list_key(record: VmRecord) -> ListKey:
    return record.resource_group.lower(), record.name.lower()


class VmRecords:
    def __init__(self) -> None:
        self._by_id: dict[str, VmRecord] = {}
        self._keys: dict[str, list[ListKey]] = {}
        """Per subscription (lower-cased): its VMs' keys in list order."""
        self._by_key: dict[str, dict[ListKey, VmRecord]] = {}

    def __len__(self) -> int:
        return len(self._by_id)

    def get(self, resource_id: str) -> VmRecord | None:
        return self._by_id.get(resource_id.lower())

    def values(self) -> ValuesView[VmRecord]:
        return self._by_id.values()

    def add(self, record: VmRecord) -> None:
        subscription, key = record.subscription_id.lower(), list_key(record)
        self._by_id[record.resource_id.lower()] = record
        by_key = self._by_key.setdefault(subscription, {})
        if key not in by_key:
            bisect.insort(self._keys.setdefault(subscription, []), key)
        by_key[key] = record

    def remove(self, record: VmRecord) -> None:
        subscription, key = record.subscription_id.lower(), list_key(record)
        del self._by_id[record.resource_id.lower()]
        del self._by_key[subscription][key]
        keys = self._keys[subscription]
        del keys[bisect.bisect_left(keys, key)]

    def clear(self) -> None:
        self._by_id.clear()
        self._keys.clear()
        self._by_key.clear()

    def after(
        self, subscription_id: str, after: ListKey | None = None, group: str | None = None
    ) -> Iterator[tuple[ListKey, VmRecord]]:
        """The subscription's VMs in list order, from the first key above `after`; only those
        of `group` when given."""
        subscription = subscription_id.lower()
        keys = self._keys.get(subscription, [])
        by_key = self._by_key.get(subscription, {})
        wanted = None if group is None else group.lower()
        start = after
        if wanted is not None and (start is None or start[0] < wanted):
            start = (wanted, "")
        index = 0 if start is None else bisect.bisect_right(keys, start)
        while index < len(keys):
            key = keys[index]
            if wanted is not None and key[0] != wanted:
                return
            yield key, by_key[key]
            index += 1
