"""The emulator's invariant watches, indexed by tag: a write evaluates only its own pool's watches,
and what they record is what evaluating every watch against every VM on every write records."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from vmroll.emulator.invariants import (
    GONE_STATES,
    REVISION_TAG,
    Invariants,
    WatchSpec,
    available,
)
from vmroll.emulator.vm_model import VmRecord

POOL_TAG = "vmroll.io_pool-uid"
POOLS = ("a", "b", "c")


def vm(name: str, pool: str, revision: str = "r1") -> VmRecord:
    return VmRecord(
        subscription_id="sub",
        resource_group="rg",
        name=name,
        location="westeurope",
        body={
            "tags": {POOL_TAG: pool, REVISION_TAG: revision},
            "properties": {"provisioningState": "Creating"},
        },
        vcpus=2,
        family="standardDSv3Family",
        os_type="Linux",
        exact_version="1.0.0",
        boots_unhealthy=False,
    )


def spec(pool: str, max_owned: int = 3, min_available: int = 1, replicas: int = 2) -> WatchSpec:
    return WatchSpec(
        name=f"pool-{pool}",
        selector={POOL_TAG: pool},
        max_owned=max_owned,
        min_available=min_available,
        replicas=replicas,
    )


class Straightforward:
    """The reference: every watch evaluated against every VM after every change."""

    def __init__(self, specs: list[WatchSpec]) -> None:
        self.specs = specs
        self.state: dict[str, dict[str, Any]] = {
            s.name: {"peak": 0, "min": None, "violations": [], "ongoing": {}} for s in specs
        }

    def evaluate(self, records: Iterable[VmRecord], now: float) -> None:
        snapshot = list(records)
        for watch in self.specs:
            state = self.state[watch.name]
            tags = [(r, r.body.get("tags") or {}) for r in snapshot]
            owned = [r for r, t in tags if all(t.get(k) == v for k, v in watch.selector.items())]
            up = sum(1 for r in owned if available(r))
            state["peak"] = max(state["peak"], len(owned))
            state["min"] = up if state["min"] is None else min(state["min"], up)
            by_revision: dict[str, int] = {}
            for r in owned:
                if r.provisioning_state not in GONE_STATES:
                    revision = r.body["tags"].get(REVISION_TAG, "")
                    by_revision[revision] = by_revision.get(revision, 0) + 1
            most = max(by_revision.values(), default=0)
            found = {
                "aboveMaxOwned": len(owned) if len(owned) > watch.max_owned else None,
                "belowMinAvailable": up if up < watch.min_available else None,
                "duplicate": most if watch.replicas is not None and most > watch.replicas else None,
            }
            names = sorted(f"{r.name}:{r.provisioning_state}:{r.power_state}" for r in owned)
            for kind, count in found.items():
                if count is None:
                    state["ongoing"].pop(kind, None)
                elif state["ongoing"].get(kind) != count:
                    state["ongoing"][kind] = count
                    state["violations"].append({
                        "at": now, "kind": kind, "count": count, "owned": len(owned),
                        "available": up, "vms": names,
                    })  # fmt: skip


def recorded(invariants: Invariants) -> dict[str, dict[str, Any]]:
    return {
        name: {
            "peak": w.peak_owned,
            "min": w.min_available,
            "violations": w.violations,
            "ongoing": w.ongoing,
        }
        for name, w in invariants.watches.items()
    }


CHANGES = st.lists(
    st.tuples(
        st.sampled_from(("create", "state", "power", "unhealthy", "retag", "revision", "remove")),
        st.integers(min_value=0, max_value=7),
        st.sampled_from(POOLS),
        st.sampled_from(("Creating", "Succeeded", "Updating", "Deleting", "Failed")),
        st.sampled_from(("starting", "running", "stopped", "deallocated")),
    ),
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(changes=CHANGES, restart_at=st.integers(min_value=0, max_value=60))
def test_indexed_watches_record_what_evaluating_every_watch_on_every_write_records(
    changes: list[tuple[str, int, str, str, str]], restart_at: int
) -> None:
    specs = [spec("a"), spec("b", max_owned=2, min_available=0, replicas=1), spec("c")]
    records: dict[str, VmRecord] = {}
    invariants = Invariants()
    for watch in specs:
        invariants.register(watch, records.values(), 0.0)
    reference = Straightforward(specs)
    reference.evaluate(records.values(), 0.0)

    for step, (kind, index, pool, provisioning, power) in enumerate(changes, start=1):
        if step == restart_at:  # a restarted emulator takes its saved watches and VMs back
            saved = invariants.snapshot()
            invariants = Invariants()
            invariants.restore(saved, records.values())
        name = f"vm-{index}"
        record = records.get(name)
        if kind == "create" or record is None:
            if record is not None:
                continue
            record = records[name] = vm(name, pool)
        elif kind == "state":
            record.properties["provisioningState"] = provisioning
        elif kind == "power":
            record.power_state = power
        elif kind == "unhealthy":
            record.boots_unhealthy = not record.boots_unhealthy
        elif kind == "retag":
            record.body["tags"] = {**record.body["tags"], POOL_TAG: pool}
        elif kind == "revision":
            record.body["tags"] = {**record.body["tags"], REVISION_TAG: f"r{index % 2}"}
        else:
            del records[name]
        invariants.applied(record, name in records, float(step))
        reference.evaluate(records.values(), float(step))

    assert recorded(invariants) == reference.state


def test_a_vm_of_another_pool_does_not_touch_a_watch() -> None:
    invariants = Invariants()
    invariants.register(spec("a"), [], 0.0)
    invariants.register(spec("b"), [], 0.0)
    mine = vm("a-0", "a")
    invariants.applied(mine, True, 1.0)
    before = invariants.watches["pool-a"].evaluations

    for step in range(2, 6):
        invariants.applied(vm(f"b-{step}", "b"), True, float(step))

    assert invariants.watches["pool-a"].evaluations == before
    assert invariants.watches["pool-b"].evaluations == 1 + 4
    assert list(invariants.tallies["pool-a"].members) == [mine.resource_id.lower()]


def test_a_vm_retagged_into_another_pool_leaves_its_first_pools_count() -> None:
    invariants = Invariants()
    invariants.register(spec("a", max_owned=0, min_available=0), [], 0.0)
    invariants.register(spec("b", max_owned=0, min_available=0), [], 0.0)
    moving = vm("m-0", "a")
    invariants.applied(moving, True, 1.0)
    moving.body["tags"] = {POOL_TAG: "b", REVISION_TAG: "r1"}
    invariants.applied(moving, True, 2.0)

    a, b = invariants.watches["pool-a"], invariants.watches["pool-b"]
    assert (a.ongoing, b.ongoing) == ({}, {"aboveMaxOwned": 1})
    assert [v["at"] for v in a.violations + b.violations] == [1.0, 2.0]
