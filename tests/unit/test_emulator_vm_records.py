"""The emulator's VMs in list order (emulator/vm_records.py) and its live tag counts
(consistency.TagPeaks): what a page reads from, and what a surge bound is checked against."""

from __future__ import annotations

from vmroll.emulator.consistency import TagPeaks
from vmroll.emulator.vm_model import VmRecord
from vmroll.emulator.vm_records import ListKey, VmRecords, list_key

SUBSCRIPTION = "00000000-0000-4000-8000-00000000A001"


def record(
    group: str, name: str, subscription: str = SUBSCRIPTION, tags: dict[str, str] | None = None
) -> VmRecord:
    return VmRecord(
        subscription_id=subscription,
        resource_group=group,
        name=name,
        location="westeurope",
        body={"tags": tags or {}},
        vcpus=2,
        family="standardBSFamily",
        os_type="Linux",
        exact_version="1.0.0",
        boots_unhealthy=False,
    )


def names(records: VmRecords, after: ListKey | None = None, group: str | None = None) -> list[str]:
    return [f"{r.resource_group}/{r.name}" for _, r in records.after(SUBSCRIPTION, after, group)]


def test_vms_are_read_in_list_order_from_after_a_key_within_a_group() -> None:
    records = VmRecords()
    for group, name in [("rg-b", "web-1"), ("RG-A", "Web-2"), ("rg-b", "web-0"), ("rg-a", "x")]:
        records.add(record(group, name))
    records.add(record("rg-a", "other-subscription", subscription="other"))

    everything = names(records)
    in_b = names(records, group="RG-B")
    after_first = names(records, after=("rg-a", "web-2"))
    after_in_a = names(records, after=("rg-a", "web-2"), group="rg-a")
    before_group = names(records, after=("rg-0", "zzz"), group="rg-b")

    assert everything == ["RG-A/Web-2", "rg-a/x", "rg-b/web-0", "rg-b/web-1"]
    assert in_b == ["rg-b/web-0", "rg-b/web-1"]
    assert after_first == ["rg-a/x", "rg-b/web-0", "rg-b/web-1"]
    assert after_in_a == ["rg-a/x"]
    assert before_group == ["rg-b/web-0", "rg-b/web-1"]


def test_a_removed_vm_leaves_the_order_and_its_id() -> None:
    records = VmRecords()
    kept, gone = record("rg", "web-0"), record("rg", "web-1")
    records.add(kept)
    records.add(gone)

    records.remove(gone)

    assert names(records) == ["rg/web-0"]
    assert records.get(gone.resource_id.upper()) is None
    assert records.get(kept.resource_id.upper()) is kept
    assert len(records) == 1
    assert list_key(gone) == ("rg", "web-1")


def test_peaks_follow_vms_as_they_come_go_and_change_tags() -> None:
    peaks = TagPeaks()
    a0, a1 = record("rg", "a-0", tags={"pool": "a"}), record("rg", "a-1", tags={"pool": "a"})
    peaks.added(a0)
    peaks.added(a1)
    peaks.removed(a1)
    a1.body["tags"] = {"pool": "b"}
    peaks.added(a1)
    peaks.added(record("rg", "a-2", tags={"pool": "a"}))
    peaks.removed(a0)
    peaks.added(record("rg", "a-3", tags={"pool": "a"}))

    assert peaks.snapshot() == {"pool": {"a": 2, "b": 1}}
    assert peaks.live["pool"] == {"a": 2, "b": 1}


def test_restored_vms_are_counted_without_a_peak_until_their_tags_are_next_written() -> None:
    peaks = TagPeaks()
    a0 = record("rg", "a-0", tags={"pool": "a"})
    peaks.restored([a0, record("rg", "a-1", tags={"pool": "a"})])
    before = peaks.snapshot()

    peaks.added(record("rg", "a-2", tags={"pool": "a"}))

    assert before == {}
    assert peaks.snapshot() == {"pool": {"a": 3}}
